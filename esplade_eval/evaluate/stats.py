"""Paired significance tests, intervals and multiple-testing correction, vectorised.

Every function takes per-query values already paired by query: ``system`` of shape
``(k, n_queries, n_measures)`` and ``baseline`` of shape ``(n_queries, n_measures)`` (one
baseline for all ``k`` systems) or ``(k, n_queries, n_measures)`` (one per system, as in an
all-pairs comparison). Results are ``(k, n_measures)`` arrays.

* ``t``: two-sided paired t-test, ``scipy.stats.ttest_rel``;
* ``wilcoxon``: two-sided Wilcoxon signed-rank test, ``scipy.stats.wilcoxon`` per vector;
* ``permutation``: the paired randomisation test (Fisher; Smucker et al., CIKM 2007): the
  sign of each query's difference is flipped at random, ``p`` = share of sign patterns
  whose mean difference is at least as far from 0 as the observed one. All ``2^n``
  patterns when ``2^n <= permutations`` (exact), else ``permutations`` random ones with
  ``p = (hits + 1) / (permutations + 1)`` (never 0);
* intervals of the mean difference: Student t (``ttest_rel``'s), or a percentile bootstrap
  over queries (the same resampled query sets for every system and measure, so the
  intervals stay paired).

A system identical to its baseline on a measure has no test: its p is NaN (never rejected).
"""

from __future__ import annotations

import contextlib
import gc
import math
import warnings
from typing import Iterator

import numpy as np

from esplade_eval.errors import EspladeError

#: statsmodels ``multipletests`` methods accepted as ``correction``
CORRECTIONS = ("holm", "bonferroni", "holm-sidak", "sidak", "fdr_bh", "fdr_by")
#: paired tests accepted as ``test``
TESTS = ("t", "wilcoxon", "permutation")
TEST_NAMES = {"t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test",
              "permutation": "paired randomisation test"}
#: intervals of the mean difference accepted as ``ci``
CI_METHODS = ("t", "bootstrap")
_CHUNK = 1024  # resamples per matrix product: bounded memory whatever the number asked


