"""Quantisation of float weights to the positive integer impacts Lucene stores.

``impact = rint(weight * scale)`` by default (naver/splade's convention, scale 100);
weights that round below one unit are dropped and counted, because Anserini's
``JsonVectorCollection`` repeats a term ``impact`` times and cannot store zero.

**The bound, :data:`MAX_IMPACT` = 2**24.** Lucene keeps a term frequency exactly (an int),
but Anserini's impact similarity scores ``freq * boost`` in ``float``, whose 24-bit
significand holds every integer only up to 2**24 = 16,777,216: an impact of 2**24 + 1
scores as 2**24 and ties with it (measured on a real index by ``tests/test_reliability.py``).
Larger values fail worse: Anserini reads a weight with Jackson's ``asInt``, so one of
2**31 or more wraps to a negative count, the term is never written, and the document is
silently empty. Impacts above the bound are therefore refused here, by the collection and
query-file checks (:func:`esplade_eval.sparse.jsonvector.parse_vector_line`), and by
``--scale`` at argument parsing.

>>> q = Quantizer(scale=100)
>>> q.name
'rint-x100'
>>> Quantizer(scale=float("inf"))
Traceback (most recent call last):
...
esplade_eval.errors.RangeError: quantisation scale must be a finite number > 0, got inf
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from esplade_eval.errors import RangeError
from esplade_eval.sparse.vectors import SparseBatch

ROUNDINGS = {"rint": np.rint, "floor": np.floor, "ceil": np.ceil}
#: the largest impact Lucene scores exactly (float significand: 24 bits); see the module docstring
MAX_IMPACT = 2 ** 24


def check_scale(scale) -> float:
    """``scale`` as a float when it is finite and > 0, else :class:`RangeError`."""
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise RangeError(f"quantisation scale must be a number, got {scale!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise RangeError(f"quantisation scale must be a finite number > 0, got {scale!r}")
    if value > MAX_IMPACT:
        raise RangeError(f"quantisation scale {value:g} exceeds {MAX_IMPACT} (the largest impact Lucene scores "
                         "exactly): even a weight of 1 would not fit")
    return value


@dataclass(frozen=True)
class Quantizer:
    scale: float = 100.0
    rounding: str = "rint"

    def __post_init__(self):
        check_scale(self.scale)
        if self.rounding not in ROUNDINGS:
            raise RangeError(f"rounding must be one of {sorted(ROUNDINGS)}, got {self.rounding!r}")

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
        """Integer impacts of ``weights``; a non-finite weight or an impact above
        :data:`MAX_IMPACT` is a :class:`RangeError` (never a wrapped or clipped value)."""
        # float64 so that the product rounds exactly as Python's round(w * scale) would
        scaled = ROUNDINGS[self.rounding](weights.astype(np.float64) * self.scale)
        if scaled.size:
            if not np.isfinite(scaled).all():
                raise RangeError(f"a weight is not finite ({weights[~np.isfinite(scaled)][0]!r}): the model output "
                                 "is broken")
            top = float(scaled.max())
            if top > MAX_IMPACT:
                raise RangeError(f"impact {top:.0f} (weight {float(weights.max()):g} x scale {self.scale:g}) exceeds "
                                 f"{MAX_IMPACT}, the largest impact Lucene scores exactly; lower --scale")
        return scaled.astype(np.int64)

    def apply(self, batch: SparseBatch) -> tuple[SparseBatch, int]:
        """Integer batch and the number of non-zero weights dropped for rounding below 1."""
        impacts = self.quantize_values(batch.data)
        keep = impacts >= 1
        dropped = int(np.count_nonzero(batch.data[~keep] > 0))
        out = batch.select(keep, impacts.astype(np.int32))
        return out, dropped


def score_bounds(queries: SparseBatch, term_max: np.ndarray) -> np.ndarray:
    """The highest score each integer query vector can reach: ``sum_t q[t] * max_d impact[d, t]``
    (``term_max``: each term's highest document impact). Above :data:`MAX_IMPACT` Lucene's
    float scores may round, and documents may tie or swap (exact in float64 up to 2**53)."""
    products = queries.data.astype(np.float64) * term_max[queries.indices]
    return np.bincount(queries.row_ids(), weights=products, minlength=len(queries))
