"""Seed-aware statistics on generated data whose truth is known, checked against statsmodels and scipy."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from esplade_eval.errors import EspladeError
from esplade_eval.evaluate.association import spearman
from esplade_eval.evaluate.contrasts import Factor, factorial_contrasts
from esplade_eval.evaluate.seeds import (
    INDEPENDENT_METHOD,
    QUERY_METHOD,
    VC_METHOD,
    TTest,
    compare_seeds,
    holm,
    mean_squares,
    seed_test,
)
from esplade_eval.evaluate.verdicts import CONTRADICTED, INCONCLUSIVE, SUPPORTED, equivalence


def simulate(rng, delta=0.0, n=50, m=3, query_sd=0.1, seed_sd=0.03, noise_sd=0.05):
    """Per-(query, seed) differences: delta + query effect + seed effect + noise."""
    return (delta + rng.normal(0, query_sd, (n, 1)) + rng.normal(0, seed_sd, (1, m))
            + rng.normal(0, noise_sd, (n, m)))


def long_frame(d):
    import pandas as pd

    n, m = d.shape
    return pd.DataFrame({"y": d.ravel(), "q": np.repeat(np.arange(n), m), "s": np.tile(np.arange(m), n), "g": 1})


# --- the variance-components t against statsmodels -------------------------------------------

def test_mean_squares_equal_statsmodels_two_way_anova():
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    d = simulate(np.random.default_rng(1), n=20, m=4)
    table = anova_lm(smf.ols("y ~ C(q) + C(s)", long_frame(d)).fit())
    ms = mean_squares(d)
    assert ms["ms_query"] == pytest.approx(table.loc["C(q)", "mean_sq"], rel=1e-10)
    assert ms["ms_seed"] == pytest.approx(table.loc["C(s)", "mean_sq"], rel=1e-10)
    assert ms["ms_residual"] == pytest.approx(table.loc["Residual", "mean_sq"], rel=1e-10)


def test_standard_error_and_components_equal_a_crossed_mixed_model():
    """REML MixedLM with crossed random effects for query and seed gives the same SE of Δ."""
    import statsmodels.formula.api as smf

    d = simulate(np.random.default_rng(1), delta=0.03, n=60, m=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm("y ~ 1", long_frame(d), groups="g", re_formula="0",
                          vc_formula={"q": "0 + C(q)", "s": "0 + C(s)"}).fit(reml=True)
    r = seed_test(d)
    assert r.method == VC_METHOD and r.seeds == 4 and r.queries == 60
    assert r.delta == pytest.approx(float(fit.fe_params.iloc[0]), abs=1e-12)
    assert r.se == pytest.approx(float(fit.bse_fe.iloc[0]), rel=1e-4)
    assert [r.components["query"], r.components["seed"]] == pytest.approx(list(fit.vcomp), rel=1e-3)
    assert r.components["residual"] == pytest.approx(fit.scale, rel=1e-4)
    # Satterthwaite df of MS_Q + MS_S - MS_E, written out independently
    q, s, e = r.components["ms_query"], r.components["ms_seed"], r.components["ms_residual"]
    df = (q + s - e) ** 2 / (q ** 2 / 59 + s ** 2 / 3 + e ** 2 / (59 * 3))
    assert r.df == pytest.approx(df, rel=1e-12)
    assert r.t == pytest.approx(r.delta / r.se) and r.p == pytest.approx(2 * _t_sf(abs(r.t), df), rel=1e-9)
    assert r.ci95[0] < r.ci90[0] < r.delta < r.ci90[1] < r.ci95[1]


def _t_sf(t, df):
    from scipy import stats

    return float(stats.t.sf(t, df))


def test_the_query_only_test_beside_it_is_scipys_paired_t_on_seed_means():
    from scipy import stats

    rng = np.random.default_rng(2)
    a, b = rng.random((30, 3)), rng.random((30, 3))
    r = compare_seeds(a, b)
    ref = stats.ttest_rel(a.mean(axis=1), b.mean(axis=1))
    assert r.query_only.method == QUERY_METHOD and r.query_only.df == 29
    assert r.query_only.t == pytest.approx(ref.statistic) and r.query_only.p == pytest.approx(ref.pvalue)
    assert r.query_only.ci95 == pytest.approx(tuple(ref.confidence_interval(0.95)))
    assert r.query_only.ci90 == pytest.approx(tuple(ref.confidence_interval(0.90)))


def test_no_seed_variance_gives_exactly_the_query_only_test():
    rng = np.random.default_rng(3)
    d = rng.normal(0, 0.1, (40, 1)) + rng.normal(0, 0.05, (40, 3))
    d -= d.mean(axis=0, keepdims=True) - d.mean()  # seed means all equal: MS_S = 0 < MS_E
    r = seed_test(d)
    assert r.components["seed"] == 0 and r.components["query"] > 0
    assert (r.se, r.df, r.p, r.ci95) == (r.query_only.se, r.query_only.df, r.query_only.p, r.query_only.ci95)
    assert "equals the query-only test" in r.notes[0]


def test_neither_component_pools_every_cell():
    rng = np.random.default_rng(4)
    d = rng.normal(0.01, 0.05, (5, 3))
    d -= d.mean(axis=0, keepdims=True) - d.mean()  # MS_S = 0
    d -= d.mean(axis=1, keepdims=True) - d.mean()  # MS_Q = 0
    r = seed_test(d)
    assert r.components["query"] == r.components["seed"] == 0
    assert r.df == 14 and r.se == pytest.approx(d.std(ddof=1) / math.sqrt(15))


# --- behaviour on simulated studies ------------------------------------------------------------

def test_seed_aware_intervals_cover_the_truth_where_query_only_ones_do_not():
    """300 simulated studies (50 queries, 3 seeds, seed sd 0.03): nominal coverage and size."""
    rng = np.random.default_rng(7)
    runs = [seed_test(simulate(rng, delta=0.02)) for _ in range(300)]
    covered = np.mean([r.ci95[0] <= 0.02 <= r.ci95[1] for r in runs])
    covered_q = np.mean([r.query_only.ci95[0] <= 0.02 <= r.query_only.ci95[1] for r in runs])
    assert 0.91 <= covered <= 0.99
    assert covered_q < 0.88  # the query-only interval leaves seed variance out
    nulls = [seed_test(simulate(rng)) for _ in range(300)]
    assert np.mean([r.p < 0.05 for r in nulls]) <= 0.09
    assert np.mean([r.query_only.p < 0.05 for r in nulls]) > 0.12


def test_a_large_effect_is_found_with_its_sign():
    rng = np.random.default_rng(8)
    for sign in (1, -1):
        r = seed_test(simulate(rng, delta=sign * 0.15))
        assert r.p < 0.05 and np.sign(r.t) == sign and r.ci95[0] < sign * 0.15 < r.ci95[1]


# --- edge cases -------------------------------------------------------------------------------------

def test_one_seed_falls_back_to_the_query_only_test_and_says_so():
    rng = np.random.default_rng(5)
    a, b = rng.random(20), rng.random(20)
    r = compare_seeds(a, b)
    assert r.seeds == 1 and r.method == QUERY_METHOD and "one seed" in r.notes[0]
    assert (r.t, r.p, r.df) == (r.query_only.t, r.query_only.p, r.query_only.df)


def test_a_single_run_baseline_is_broadcast_over_the_seeds():
    rng = np.random.default_rng(6)
    a, b = rng.random((25, 3)), rng.random(25)
    assert compare_seeds(a, b).delta == pytest.approx((a - b[:, None]).mean())
    assert compare_seeds(a, b).seeds == 3


def test_zero_variance():
    same = seed_test(np.zeros((10, 3)))
    assert same.delta == 0 and math.isnan(same.p) and math.isnan(same.t)
    shifted = seed_test(np.full((10, 3), 0.02))
    assert shifted.p == 0.0 and shifted.t == math.inf and shifted.ci95 == (0.02, 0.02)
    assert "zero variance" in shifted.notes[0]


@pytest.mark.parametrize("a, b, message", [
    (np.zeros((5, 3)), np.zeros((6, 3)), "5 and 6 queries"),
    (np.zeros((5, 3)), np.zeros((5, 2)), "3 seeds against 2"),
    (np.zeros((1, 3)), np.zeros((1, 3)), "at least 2 queries"),
    (np.array([[0.1, np.nan], [0.2, 0.3]]), np.zeros((2, 2)), "NaN"),
])
def test_bad_shapes_and_values_are_refused(a, b, message):
    with pytest.raises(EspladeError, match=message):
        compare_seeds(a, b)


def test_holm_over_seed_aware_p_values_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(9)
    tests = [seed_test(simulate(rng, delta=x)) for x in (0.0, 0.02, 0.1)] + [seed_test(np.zeros((5, 2)))]
    out = holm(tests, alpha=0.05)
    reject, corrected, _, _ = multipletests([t.p for t in tests[:3]], alpha=0.05, method="holm")
    assert [t.p_holm for t in out[:3]] == pytest.approx(list(corrected))
    assert [t.reject for t in out[:3]] == list(reject)
    assert out[3].p_holm is None and out[3].reject is False


# --- factorial contrasts (F1) ----------------------------------------------------------------------

def two_by_two(rng, corpus=0.04, lr=-0.02, interaction=0.0, n=60, m=3):
    """Arms g/t x lo/hi with known effects, per-(query, seed) scores sharing query and seed effects."""
    base = 0.5 + rng.normal(0, 0.1, (n, 1))
    arms, levels = {}, {}
    for c in ("titles", "general"):
        for lr_level in (1e-4, 1e-3):
            sc, sl = (1 if c == "general" else -1), (1 if lr_level == 1e-3 else -1)
            effect = corpus * sc / 2 + lr * sl / 2 + interaction * sc * sl / 4
            name = f"{c}-{lr_level:g}"
            arms[name] = base + effect + rng.normal(0, 0.01, (1, m)) + rng.normal(0, 0.02, (n, m))
            levels[name] = {"corpus": c, "lr": lr_level}
    return arms, levels


FACTORS = (Factor("corpus", "titles", "general"), Factor("lr", 1e-4, 1e-3))


def test_factorial_contrasts_recover_known_main_effects_and_interaction():
    rng = np.random.default_rng(10)
    arms, levels = two_by_two(rng, corpus=0.05, lr=-0.03, interaction=0.0)
    out = factorial_contrasts(arms, levels, FACTORS)
    corpus, lr, inter = out
    assert corpus.name == "corpus: general - titles" and lr.name == "lr: 0.001 - 0.0001"
    mean = {k: v.mean() for k, v in arms.items()}
    # the contrast is exact arithmetic on the arms' means
    assert corpus.test.delta == pytest.approx((mean["general-0.0001"] + mean["general-0.001"]
                                               - mean["titles-0.0001"] - mean["titles-0.001"]) / 2)
    assert inter.test.delta == pytest.approx((mean["general-0.001"] - mean["titles-0.001"])
                                             - (mean["general-0.0001"] - mean["titles-0.0001"]))
    assert corpus.test.ci95[0] < 0.05 < corpus.test.ci95[1] and corpus.test.reject and corpus.test.delta > 0
    assert lr.test.ci95[0] < -0.03 < lr.test.ci95[1] and lr.test.reject and lr.test.delta < 0
    assert not inter.test.reject
    assert all(c.test.p_holm >= c.test.p for c in out)


def test_a_known_interaction_is_found_and_an_extra_comparison_joins_the_family():
    rng = np.random.default_rng(11)
    arms, levels = two_by_two(rng, corpus=0.0, lr=0.0, interaction=0.08)
    focal = compare_seeds(arms["general-0.001"], arms["titles-0.001"])
    out = factorial_contrasts(arms, levels, FACTORS, extra={"focal": focal})
    assert [c.name for c in out][-1] == "focal" and out[-1].weights == {}
    inter = out[2]
    assert inter.test.reject and inter.test.ci95[0] < 0.08 < inter.test.ci95[1]
    assert out[-1].test.p_holm == pytest.approx(min(1.0, out[-1].test.p * _holm_factor(out, -1)))


def _holm_factor(out, i):
    order = sorted(range(len(out)), key=lambda k: out[k].test.p)
    return len(out) - order.index(i % len(out))


def test_a_design_with_an_empty_or_crowded_cell_is_refused():
    rng = np.random.default_rng(12)
    arms, levels = two_by_two(rng)
    with pytest.raises(EspladeError, match="no arm at corpus='titles', lr=0.0001"):
        factorial_contrasts(arms, {k: v for k, v in levels.items() if k != "titles-0.0001"}, FACTORS)
    crowded = {**levels, "general-0.001-r3": {"corpus": "general", "lr": 1e-3}}
    with pytest.raises(EspladeError, match="general-0.001, general-0.001-r3 all sit at"):
        factorial_contrasts({**arms, "general-0.001-r3": arms["general-0.001"]}, crowded, FACTORS)


# --- the equivalence rule (F3) ------------------------------------------------------------------

def _test(delta, half90, half95):
    return TTest(delta, 0.01, 100, 0, 0.5, (delta - half90, delta + half90), (delta - half95, delta + half95), "t")


@pytest.mark.parametrize("delta, half90, half95, verdict", [
    (0.0, 0.015, 0.018, SUPPORTED),          # 90% CI inside ±0.02
    (-0.005, 0.014, 0.03, SUPPORTED),        # 95% CI may straddle the margin
    (-0.05, 0.01, 0.02, CONTRADICTED),       # 95% CI entirely below -0.02
    (0.06, 0.02, 0.03, CONTRADICTED),        # ... or above +0.02
    (-0.04, 0.01, 0.025, INCONCLUSIVE),      # 95% CI reaches inside the margin: not shown outside
    (-0.02, 0.005, 0.006, INCONCLUSIVE),     # on the margin
    (0.0, 0.03, 0.04, INCONCLUSIVE),         # too wide to say
    (0.0, math.nan, math.nan, INCONCLUSIVE),
])
def test_the_equivalence_rule_gives_each_of_its_three_outcomes(delta, half90, half95, verdict):
    v = equivalence(_test(delta, half90, half95), 0.02)
    assert v.verdict == verdict
    assert "90% confidence interval" in v.rule and "±0.02" in v.rule and v.rule in str(v)


def test_the_equivalence_rule_on_simulated_studies():
    rng = np.random.default_rng(13)
    assert equivalence(seed_test(simulate(rng, 0.0, n=200, query_sd=0.02, seed_sd=0.002, noise_sd=0.01)),
                       0.02).verdict == SUPPORTED
    assert equivalence(seed_test(simulate(rng, -0.1, n=200, seed_sd=0.005)), 0.02).verdict == CONTRADICTED
    assert equivalence(seed_test(simulate(rng, -0.02, n=30, seed_sd=0.03)), 0.02).verdict == INCONCLUSIVE
    with pytest.raises(EspladeError, match="margin must be positive"):
        equivalence(_test(0, 0.01, 0.02), 0)


# --- Spearman with exact p (F2) ---------------------------------------------------------------------

@pytest.mark.parametrize("y, rho", [([1, 2, 3, 4, 5], 1.0), ([5, 4, 3, 2, 1], -1.0)])
def test_a_perfect_rank_correlation_over_five_points_has_p_two_in_120(y, rho):
    r = spearman([0.1, 0.2, 0.3, 0.4, 0.5], y)
    assert r.rho == pytest.approx(rho) and r.p == pytest.approx(2 / 120, rel=1e-12) and r.p_min == 2 / 120
    assert r.method == "exact: all 120 pairings"


def test_exact_p_equals_scipys_exact_permutation_test():
    from scipy import stats

    rng = np.random.default_rng(14)
    x, y = rng.random(6), rng.random(6)
    r = spearman(x, y)
    # one sample with "pairings": scipy reorders y against the fixed x, all 6! ways
    ref = stats.permutation_test((y,), lambda b: stats.spearmanr(x, b).statistic,
                                 permutation_type="pairings", n_resamples=np.inf)
    assert r.rho == pytest.approx(stats.spearmanr(x, y).statistic)
    assert r.p == pytest.approx(ref.pvalue, rel=1e-9)


def test_more_points_use_seeded_permutations_never_below_the_exact_minimum():
    x = np.arange(12.0)
    r = spearman(x, x ** 2, resamples=2000, seed=3)
    assert r.rho == pytest.approx(1.0) and "2000 random pairings, seed 3" in r.method
    assert 2 / math.factorial(12) <= r.p <= 2 / 2001
    assert spearman(x, x ** 2, resamples=2000, seed=3) == r
    noisy = spearman(x, np.random.default_rng(0).random(12), resamples=2000)
    assert 0.0 < noisy.p <= 1.0


def test_undefined_correlations_and_dropped_nans():
    assert spearman([1, 1, 1, 1], [1, 2, 3, 4]).rho is None
    r = spearman([1, 2, np.nan, 3, 4], [2, 3, 9, 4, 5])
    assert r.n == 4 and r.p == pytest.approx(2 / 24)
    with pytest.raises(EspladeError, match="same length"):
        spearman([1, 2, 3], [1, 2])


# --- seeds independent per system ---------------------------------------------------------------

def simulate_pair(rng, delta=0.0, n=60, m=(3, 3), query_sd=0.1, qs_sd=0.04, seed_sd=0.03, noise_sd=0.05):
    """Two systems sharing query effects, each with its own seed effects (seed i of one shares nothing
    with seed i of the other) and its own query x system deviations."""
    q = rng.normal(0, query_sd, (n, 1))
    a = delta + q + rng.normal(0, qs_sd, (n, 1)) + rng.normal(0, seed_sd, (1, m[0])) + rng.normal(0, noise_sd, (n, m[0]))
    b = q + rng.normal(0, qs_sd, (n, 1)) + rng.normal(0, seed_sd, (1, m[1])) + rng.normal(0, noise_sd, (n, m[1]))
    return a, b


def test_independent_seeds_equal_a_mixed_model_with_seeds_nested_in_systems():
    """REML MixedLM: crossed query, query x system and (system, seed) random effects."""
    import pandas as pd
    import statsmodels.formula.api as smf

    a, b = simulate_pair(np.random.default_rng(20), delta=0.03, n=40, seed_sd=0.04)
    frames = []
    for flag, x in ((1, a), (0, b)):
        f = long_frame(x)
        f["sys"], f["qs"], f["ss"] = flag, f["q"].astype(str) + f"-{flag}", f["s"].astype(str) + f"-{flag}"
        frames.append(f)
    data = pd.concat(frames, ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm("y ~ sys", data, groups="g", re_formula="0",
                          vc_formula={"q": "0 + C(q)", "qs": "0 + C(qs)", "ss": "0 + C(ss)"}).fit(reml=True)
    r = compare_seeds(a, b, seeds="independent")
    assert r.method == INDEPENDENT_METHOD and r.components["seed a"] > 0 and r.components["seed b"] > 0
    assert r.delta == pytest.approx(float(fit.fe_params["sys"]), abs=1e-12)
    assert r.se == pytest.approx(float(fit.bse_fe["sys"]), rel=2e-3)
    assert r.se > compare_seeds(a, b).query_only.se and r.df < 39


def test_independent_seed_intervals_cover_the_truth():
    rng = np.random.default_rng(21)
    runs = [compare_seeds(*simulate_pair(rng, delta=0.02, n=40), seeds="independent") for _ in range(200)]
    assert 0.9 <= np.mean([r.ci95[0] <= 0.02 <= r.ci95[1] for r in runs]) <= 0.99
    assert np.mean([r.query_only.ci95[0] <= 0.02 <= r.query_only.ci95[1] for r in runs]) < 0.85


def test_independent_seeds_allow_different_seed_counts_and_single_runs():
    rng = np.random.default_rng(22)
    a, b = simulate_pair(rng, n=30, m=(3, 5))
    r = compare_seeds(a, b, seeds="independent")
    assert r.delta == pytest.approx(a.mean() - b.mean()) and r.seeds == 5
    one = compare_seeds(a, b[:, 0], seeds="independent")
    assert set(one.components) == {"query_only_variance", "seed a"}
    flat = compare_seeds(a - a.mean(axis=0) + a.mean(), b[:, 0], seeds="independent")  # no seed variance in a
    assert (flat.se, flat.p) == (flat.query_only.se, flat.query_only.p) and "query-only" in flat.notes[0]
    with pytest.raises(EspladeError, match="unknown seed design"):
        compare_seeds(a, b, seeds="crossed")
    with pytest.raises(EspladeError, match="different numbers of queries"):
        compare_seeds(a, b[:20], seeds="independent")


def test_factorial_contrasts_with_independent_seeds():
    rng = np.random.default_rng(23)
    arms, levels = two_by_two(rng, corpus=0.05, lr=0.0)
    paired = factorial_contrasts(arms, levels, FACTORS)
    independent = factorial_contrasts(arms, levels, FACTORS, seeds="independent")
    assert [c.test.delta for c in independent] == pytest.approx([c.test.delta for c in paired])
    assert all(c.test.method == INDEPENDENT_METHOD for c in independent) and independent[0].test.reject
    with pytest.raises(EspladeError, match="unknown seed design"):
        factorial_contrasts(arms, levels, FACTORS, seeds="nope")


def test_posting_length_spread_beside_raw_variance_does_not_grow_with_the_postings():
    """F2 reads CV and Gini beside the variance: scaling every list by 4 multiplies the variance by 16."""
    from esplade_eval.cost import distribution

    lengths = np.random.default_rng(24).zipf(1.8, 500).clip(max=10_000)
    small, large = distribution(lengths), distribution(4 * lengths)
    assert large["variance"] == pytest.approx(16 * small["variance"])
    assert large["cv"] == pytest.approx(small["cv"]) and large["gini"] == pytest.approx(small["gini"])


def test_the_boundary_fit_maximises_the_restricted_likelihood():
    """Components below zero: the pooled fit is the REML maximum (found here numerically), not
    the truncated ANOVA estimate (MixedLM's optimiser stops short of it on such data)."""
    from scipy.optimize import minimize

    noise = np.random.default_rng(3).normal(0, 0.05, (30, 3))
    raw = mean_squares(noise)
    rows, cols = noise.mean(axis=1, keepdims=True), noise.mean(axis=0, keepdims=True)
    resid = noise - rows - cols + noise.mean()
    # MS_Q = 0.99 MS_E and MS_S = 0.05 MS_E: both ANOVA estimates below zero; pooling the seed
    # stratum into the residual lowers it under MS_Q, so the query component comes back positive
    scale_q = np.sqrt(0.99 * raw["ms_residual"] / raw["ms_query"])
    scale_s = np.sqrt(0.05 * raw["ms_residual"] / raw["ms_seed"])
    d = resid + scale_q * (rows - noise.mean()) + scale_s * (cols - noise.mean())
    n, m = d.shape
    ms = mean_squares(d)
    dfs = (n - 1, m - 1, (n - 1) * (m - 1))

    def restricted(log_components):  # REML log-likelihood of the balanced design, by strata
        q, s, e = np.exp(log_components)
        lam = (e + m * q, e + n * s, e)
        return 0.5 * sum(k * (np.log(v) + x / v) for k, v, x in zip(dfs, lam, ms.values()))

    best = min((minimize(restricted, x0, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-14,
                                                                         "maxiter": 20_000})
                for x0 in [(-12, -12, -6), (-8, -14, -6), (-14, -8, -6)]), key=lambda o: o.fun)
    comps = seed_test(d).components
    assert ms["ms_query"] < ms["ms_residual"] and ms["ms_seed"] < ms["ms_residual"]  # both ANOVA estimates < 0
    q, s, e = np.exp(best.x)
    assert comps["residual"] == pytest.approx(e, rel=1e-4)
    assert comps["query"] > 0 and comps["query"] == pytest.approx(q, rel=1e-2)
    assert comps["seed"] == 0 and s < 1e-9