def _pair(system: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Differences ``system - baseline`` as ``(k, n, m)``."""
    system = np.asarray(system, dtype=float)
    baseline = np.asarray(baseline, dtype=float)
    return system - (baseline[None] if baseline.ndim == 2 else baseline)


def paired_stats(system: np.ndarray, baseline: np.ndarray, confidence: float = 0.95) -> dict[str, np.ndarray]:
    """Paired statistics, vectorised over systems and measures.

    Returns ``(k, n_measures)`` arrays: ``delta``, ``sd``, ``ci low``, ``ci high`` (Student t
    interval at ``confidence``), ``d`` (Cohen's d_z = mean / sd of the differences),
    ``t``, ``p-value`` (two-sided, as ``scipy.stats.ttest_rel``), ``+``, ``=``, ``-``.

    >>> s = np.array([[[0.5], [0.7], [0.9]]]); b = np.array([[0.4], [0.5], [0.6]])
    >>> round(float(paired_stats(s, b)["delta"][0, 0]), 4)
    0.2
    """
    from scipy import stats

    diff = _pair(system, baseline)
    n = diff.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        delta = diff.mean(axis=1)
        sd = diff.std(axis=1, ddof=1) if n > 1 else np.full(delta.shape, np.nan)
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n) if n > 1 else np.full(delta.shape, np.nan)
        # ttest_rel over the query axis: the same computation as one call per vector
        test = stats.ttest_rel(diff, np.zeros_like(diff), axis=1)
        d = delta / sd
    return {
        "delta": delta, "sd": sd, "ci low": delta - half, "ci high": delta + half, "d": d,
        "t": np.asarray(test.statistic, dtype=float), "p-value": np.asarray(test.pvalue, dtype=float),
        "+": (diff > 0).sum(axis=1), "=": (diff == 0).sum(axis=1), "-": (diff < 0).sum(axis=1),
    }


def wilcoxon_p(system: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Two-sided Wilcoxon signed-rank p-values, one ``scipy.stats.wilcoxon`` call per vector.

    Called per vector (not with ``axis=``) because scipy picks the exact or the normal method
    per call, and the vectorised call can pick differently; NaN when every difference is 0.
    """
    from scipy import stats

    diff = _pair(system, baseline)
    out = np.full((diff.shape[0], diff.shape[2]), np.nan)
    for k in range(diff.shape[0]):
        for m in range(diff.shape[2]):
            if np.any(diff[k, :, m] != 0):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    out[k, m] = stats.wilcoxon(diff[k, :, m]).pvalue
    return out


def _sign_patterns(n: int, permutations: int, seed: int) -> tuple[Iterator[np.ndarray], int, bool]:
    """Chunks of ±1 sign patterns ``(c, n)``: all ``2^n`` when that fits, else random ones."""
    if n < 63 and 2 ** n <= permutations:
        total = 2 ** n

        def exact():
            bits = np.arange(n, dtype=np.int64)
            for start in range(0, total, _CHUNK):
                codes = np.arange(start, min(start + _CHUNK, total), dtype=np.int64)[:, None]
                yield (((codes >> bits) & 1) * 2 - 1).astype(float)

        return exact(), total, True
    rng = np.random.default_rng(seed)

    def sampled():
        for start in range(0, permutations, _CHUNK):
            yield rng.choice(np.array([-1.0, 1.0]), size=(min(_CHUNK, permutations - start), n))

    return sampled(), permutations, False


def permutation_p(system: np.ndarray, baseline: np.ndarray, permutations: int = 10_000, seed: int = 0) -> np.ndarray:
    """Two-sided p-values of the paired randomisation (sign-flip) test of the mean difference.

    >>> s = np.array([[[1.0], [1.0], [1.0], [1.0]]]); b = np.zeros((4, 1))
    >>> permutation_p(s, b).tolist()          # exact: 2 of the 16 sign patterns are as extreme
    [[0.125]]
    """
    if permutations < 1:
        raise EspladeError(f"permutations must be at least 1, got {permutations}")
    diff = _pair(system, baseline)
    k, n, m = diff.shape
    flat = diff.transpose(1, 0, 2).reshape(n, k * m)
    observed = np.abs(flat.sum(axis=0))
    # sums in another order differ in the last bits: count ties with the observed value as ties
    threshold = observed - 1e-9 * np.maximum(observed, 1e-300) - 1e-12
    patterns, total, exact = _sign_patterns(n, permutations, seed)
    hits = np.zeros(k * m)
    for signs in patterns:
        hits += (np.abs(signs @ flat) >= threshold).sum(axis=0)
    p = hits / total if exact else (hits + 1) / (total + 1)
    p[~np.any(flat != 0, axis=0)] = np.nan  # identical: no test
    return p.reshape(k, m)


def bootstrap_ci(system: np.ndarray, baseline: np.ndarray, confidence: float = 0.95, resamples: int = 10_000,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the mean difference, ``(low, high)`` of shape ``(k, m)``.

    Queries are resampled with replacement (multinomial counts, one matrix product per chunk
    of resamples); every system and measure sees the same resampled query sets.

    >>> s = np.array([[[0.5], [0.7], [0.9], [0.6]]]); b = np.full((4, 1), 0.5)
    >>> low, high = bootstrap_ci(s, b, resamples=2000)
    >>> bool(0.0 <= low[0, 0] < 0.175 < high[0, 0] <= 0.4)
    True
    """
    if resamples < 2:
        raise EspladeError(f"resamples must be at least 2, got {resamples}")
    diff = _pair(system, baseline)
    k, n, m = diff.shape
    flat = diff.transpose(1, 0, 2).reshape(n, k * m)
    rng = np.random.default_rng(seed)
    means = []
    for start in range(0, resamples, _CHUNK):
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=min(_CHUNK, resamples - start))
        means.append(counts @ flat / n)
    means = np.concatenate(means)
    alpha = 1 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2], axis=0)
    return low.reshape(k, m), high.reshape(k, m)


def test_pvalues(test: str, system: np.ndarray, baseline: np.ndarray, permutations: int = 10_000,
                 seed: int = 0) -> np.ndarray:
    """p-values of one of :data:`TESTS`, ``(k, n_measures)``."""
    if test == "t":
        return paired_stats(system, baseline)["p-value"]
    if test == "wilcoxon":
        return wilcoxon_p(system, baseline)
    if test == "permutation":
        return permutation_p(system, baseline, permutations, seed)
    raise EspladeError(f"unknown test {test!r}; choose one of {TESTS}")


test_pvalues.__test__ = False  # not a pytest test, whatever its name


@contextlib.contextmanager
def _gc_frozen() -> Iterator[None]:
    """Keep the objects alive now out of garbage collection for the duration.

    statsmodels' Holm branch calls ``gc.collect()``, whose cost grows with every live
    object: with ten 1,000-query x 1,000-hit runs in memory that is ~10 million objects and
    most of a second per call. ``gc.freeze`` (CPython >= 3.7) hides them from that
    collection; nothing is lost, they are handed back to the collector right after.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def correct(pvalues: np.ndarray, method: str = "holm", alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Multiple-testing correction of one family of p-values (statsmodels ``multipletests``).

    NaN p-values (e.g. identical systems) are left out of the family and stay NaN, not
    rejected.

    >>> p, r = correct(np.array([0.01, 0.04, np.nan]), "holm")
    >>> p.round(2).tolist(), r.tolist()
    ([0.02, 0.04, nan], [True, True, False])
    """
    from statsmodels.stats.multitest import multipletests

    if method not in CORRECTIONS:
        raise EspladeError(f"unknown correction {method!r}; choose one of {CORRECTIONS}")
    pvalues = np.asarray(pvalues, dtype=float)
    corrected = np.full(pvalues.shape, np.nan)
    reject = np.zeros(pvalues.shape, dtype=bool)
    ok = np.isfinite(pvalues)
    if ok.any():
        with _gc_frozen():
            rej, pc, _, _ = multipletests(pvalues[ok], alpha=alpha, method=method)
        corrected[ok], reject[ok] = pc, rej
    return corrected, reject


def decide(pvalues: np.ndarray, correction: str | None, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """``(p corrected, reject)`` for one family; without a correction, raw p < alpha."""
    if correction is not None:
        return correct(pvalues, correction, alpha)
    pvalues = np.asarray(pvalues, dtype=float)
    return pvalues, np.nan_to_num(pvalues, nan=1.0) < alpha


def check_settings(test: str, ci: str, alpha: float, confidence: float | None) -> float:
    """Validate the options shared by both comparison modes; returns the confidence level."""
    if test not in TESTS:
        raise EspladeError(f"unknown test {test!r}; choose one of {TESTS}")
    if ci not in CI_METHODS:
        raise EspladeError(f"unknown interval {ci!r}; choose one of {CI_METHODS}")
    if not 0 < alpha < 1:
        raise EspladeError(f"alpha must be in (0, 1), got {alpha}")
    confidence = 1 - alpha if confidence is None else confidence
    if not 0 < confidence < 1 or math.isnan(confidence):
        raise EspladeError(f"confidence must be in (0, 1), got {confidence}")
    return confidence
