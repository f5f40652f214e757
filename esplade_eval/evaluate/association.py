"""Rank association with honest p-values for few points.

Spearman's rho is Pearson's r on the ranks (average ranks for ties). Its two-sided p-value
is the share of the ``n!`` pairings of ``x`` with ``y`` whose ``|rho|`` is at least the
observed one: enumerated exactly up to :data:`EXACT_MAX` points (9! = 362,880 pairings,
well under a second), else estimated from ``resamples`` random pairings drawn with ``seed``,
``p = (hits + 1) / (resamples + 1)``. Either way p is never below the exact minimum
``2 / n!`` (only the identity and the reversal reach |rho| = 1 without ties), unlike the
t approximation, which prints 1e-24 for rho = -1 over 5 points.

>>> r = spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1])
>>> r.rho, round(r.p, 6), r.method
(-1.0, 0.016667, 'exact: all 120 pairings')
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np

from esplade_eval.errors import EspladeError

EXACT_MAX = 9
RESAMPLES = 100_000
_TOL = 1e-12  # rho computed in another summation order: count near-ties with the observed value as ties


@dataclass(frozen=True)
class Association:
    """Spearman's rho over ``n`` points, its two-sided p, how p was computed, and its floor."""

    n: int
    rho: float | None
    p: float | None
    method: str
    p_min: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def _centred_ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    r = rankdata(values)
    return r - r.mean()


def _pairings(n: int, resamples: int, seed: int):
    """Chunks of permutations of ``range(n)`` as index arrays: all, or ``resamples`` random ones."""
    if n <= EXACT_MAX:
        yield np.array(list(itertools.permutations(range(n))), dtype=np.int8)
        return
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, 10_000):
        size = min(10_000, resamples - start)
        yield np.argsort(rng.random((size, n)), axis=1)


def spearman(x, y, resamples: int = RESAMPLES, seed: int = 0) -> Association:
    """Spearman's rho of paired values and its exact (n <= 9) or permutation two-sided p.

    Pairs with a NaN are dropped; rho and p are None with fewer than 3 points or a constant side.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise EspladeError(f"x and y must be vectors of the same length, got shapes {x.shape} and {y.shape}")
    if resamples < 1:
        raise EspladeError(f"resamples must be at least 1, got {resamples}")
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    n = len(x)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Association(n, None, None, "undefined: fewer than 3 points or a constant side", None)
    rx, ry = _centred_ranks(x), _centred_ranks(y)
    norm = math.sqrt(float(rx @ rx) * float(ry @ ry))
    rho = float(rx @ ry) / norm
    hits = total = 0
    for perm in _pairings(n, resamples, seed):
        hits += int((np.abs(ry[perm] @ rx) / norm >= abs(rho) - _TOL).sum())
        total += len(perm)
    floor = 2 / math.factorial(n)
    if n <= EXACT_MAX:
        return Association(n, rho, hits / total, f"exact: all {total} pairings", floor)
    p = max((hits + 1) / (total + 1), floor)
    return Association(n, rho, p, f"permutation: {total} random pairings, seed {seed}", floor)
