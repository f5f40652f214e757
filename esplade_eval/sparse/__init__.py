"""Sparse vectors without torch: pruning, quantisation, JsonVectorCollection and query-file I/O."""

from esplade_eval.sparse.prune import Pruning
from esplade_eval.sparse.quantize import Quantizer

__all__ = ["Pruning", "Quantizer"]
