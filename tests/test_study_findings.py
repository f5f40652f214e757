"""The findings' verdict rules on generated per-query values (the smoke study gives whatever it gives).

Five arms (general/titles x two learning rates, plus the general arm repeated 3 times) x 3
seeds x two levels, 80 queries; each scenario sets the arms' per-query scores, cost and
MLM accuracy so that a finding must come out supported, contradicted or inconclusive.
"""

from __future__ import annotations

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
    """``score(arm, seed, level, rng) -> per-query nDCG``; ``postings``/``variance``/``mlm``: per arm."""
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
                rows.append({"system": arm.name, "kind": "arm", "seed": seed, "level": level,
                             "nDCG@10": ndcg.mean(), "mlm_titles_acc": mlm[arm.name] + 0.001 * seed,
                             "mlm_general_acc": 0.1, "postings": post.mean(), "flops": post.mean() / 1000,
                             "df_variance": variance[arm.name] + seed, "query_df_variance": variance[arm.name]})
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
    # focal vs the three other repeats-1 arms, at both levels: one Holm family of 6
    assert len(f1.rows) == 6 and {r["b"] for r in f1.rows} == {"general-lr1e-4-r1", "titles-lr1e-4-r1",
                                                                  "titles-lr1e-3-r1"}
    assert all(r["seeds_same_sign"] == 3 and r["mlm_lower"] for r in f1.rows)
    raw = [r["p"] for r in f1.rows]
    from statsmodels.stats.multitest import multipletests

    assert [r["p_holm"] for r in f1.rows] == pytest.approx(list(multipletests(raw, method="holm")[1]))
    assert result["cost"].rows[0]["a"] in (FOCAL, REPEATED)


def test_reversed_effects_are_contradicted(cfg):
    def score(arm, seed, level, rng):
        if arm == FOCAL:
            return BASE - 0.1 + 0.002 * rng.standard_normal(N)
        if arm == REPEATED:
            return BASE + 0.1 + 0.002 * rng.standard_normal(N)  # repeating changes a lot
        return BASE + 0.002 * rng.standard_normal(N)

    names = [a.name for a in cfg.arms]
    # the most effective arm (REPEATED) is the cheapest, with the least varied posting lists
    postings = {n: 200.0 if n == REPEATED else 800.0 for n in names}
    variance = {n: 100.0 if n == REPEATED else 5000.0 for n in names}
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
