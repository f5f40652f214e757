"""Quantisation of float weights to the positive integer impacts Lucene stores.

``impact = rint(weight * scale)`` by default (naver/splade's convention, scale 100);
weights that round below one unit are dropped and counted, because Anserini's
``JsonVectorCollection`` repeats a term ``impact`` times and cannot store zero.

>>> q = Quantizer(scale=100)
>>> q.name
'rint-x100'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from esplade_eval.sparse.vectors import SparseBatch

ROUNDINGS = {"rint": np.rint, "floor": np.floor, "ceil": np.ceil}


@dataclass(frozen=True)
class Quantizer:
    scale: float = 100.0
    rounding: str = "rint"

    def __post_init__(self):
        if not (self.scale > 0):
            raise ValueError(f"quantisation scale must be > 0, got {self.scale!r}")
        if self.rounding not in ROUNDINGS:
            raise ValueError(f"rounding must be one of {sorted(ROUNDINGS)}, got {self.rounding!r}")

    @property
    def name(self) -> str:
        return f"{self.rounding}-x{self.scale:g}"

    @classmethod
    def from_dict(cls, record) -> "Quantizer":
        """Inverse of :meth:`to_dict` (a manifest's ``quantization``)."""
        return cls(record["scale"], record["rounding"])

    def to_dict(self) -> dict:
        return {"scale": self.scale, "rounding": self.rounding,
                "rule": f"impact = {self.rounding}(weight * {self.scale:g}); impacts < 1 dropped"}

    def quantize_values(self, weights: np.ndarray) -> np.ndarray:
        # float64 so that the product rounds exactly as Python's round(w * scale) would
        return ROUNDINGS[self.rounding](weights.astype(np.float64) * self.scale).astype(np.int64)

    def apply(self, batch: SparseBatch) -> tuple[SparseBatch, int]:
        """Integer batch and the number of non-zero weights dropped for rounding below 1."""
        impacts = self.quantize_values(batch.data)
        keep = impacts >= 1
        dropped = int(np.count_nonzero(batch.data[~keep] > 0))
        out = batch.select(keep, impacts.astype(np.int32))
        return out, dropped
