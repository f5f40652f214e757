"""Paired comparisons over queries x seeds whose standard error counts seed variance.

Scores averaged over seeds and then tested over queries leave seed-to-seed variance out of
the standard error. Here each (query, seed) difference ``d[q, s] = a[q, s] - b[q, s]`` (a
system with one run is broadcast over the other's seeds) follows the crossed random-effects
model ``d = mu + Q_q + S_s + e_qs`` with ``Var Q = sq``, ``Var S = ss``, ``Var e = se``.
With ``n`` queries and ``m`` seeds (balanced), the two-way ANOVA mean squares are

* ``MS_Q = m * sum_q (d_q. - d..)^2 / (n - 1)``, expectation ``se + m sq``;
* ``MS_S = n * sum_s (d_.s - d..)^2 / (m - 1)``, expectation ``se + n ss``;
* ``MS_E = sum (d - d_q. - d_.s + d..)^2 / ((n - 1)(m - 1))``, expectation ``se``;

so ``Var(d..) = sq/n + ss/m + se/(nm)`` is estimated by ``(MS_Q + MS_S - MS_E) / (nm)``
with Satterthwaite degrees of freedom ``(MS_Q + MS_S - MS_E)^2 / (MS_Q^2/(n-1) +
MS_S^2/(m-1) + MS_E^2/((n-1)(m-1)))``. A variance component estimated below zero is set to
zero and the others are refit, as REML does (statsmodels ``MixedLM``): the stratum whose
mean square falls below ``MS_E`` pools with it (df-weighted; see :func:`_strata`). With no
seed component the estimate is ``MS_Q / (nm)`` on ``n - 1`` df, exactly the query-only
paired t-test on seed-averaged scores; with no query component, ``MS_S / (nm)`` on ``m - 1``
df; with neither, the pooled variance of all ``nm`` cells over ``nm`` on ``nm - 1`` df.

That design pairs seed ``i`` of one system with seed ``i`` of the other: right when the
seed fixes shared randomness (data order, initialisation), and valid (unbiased) whenever the
pairing is fixed before the scores are seen. When seeds share nothing across systems,
:func:`independent_test` estimates each system's seed variance from its own runs instead
(``compare_seeds(a, b, seeds="independent")``); the two can differ much with 3 seeds.

Every result carries the query-only paired t-test (seed-averaged scores,
:func:`esplade_eval.evaluate.stats.paired_stats`) beside it; with one seed the seed-aware
test *is* that test and says so.

>>> rng = np.random.default_rng(0)
>>> b = rng.normal(0.5, 0.1, (40, 1))                       # one run, 40 queries
>>> a = b + 0.05 + rng.normal(0, 0.02, (1, 3)) + rng.normal(0, 0.05, (40, 3))   # 3 seeds
>>> r = compare_seeds(a, b)
>>> r.method == VC_METHOD, r.query_only.se < r.se, r.df < r.query_only.df
(True, True, True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Mapping

import numpy as np

from esplade_eval.errors import EspladeError

VC_METHOD = "variance components (query + seed), Satterthwaite df"
INDEPENDENT_METHOD = "variance components (query + each system's own seeds), Satterthwaite df"
SEED_DESIGNS = ("paired", "independent")
QUERY_METHOD = "paired t-test over queries on seed-averaged scores"
LEVELS = (0.90, 0.95)


@dataclass(frozen=True)
class TTest:
    """One two-sided t-test of a mean difference: Δ, its SE, df, t, p and the 90%/95% CIs."""

    delta: float
    se: float
    df: float
    t: float
    p: float
    ci90: tuple[float, float]
    ci95: tuple[float, float]
    method: str

    def ci(self, confidence: float) -> tuple[float, float]:
        """The Student t interval of Δ at ``confidence``."""
        return _interval(self.delta, self.se, self.df, confidence)


@dataclass(frozen=True)
class SeedTest(TTest):
    """The seed-aware test, the query-only test beside it, and what they were computed from.

    ``components`` holds the variance components (``query``, ``seed``, ``residual``, after
    truncation at zero) and the mean squares; ``p_holm`` and ``reject`` are set by
    :func:`holm`.
    """

    queries: int = 0
    seeds: int = 0
    query_only: TTest | None = None
    components: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    p_holm: float | None = None
    reject: bool | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["query_only"] = None if self.query_only is None else asdict(self.query_only)
        return out


def _interval(delta: float, se: float, df: float, confidence: float) -> tuple[float, float]:
    from scipy import stats

    if not math.isfinite(se) or not df > 0:
        return (math.nan, math.nan)
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return (delta - half, delta + half)


def t_test(delta: float, se: float, df: float, method: str) -> TTest:
    """The two-sided t-test of ``delta`` with standard error ``se`` on ``df`` degrees of freedom.

    Zero variance: Δ = 0 has no test (t and p NaN, as for identical systems elsewhere); a
    nonzero Δ gives t = ±inf and p = 0 (scipy's convention), with a zero-width interval.

    >>> t_test(0.1, 0.05, 10, "x").t
    2.0
    """
    from scipy import stats

    if se == 0:
        t = math.nan if delta == 0 else math.copysign(math.inf, delta)
        p = math.nan if delta == 0 else 0.0
        return TTest(delta, 0.0, df, t, p, (delta, delta), (delta, delta), method)
    t = delta / se
    p = float(2 * stats.t.sf(abs(t), df))
    cis = [_interval(delta, se, df, c) for c in LEVELS]
    return TTest(delta, se, df, t, p, cis[0], cis[1], method)


def differences(a, b) -> np.ndarray:
    """``a - b`` as ``(queries, seeds)``; a side with one run (a vector, or one column) is
    broadcast over the other's seeds, otherwise both must have the same shape."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = (x[:, None] if x.ndim == 1 else x for x in (a, b))
    if a.ndim != 2 or b.ndim != 2:
        raise EspladeError(f"scores must be (queries, seeds) arrays, got shapes {a.shape} and {b.shape}")
    if a.shape[0] != b.shape[0]:
        raise EspladeError(f"the two systems are scored on {a.shape[0]} and {b.shape[0]} queries: "
                           "pair them on the same queries first")
    if a.shape[1] != b.shape[1] and 1 not in (a.shape[1], b.shape[1]):
        raise EspladeError(f"{a.shape[1]} seeds against {b.shape[1]}: the seed-aware test needs the same seeds "
                           "on both sides (or one run on one side)")
    return a - b


def query_only(diff: np.ndarray) -> TTest:
    """The paired t-test over queries on seed-averaged differences (``paired_stats``)."""
    from esplade_eval.evaluate.stats import paired_stats

    diff = np.asarray(diff, dtype=float)
    d, n = diff.mean(axis=1), diff.shape[0]
    if np.ptp(diff) == 0:  # every difference equal: no variance (the mean squares would be rounding noise)
        return t_test(float(diff.flat[0]), 0.0, n - 1, QUERY_METHOD)
    row = paired_stats(d[None, :, None], np.zeros((n, 1)))
    sd = float(row["sd"][0, 0])
    return t_test(float(d.mean()), sd / math.sqrt(n) if n > 1 else math.nan, n - 1, QUERY_METHOD)


def mean_squares(diff: np.ndarray) -> dict:
    """``MS_Q``, ``MS_S``, ``MS_E`` of a ``(queries, seeds)`` array (two-way ANOVA, one value per cell)."""
    n, m = diff.shape
    grand, rows, cols = diff.mean(), diff.mean(axis=1), diff.mean(axis=0)
    resid = diff - rows[:, None] - cols[None, :] + grand
    return {"ms_query": float(m * ((rows - grand) ** 2).sum() / (n - 1)),
            "ms_seed": float(n * ((cols - grand) ** 2).sum() / (m - 1)),
            "ms_residual": float((resid ** 2).sum() / ((n - 1) * (m - 1)))}


def _strata(ms: dict, n: int, m: int) -> list[tuple[set, float, int]]:
    """REML fit of the strata's expected mean squares under ``E[MS_Q], E[MS_S] >= E[MS_E]``:
    ``[(members, value, df)]``. A stratum whose mean square lies below the residual's pools
    with it (df-weighted), smallest first, until none does: the isotonic fit that maximises
    the REML likelihood of a balanced crossed design."""
    dfs = {"ms_query": n - 1, "ms_seed": m - 1, "ms_residual": (n - 1) * (m - 1)}
    pool, weight = {"ms_residual"}, dfs["ms_residual"]
    value = ms["ms_residual"]
    for key in sorted(("ms_query", "ms_seed"), key=ms.get):
        if ms[key] < value:
            value = (value * weight + ms[key] * dfs[key]) / (weight + dfs[key])
            pool, weight = pool | {key}, weight + dfs[key]
    return [(pool, value, weight)] + [({k}, ms[k], dfs[k]) for k in ("ms_query", "ms_seed") if k not in pool]


def _variance_of_mean(ms: dict, n: int, m: int) -> tuple[float, float, dict]:
    """``(Var(d..), Satterthwaite df, components)``: ``Var = (l_Q + l_S - l_E) / (nm)`` from the
    fitted strata values ``l``, df from the strata that enter it with a nonzero coefficient."""
    coef = {"ms_query": 1.0, "ms_seed": 1.0, "ms_residual": -1.0}
    strata = _strata(ms, n, m)
    fitted = {k: value for members, value, _ in strata for k in members}
    terms = [(sum(coef[k] for k in members) * value, df) for members, value, df in strata]
    total = sum(c for c, _ in terms)
    denominator = sum(c ** 2 / df for c, df in terms if c)
    df = total ** 2 / denominator if denominator > 0 else float(sum(df for c, df in terms if c) or n * m - 1)
    comps = {"query": (fitted["ms_query"] - fitted["ms_residual"]) / m,
             "seed": (fitted["ms_seed"] - fitted["ms_residual"]) / n, "residual": fitted["ms_residual"]}
    return total / (n * m), df, {**comps, **ms}


def seed_test(diff) -> SeedTest:
    """The seed-aware two-sided t-test of the mean of ``diff`` (``(queries, seeds)``).

    With one seed it falls back to the query-only test (and says so in ``notes``).
    """
    diff = np.asarray(diff, dtype=float)
    if diff.ndim == 1:
        diff = diff[:, None]
    n, m = diff.shape
    if n < 2:
        raise EspladeError(f"a paired test needs at least 2 queries, got {n}")
    if not np.isfinite(diff).all():
        raise EspladeError("scores hold NaN or infinite values: every (query, seed) needs a score")
    base = query_only(diff)
    if m == 1:
        note = "one seed: no seed variance to estimate, so this is the query-only paired t-test"
        return SeedTest(**asdict(base), queries=n, seeds=1, query_only=base, notes=(note,))
    spread = np.ptp(diff) > 0  # equal differences: exact zeros, not rounding noise
    ms = mean_squares(diff) if spread else dict.fromkeys(("ms_query", "ms_seed", "ms_residual"), 0.0)
    var, df, comps = _variance_of_mean(ms, n, m)
    notes: tuple[str, ...] = ()
    if comps["seed"] == 0 and comps["query"] > 0:  # algebraically the query-only test: take its numbers
        test = replace(base, method=VC_METHOD)
        notes = ("seed variance estimated at zero: the seed-aware test equals the query-only test",)
    else:
        test = t_test(float(diff.mean() if spread else diff.flat[0]), math.sqrt(var), df, VC_METHOD)
    if var == 0:
        notes = ("zero variance: every (query, seed) difference is the same",)
    return SeedTest(**asdict(test), queries=n, seeds=m, query_only=base, components=comps, notes=notes)


def _matrices(scores: Mapping[str, object], weights: Mapping[str, float]) -> dict[str, np.ndarray]:
    out = {}
    for name in weights:
        x = np.asarray(scores[name], dtype=float)
        out[name] = x[:, None] if x.ndim == 1 else x
        if out[name].ndim != 2 or not np.isfinite(out[name]).all():
            raise EspladeError(f"{name}: scores must be a finite (queries, seeds) array")
    if len({x.shape[0] for x in out.values()}) > 1:
        listed = ", ".join(f"{k} {x.shape[0]}" for k, x in out.items())
        raise EspladeError(f"the systems are scored on different numbers of queries ({listed}): pair them first")
    return out


def independent_test(scores: Mapping[str, object], weights: Mapping[str, float]) -> SeedTest:
    """Seed-aware test of ``sum_k w_k * mean(scores[k])`` when each system's seeds are its own.

    Seed ``i`` of one system shares nothing with seed ``i`` of another (say, different
    corpora), so seed effects are estimated per system, from its own two-way ANOVA:
    ``Var = s_D^2 / n + sum_k w_k^2 (MS_S,k - MS_E,k) / (n m_k)``, where ``s_D^2`` is the
    variance over queries of the seed-averaged combination (the query-only test's) and a
    system's seed term is dropped when its ``MS_S,k <= MS_E,k`` (no seed variance) or it has
    one run. Systems may have different numbers of seeds. Satterthwaite df over the mean
    squares that enter.
    """
    mats = _matrices(scores, weights)
    n = next(iter(mats.values())).shape[0]
    if n < 2:
        raise EspladeError(f"a paired test needs at least 2 queries, got {n}")
    combined = sum(w * mats[k].mean(axis=1) for k, w in weights.items())
    base = query_only(combined[:, None])
    parts, comps = [(base.se ** 2, n - 1)], {"query_only_variance": base.se ** 2}
    for k, w in weights.items():
        m = mats[k].shape[1]
        if m < 2 or w == 0 or np.ptp(mats[k]) == 0:
            continue
        ms = mean_squares(mats[k])
        comps[f"seed {k}"] = max(0.0, (ms["ms_seed"] - ms["ms_residual"]) / n)
        if comps[f"seed {k}"] > 0:
            parts += [(w * w * ms["ms_seed"] / (n * m), m - 1), (-w * w * ms["ms_residual"] / (n * m), (n - 1) * (m - 1))]
    if len(parts) == 1 or not np.isfinite(base.se):
        note = "no seed variance estimated above zero: the seed-aware test equals the query-only test"
        return SeedTest(**asdict(replace(base, method=INDEPENDENT_METHOD)), queries=n, seeds=_seeds(mats),
                        query_only=base, components=comps, notes=(note,))
    var = sum(v for v, _ in parts)
    df = var ** 2 / sum(v * v / d for v, d in parts)
    test = t_test(base.delta, math.sqrt(var), df, INDEPENDENT_METHOD)
    return SeedTest(**asdict(test), queries=n, seeds=_seeds(mats), query_only=base, components=comps)


def _seeds(mats: dict[str, np.ndarray]) -> int:
    return max(x.shape[1] for x in mats.values())


def compare_seeds(a, b, seeds: str = "paired") -> SeedTest:
    """System ``a`` vs ``b``: scores ``(queries, seeds)`` paired by query, and by seed index
    when ``seeds`` is ``"paired"`` (:func:`seed_test` of the differences); with
    ``"independent"``, each system's seed variance is its own (:func:`independent_test`).

    >>> a = [[0.6, 0.7], [0.5, 0.4], [0.9, 0.8]]; b = [0.5, 0.5, 0.7]   # b: one run
    >>> round(compare_seeds(a, b).delta, 4), compare_seeds(a, b).seeds
    (0.0833, 2)
    """
    if seeds not in SEED_DESIGNS:
        raise EspladeError(f"unknown seed design {seeds!r}; choose one of {SEED_DESIGNS}")
    if seeds == "independent":
        return independent_test({"a": a, "b": b}, {"a": 1.0, "b": -1.0})
    return seed_test(differences(a, b))


def holm(tests: list[SeedTest], alpha: float = 0.05) -> list[SeedTest]:
    """The family's tests with ``p_holm`` and ``reject`` set (Holm on the seed-aware p-values,
    :func:`esplade_eval.evaluate.stats.correct`); a NaN p is left out and never rejected."""
    from esplade_eval.evaluate.stats import correct

    if not tests:
        return []
    corrected, reject = correct(np.array([t.p for t in tests], dtype=float), "holm", alpha)
    return [replace(t, p_holm=None if math.isnan(pc) else float(pc), reject=bool(r))
            for t, pc, r in zip(tests, corrected, reject)]
