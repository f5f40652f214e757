"""The findings' verdict rules on generated per-query values (the smoke study gives whatever it gives).

Five arms (general/titles x two learning rates, plus the general arm repeated 3 times) x 3
seeds x two levels, 80 queries; each scenario sets the arms' per-query scores, cost and
MLM accuracy so that a finding must come out supported, contradicted or inconclusive.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd
import pytest

from esplade_eval.study import findings, stats
from esplade_eval.study.config import load_config

CONFIG = """
seeds = [0, 1, 2]
[pretrain]
init_encoder = "splade-tiny"
[grid]
corpus = ["general", "titles"]
lr = [1e-4, 1e-3]
[[arms]]
corpus = "general"
lr = 1e-3
repeats = 3
[evaluation]
levels = ["full", "d8-q4"]
strictest = "d8-q4"
measures = ["nDCG@10"]
[findings.repeats]
margin = 0.02
"""
FOCAL, REPEATED = "general-lr1e-3-r1", "general-lr1e-3-r3"
N = 80


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "study.toml"
    path.write_text(textwrap.dedent(CONFIG))
    return load_config(path)


def make_data(cfg, score, postings, variance, mlm) -> stats.StudyData:
    """``score(arm, seed, level, rng) -> per-query nDCG``; ``postings``/``variance``/``mlm``: per arm
    (the CV and Gini of posting lengths follow the variance)."""
    rng = np.random.default_rng(0)
    data = stats.StudyData(rows=None, measures=("nDCG@10",))
    rows = []
    qids = [f"q{i:03d}" for i in range(N)]
    for arm in cfg.arms:
        for seed in cfg.seeds:
            for level in cfg.evaluation.levels:
                ndcg = np.clip(score(arm.name, seed, level, rng), 0, 1)
                post = postings[arm.name] * (1 + 0.05 * rng.standard_normal(N))
                frame = pd.DataFrame({"nDCG@10": ndcg, "postings": post, "flops": post / 1000,
                                      "query_length": 4}, index=pd.Index(qids, name="qid"))
                data.per_query[(arm.name, seed, level)] = frame
                var = variance[arm.name] + seed
                rows.append({"system": arm.name, "kind": "arm", "seed": seed, "level": level,
                             "nDCG@10": ndcg.mean(), "mlm_titles_acc": mlm[arm.name] + 0.001 * seed,
                             "mlm_general_acc": 0.1, "postings": post.mean(), "flops": post.mean() / 1000,
                             "df_variance": var, "df_cv": var ** 0.5 / 100, "df_gini": var / 1e5,
                             "query_df_variance": variance[arm.name]})
    data.rows = pd.DataFrame(rows)
    return data


BASE = np.linspace(0.2, 0.6, N)


def verdicts(cfg, data) -> dict[str, str]:
    return {f.name: f.verdict for f in findings.judge(cfg, data)}


def test_the_papers_findings_come_out_supported(cfg):
    def score(arm, seed, level, rng):
        lift = 0.08 if arm in (FOCAL, REPEATED) else 0.0
        return BASE + lift + 0.002 * rng.standard_normal(N)

    names = [a.name for a in cfg.arms]
    postings = {n: 900.0 if n in (FOCAL, REPEATED) else 500.0 for n in names}
    variance = {n: 4000.0 if n in (FOCAL, REPEATED) else 1000.0 for n in names}
    mlm = {n: 0.20 if n in (FOCAL, REPEATED) else 0.30 for n in names}
    data = make_data(cfg, score, postings, variance, mlm)
    result = {f.name: f for f in findings.judge(cfg, data)}
    assert {k: f.verdict for k, f in result.items()} == {
        "general_high_lr": "supported", "cost": "supported", "repeats": "supported"}
    f1 = result["general_high_lr"]
    # focal vs the three other repeats-1 arms at both levels, plus corpus, lr and corpus x lr at both
    # levels: one Holm family of 12 on the seed-aware p-values
    focal_rows = [r for r in f1.rows if not r.get("contrast")]
    assert len(f1.rows) == 12 and len(focal_rows) == 6
    assert {r["b"] for r in focal_rows} == {"general-lr1e-4-r1", "titles-lr1e-4-r1", "titles-lr1e-3-r1"}
    assert all(r["seeds_same_sign"] == 3 and r["mlm_lower"] and r["mlm"]["seeds"] == 3 for r in focal_rows)
    raw = [r["p"] for r in f1.rows]
    from statsmodels.stats.multitest import multipletests

    assert [r["p_holm"] for r in f1.rows] == pytest.approx(list(multipletests(raw, method="holm")[1]))
    contrasts = {(r["a"], r["level_a"]): r for r in f1.rows if r.get("contrast")}
    # the lift sits in the general x high-lr cell only: each main effect is half of it, the interaction all of it
    assert contrasts[("corpus: general - titles", "full")]["delta"] == pytest.approx(0.04, abs=0.003)
    assert contrasts[("lr: 0.001 - 0.0001", "full")]["delta"] == pytest.approx(0.04, abs=0.003)
    assert contrasts[("corpus x lr", "full")]["delta"] == pytest.approx(0.08, abs=0.003)
    cost = result["cost"]
    assoc = [r for r in cost.rows if r.get("association")]
    assert [r["y"] for r in assoc] == ["postings", "df_cv", "flops", "df_gini", "df_variance"]
    assert all(r["runs"] == 15 and r["rho"] > 0 and r["p"] >= r["p_min"] for r in assoc)  # 5 arms x 3 seeds
    effects = [r for r in cost.rows if r.get("contrast")]
    assert [r["a"] for r in effects] == ["corpus: general - titles", "lr: 0.001 - 0.0001", "corpus x lr"]
    assert all(r["column"] == "postings" and r["delta"] > 0 for r in effects)
    assert all(r["equivalence"] == "supported" for r in result["repeats"].rows)


def test_reversed_effects_are_contradicted(cfg):
    def score(arm, seed, level, rng):
        if arm == FOCAL:
            return BASE - 0.1 + 0.002 * rng.standard_normal(N)
        if arm == REPEATED:
            return BASE + 0.1 + 0.002 * rng.standard_normal(N)  # repeating changes a lot
        return BASE + 0.002 * rng.standard_normal(N)

    names = [a.name for a in cfg.arms]
    # the more effective an arm, the cheaper, with the less varied posting lists
    postings = {n: 200.0 if n == REPEATED else 1200.0 if n == FOCAL else 800.0 for n in names}
    variance = {n: 100.0 if n == REPEATED else 9000.0 if n == FOCAL else 5000.0 for n in names}
    mlm = {n: 0.2 for n in names}
    assert verdicts(cfg, make_data(cfg, score, postings, variance, mlm)) == {
        "general_high_lr": "contradicted", "cost": "contradicted", "repeats": "contradicted"}


def test_noise_is_inconclusive(cfg):
    def score(arm, seed, level, rng):
        return BASE + 0.15 * rng.standard_normal(N)  # seeds disagree, differences insignificant

    names = [a.name for a in cfg.arms]
    flat = {n: 500.0 for n in names}
    assert verdicts(cfg, make_data(cfg, score, flat, {n: 1000.0 for n in names}, {n: 0.2 for n in names})) == {
        "general_high_lr": "inconclusive", "cost": "inconclusive", "repeats": "inconclusive"}


def test_better_retriever_with_higher_mlm_accuracy_is_not_the_finding(cfg):
    """Retrieval better but MLM accuracy not lower: the 'despite lower MLM accuracy' clause fails."""
    def score(arm, seed, level, rng):
        return BASE + (0.08 if arm in (FOCAL, REPEATED) else 0.0) + 0.002 * rng.standard_normal(N)

    names = [a.name for a in cfg.arms]
    data = make_data(cfg, score, {n: 500.0 for n in names}, {n: 1000.0 for n in names},
                     {n: 0.4 if n == FOCAL else 0.3 for n in names})
    f1 = findings.general_high_lr(cfg, data)
    assert f1.verdict == "inconclusive" and any("MLM accuracy is not lower" in n for n in f1.notes)


def test_a_missing_arm_makes_a_finding_not_applicable(cfg):
    from dataclasses import replace

    names = [a.name for a in cfg.arms]
    narrowed = replace(cfg, arms=tuple(a for a in cfg.arms if a.name != REPEATED))
    data = make_data(narrowed, lambda *a: BASE, {n: 1.0 for n in names}, {n: 1.0 for n in names},
                     {n: 0.1 for n in names})
    assert findings.repeats(narrowed, data).verdict == "not applicable"


# --- seeds in the standard error ------------------------------------------------------------

SHIFT = {0: 0.06, 1: -0.06, 2: 0.0}  # each arm's per-seed offset (mean zero): seed-to-seed variance


def test_seed_variance_makes_a_query_level_effect_inconclusive(cfg):
    """Seeds disagree by ±0.06 while queries agree closely: the query-only test finds the +0.03 lift
    (and the repeats equivalent), the seed-aware test does not, so both verdicts are inconclusive."""
    names = [a.name for a in cfg.arms]

    def score(arm, seed, level, rng):
        sign = 1 if names.index(arm) % 2 else -1
        lift = 0.03 if arm in (FOCAL, REPEATED) else 0.0
        return BASE + lift + sign * SHIFT[seed] + 0.002 * rng.standard_normal(N)

    data = make_data(cfg, score, {n: 500.0 for n in names}, {n: 1000.0 for n in names},
                     {n: 0.2 if n == FOCAL else 0.3 for n in names})
    f1, f3 = findings.general_high_lr(cfg, data), findings.repeats(cfg, data)
    assert f1.verdict == "inconclusive" and f3.verdict == "inconclusive"
    focal_rows = [r for r in f1.rows if not r.get("contrast")]
    assert all(r["delta"] == pytest.approx(0.03, abs=0.002) for r in focal_rows)
    assert all(r["p_query"] < 1e-6 and r["p"] > 0.05 and not r["significant"] for r in focal_rows)
    assert all(r["df"] < 20 and r["seed_variance"] is None for r in focal_rows)  # few seeds: few df
    # the query-only interval would call the repeats equivalent; the seed-aware one is too wide to
    for r in f3.rows:
        assert -0.02 < r["ci_query_low"] and r["ci_query_high"] < 0.02
        assert r["ci90"][0] < -0.02 and r["ci90"][1] > 0.02 and r["equivalence"] == "inconclusive"


def _two_arm_data(rng, n=40, seeds=3):
    """Two arms sharing query effects, each with its own seed effects and noise: (data, a, b)."""
    q = rng.normal(0.5, 0.1, (n, 1))
    a = 0.03 + q + rng.normal(0, 0.03, (n, 1)) + rng.normal(0, 0.04, (1, seeds)) + rng.normal(0, 0.05, (n, seeds))
    b = q + rng.normal(0, 0.03, (n, 1)) + rng.normal(0, 0.04, (1, seeds)) + rng.normal(0, 0.05, (n, seeds))
    data = stats.StudyData(rows=None, measures=("nDCG@10",))
    qids = pd.Index([f"q{i:02d}" for i in range(n)], name="qid")
    for name, x in (("a", a), ("b", b)):
        for s in range(seeds):
            data.per_query[(name, s, "full")] = pd.DataFrame({"nDCG@10": x[:, s]}, index=qids)
    return data, a, b


def _long(x, system):
    n, m = x.shape
    return pd.DataFrame({"y": x.ravel(), "q": np.repeat(np.arange(n), m).astype(str),
                         "s": np.tile(np.arange(m), n).astype(str), "sys": system, "g": 1})


def test_the_study_comparison_equals_statsmodels_mixed_models():
    """The row a finding prints: its SE equals REML MixedLM's, in both seed designs."""
    import warnings

    import statsmodels.formula.api as smf

    data, a, b = _two_arm_data(np.random.default_rng(3))
    frame = pd.concat([_long(a, 1), _long(b, 0)], ignore_index=True)
    frame["qs"], frame["ss"] = frame["q"] + "-" + frame["sys"].astype(str), frame["s"] + "-" + frame["sys"].astype(str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nested = smf.mixedlm("y ~ sys", frame, groups="g", re_formula="0",
                             vc_formula={"q": "0 + C(q)", "qs": "0 + C(qs)", "ss": "0 + C(ss)"}).fit(reml=True)
        crossed = smf.mixedlm("y ~ 1", _long(a - b, 1), groups="g", re_formula="0",
                              vc_formula={"q": "0 + C(q)", "s": "0 + C(s)"}).fit(reml=True)
    independent = stats.paired(data, "a", "b", "full", "full", "nDCG@10")
    paired = stats.paired(data, "a", "b", "full", "full", "nDCG@10", seeds="paired")
    assert independent["delta"] == pytest.approx(float(nested.fe_params["sys"]), abs=1e-12)
    assert independent["se"] == pytest.approx(float(nested.bse_fe["sys"]), rel=2e-3)
    assert paired["se"] == pytest.approx(float(crossed.bse_fe.iloc[0]), rel=1e-3)
    # the query-only paired t-test beside it is scipy's on seed-averaged scores
    from scipy import stats as sps

    t = sps.ttest_rel(a.mean(axis=1), b.mean(axis=1))
    assert independent["p_query"] == pytest.approx(t.pvalue, rel=1e-9)
    assert paired["p_query"] == pytest.approx(independent["p_query"], rel=1e-9)
    assert independent["p"] > independent["p_query"] and independent["df"] < 39


# --- which arms are judged, association p-values, the printed rules -----------------------------

def test_wordpiece_twins_do_not_enter_the_findings(cfg):
    from types import SimpleNamespace

    names = [a.name for a in cfg.arms]
    data = make_data(cfg, lambda arm, seed, level, rng: BASE + 0.01 * rng.standard_normal(N),
                     {n: 500.0 for n in names}, {n: 1000.0 for n in names}, {n: 0.2 for n in names})
    assert findings.repeats(cfg, data).verdict != "not applicable"
    data.rows["vocab"] = ["wordpiece" if s == REPEATED else "expanded" for s in data.rows["system"]]
    assert findings.repeats(cfg, data).verdict == "not applicable"  # its only repeated arm is a WordPiece one
    cost = findings.cost(cfg, data)
    assert all(r["runs"] == 12 for r in cost.rows if r.get("association"))  # 4 expanded arms x 3 seeds
    assert REPEATED not in {r["b"] for r in findings.general_high_lr(cfg, data).rows}
    assert not findings.expanded(SimpleNamespace(name="x-wp", vocab="wordpiece"), data)
    assert findings.expanded(SimpleNamespace(name="x", vocab="expanded"), data)


def test_no_rank_correlation_p_below_its_exact_minimum():
    r = stats.correlation([1, 2, 3, 4, 5], [9, 7, 5, 3, 1])
    assert r["spearman_rho"] == -1 and r["spearman_p"] == pytest.approx(2 / 120)
    assert r["spearman_p_min"] == pytest.approx(2 / 120) and r["pearson_p"] < 2 / 120  # Pearson's is not a rank p
    x = np.arange(12.0)
    r = stats.correlation(x, x ** 2)
    assert r["spearman_rho"] == 1 and r["spearman_p"] >= r["spearman_p_min"] == pytest.approx(2 / math.factorial(12))
    assert r["spearman_method"].startswith("permutation")


def test_every_verdict_is_printed_with_its_rule(cfg):
    from types import SimpleNamespace

    from esplade_eval.study import report

    names = [a.name for a in cfg.arms]
    data = make_data(cfg, lambda arm, seed, level, rng: BASE + 0.01 * rng.standard_normal(N),
                     {n: 500.0 for n in names}, {n: 1000.0 for n in names}, {n: 0.2 for n in names})
    judged = findings.judge(cfg, data)
    page = report.findings_markdown(cfg, SimpleNamespace(findings=judged))
    for f in judged:
        assert f"Verdict: **{f.verdict}**" in page and f"Rule: {f.rule}" in page
    assert "p (queries only)" in page and "Spearman ρ" in page and "factorial contrast" in page


def test_a_results_folder_is_judged_again_from_its_tables(cfg, tmp_path):
    from esplade_eval.errors import EspladeError
    from esplade_eval.study import rejudge, report

    names = [a.name for a in cfg.arms]

    def score(arm, seed, level, rng):
        return BASE + (0.08 if arm in (FOCAL, REPEATED) else 0.0) + 0.002 * rng.standard_normal(N)

    data = make_data(cfg, score, {n: 900.0 if n in (FOCAL, REPEATED) else 500.0 for n in names},
                     {n: 4000.0 if n in (FOCAL, REPEATED) else 1000.0 for n in names},
                     {n: 0.2 if n in (FOCAL, REPEATED) else 0.3 for n in names})
    data.rows.to_csv(tmp_path / "per_seed.csv", index=False)
    report.per_query_frame(data).to_csv(tmp_path / "per_query.csv.gz", index=False)
    again = rejudge.rejudge(cfg, tmp_path)
    before = findings.judge(cfg, data)
    assert [f.verdict for f in again] == [f.verdict for f in before] == ["supported"] * 3
    assert [r["p"] for r in again[0].rows] == pytest.approx([r["p"] for r in before[0].rows], rel=1e-9)
    pd.read_csv(tmp_path / "per_seed.csv").drop(columns="seed").to_csv(tmp_path / "per_seed.csv", index=False)
    with pytest.raises(EspladeError, match=r"per_seed.csv:1: no column 'seed'"):
        rejudge.load(tmp_path, ("nDCG@10",))


def test_every_pair_table_uses_the_seed_aware_test():
    from scipy import stats as sps

    data, a, b = _two_arm_data(np.random.default_rng(4))
    data.per_query.update({("c", s, "full"): f * 0.5 for (name, s, lv), f in list(data.per_query.items())
                           if name == "b"})
    rep = stats.all_pairs(data, ["a", "b", "c"], "full", ["nDCG@10"])
    pairs = rep.pairs.set_index(["system", "other"])
    one = pairs.loc[("b", "a")]
    direct = stats.paired(data, "b", "a", "full", "full", "nDCG@10")
    assert one["p-value"] == pytest.approx(direct["p"], rel=1e-12) and one["ci low"] == pytest.approx(direct["ci_low"])
    assert one["p-value (queries only)"] == pytest.approx(sps.ttest_rel(b.mean(axis=1), a.mean(axis=1)).pvalue)
    from statsmodels.stats.multitest import multipletests

    assert list(rep.pairs["p-value corrected"]) == pytest.approx(
        list(multipletests(rep.pairs["p-value"], method="holm")[1]))
    assert "seed-aware test" in rep.to_markdown() and rep.to_dict()["test"].startswith("seed-aware")
