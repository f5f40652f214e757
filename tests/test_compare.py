"""Paired comparison: statistics vs scipy/statsmodels, explicit pairing, report renderings, the CLI."""

from __future__ import annotations

import json
import math
import textwrap
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from esplade_eval.cli import main
from esplade_eval.errors import EspladeError
from esplade_eval.evaluate import compare, correct, evaluate, paired_stats

N = 30
QRELS = "".join(f"q{i:02d} 0 rel{i} 1\n" for i in range(N))


def run_text(rank_of_relevant, tag):
    """A run whose relevant document for query i is at rank ``rank_of_relevant(i)`` (None: absent)."""
    lines = []
    for i in range(N):
        r = rank_of_relevant(i)
        docs = [f"junk{i}-{k}" for k in range(5)]
        if r is not None:
            docs.insert(r - 1, f"rel{i}")
        lines += [f"q{i:02d} Q0 {d} {k} {10 - k} {tag}" for k, d in enumerate(docs, 1)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def runs(tmp_path):
    """base: relevant at rank 3; better: rank 1 (mostly); mixed: rank 2 or 5 alternately (no real difference)."""
    qrels = tmp_path / "qrels.txt"
    qrels.write_text(QRELS)
    paths = {}
    for name, rank in {"base": lambda i: 3, "better": lambda i: 1 if i % 10 else 2,
                       "mixed": lambda i: 2 if i % 2 else 5, "same": lambda i: 3}.items():
        paths[name] = tmp_path / f"{name}.txt"
        paths[name].write_text(run_text(rank, name))
    return qrels, paths


# -- statistics ----------------------------------------------------------------------------------------
def test_stats_equal_scipy_and_numpy_on_the_same_vectors(runs):
    qrels, paths = runs
    res = evaluate(qrels, paths, ["RR@10", "nDCG@10"])
    rep = compare(res, baseline="base", wilcoxon=True)
    table = rep.to_dataframe()
    base = res.per_query("base")
    for system in ("better", "mixed"):
        for m in ("RR@10", "nDCG@10"):
            x, y = res.per_query(system)[m].to_numpy(), base[m].to_numpy()
            tt = stats.ttest_rel(x, y)
            assert table.at[system, f"{m} p-value"] == pytest.approx(tt.pvalue, rel=1e-12)
            lo, hi = tt.confidence_interval(0.95)
            assert (table.at[system, f"{m} ci low"], table.at[system, f"{m} ci high"]) == \
                (pytest.approx(lo, rel=1e-9), pytest.approx(hi, rel=1e-9))
            d = x - y
            assert table.at[system, f"{m} delta"] == pytest.approx(d.mean())
            assert table.at[system, f"{m} d"] == pytest.approx(d.mean() / d.std(ddof=1))
            assert [table.at[system, f"{m} {s}"] for s in "+=-"] == [(d > 0).sum(), (d == 0).sum(), (d < 0).sum()]
            assert table.at[system, f"{m} wilcoxon p-value"] == pytest.approx(stats.wilcoxon(x, y).pvalue, rel=1e-12)
            assert table.at[system, m] == pytest.approx(x.mean())
    # RR: base 1/3 everywhere; better 1 on 27 queries and 1/2 on 3
    assert table.at["better", "RR@10 +"] == N and table.at["better", "RR@10 reject"]
    assert table.at["mixed", "RR@10 +"] == 15 and table.at["mixed", "RR@10 -"] == 15


def test_correction_equals_statsmodels_across_systems_per_measure(runs):
    qrels, paths = runs
    res = evaluate(qrels, paths, ["RR@10", "AP"])
    for method in ("holm", "bonferroni"):
        table = compare(res, baseline="base", correction=method).to_dataframe()
        for m in ("RR@10", "AP"):
            raw = table.loc[["better", "mixed", "same"], f"{m} p-value"].to_numpy(dtype=float)
            ok = np.isfinite(raw)  # "same" is identical to the baseline: no test, p is NaN
            assert ok.tolist() == [True, True, False]
            reject, corrected, _, _ = multipletests(raw[ok], alpha=0.05, method=method)
            assert table.loc[["better", "mixed"], f"{m} p-value corrected"].tolist() == pytest.approx(corrected.tolist(), rel=1e-12)
            assert table.loc[["better", "mixed"], f"{m} reject"].tolist() == reject.tolist()
            assert math.isnan(table.at["same", f"{m} p-value corrected"]) and not table.at["same", f"{m} reject"]


def test_correct_and_paired_stats_helpers():
    p, r = correct(np.array([0.01, 0.02, 0.2]), "holm")
    assert p.tolist() == pytest.approx(multipletests([0.01, 0.02, 0.2], method="holm")[1].tolist())
    with pytest.raises(EspladeError, match="unknown correction"):
        correct(np.array([0.1]), "magic")
    s = np.array([[[0.5], [0.7], [0.9]]])
    out = paired_stats(s, np.array([[0.4], [0.5], [0.6]]))
    assert out["delta"][0, 0] == pytest.approx(0.2) and out["+"][0, 0] == 3


def test_correction_without_baseline_raises(runs):
    qrels, paths = runs
    res = evaluate(qrels, paths, ["AP"])
    with pytest.raises(EspladeError, match="needs a baseline"):
        compare(res, correction="holm")
    with pytest.raises(EspladeError, match="needs a baseline"):
        compare(res, correction="bonferroni")
    assert "AP p-value" not in compare(res).to_dataframe()  # means only, no tests
    with pytest.raises(EspladeError, match="baseline 'nope' is not one of"):
        compare(res, baseline="nope")


# -- explicit pairing ------------------------------------------------------------------------------------
def test_runs_answering_different_queries_are_an_error_naming_them(runs, tmp_path):
    qrels, paths = runs
    partial = tmp_path / "partial.txt"
    partial.write_text("".join(line + "\n" for line in paths["better"].read_text().splitlines()
                               if not line.startswith(("q03 ", "q17 "))))
    res = evaluate(qrels, {"base": paths["base"], "partial": partial}, ["RR@10"])
    with pytest.raises(EspladeError, match=r"partial lacks 2: q03, q17") as err:
        compare(res, baseline="base")
    assert "--intersect" in str(err.value)
    inter = compare(res, baseline="base", missing="intersect")
    assert len(inter.queries) == N - 2 and "q03" not in inter.queries
    assert inter.to_dataframe().at["partial", "RR@10"] == pytest.approx(1 - 0.5 * 3 / (N - 2) + 0.5 * 0)  # 25 x 1, 3 x 1/2
    assert any("dropped 2: q03, q17" in n for n in inter.notes)
    zero = compare(res, baseline="base", missing="zero")
    assert len(zero.queries) == N
    assert zero.to_dataframe().at["partial", "RR@10"] == pytest.approx(res.aggregate().at["partial", "RR@10"])
    assert any("partial: no values for 2 queries (scored 0): q03, q17" in n for n in zero.notes)


def test_per_query_tables_over_different_queries(runs):
    qrels, paths = runs
    res = evaluate(qrels, paths, ["RR@10"])
    a, b = res.per_query("base"), res.per_query("better").drop(["q05"])
    with pytest.raises(EspladeError, match="better lacks 1: q05"):
        compare({"base": a, "better": b}, baseline="base")
    rep = compare({"base": a, "better": b}, baseline="base", missing="intersect")
    x, y = b["RR@10"].to_numpy(), a.drop(["q05"])["RR@10"].to_numpy()
    assert rep.to_dataframe().at["better", "RR@10 p-value"] == pytest.approx(stats.ttest_rel(x, y).pvalue, rel=1e-12)
    with pytest.raises(EspladeError, match="listed twice"):
        compare({"base": a, "dup": pd.concat([a, a.iloc[:1]])}, baseline="base")


def test_queries_no_run_answers_stay_paired_at_zero(runs, tmp_path):
    qrels, paths = runs
    extra = tmp_path / "qrels.extra.txt"
    extra.write_text(QRELS + "qzz 0 relzz 1\n")
    rep = compare(evaluate(extra, paths, ["RR@10"]), baseline="base")
    assert "qzz" in rep.queries and any("no hits in any run" in n for n in rep.notes)


# -- the report --------------------------------------------------------------------------------------------
def test_report_renderings_carry_the_same_numbers(runs):
    qrels, paths = runs
    paths = {"base_line": paths["base"], "better": paths["better"], "mixed": paths["mixed"]}
    rep = compare(evaluate(qrels, paths, ["RR@10", "AP"]), baseline="base_line", wilcoxon=True)
    table = rep.to_dataframe()
    for col in ("RR@10", "RR@10 +", "RR@10 -", "RR@10 p-value", "RR@10 p-value corrected", "RR@10 reject"):
        assert col in table.columns  # PyTerrier's vocabulary
    assert list(table.index) == ["base_line", "better", "mixed"]
    assert table.at["better", "RR@10 reject"] and not table.at["mixed", "RR@10 reject"]

    md = rep.to_markdown()
    assert "| base_line (baseline) |" in md
    assert f"| better | {table.at['better', 'RR@10']:.4f} ({table.at['better', 'RR@10 delta']:+.4f})†" in md
    assert "| mixed | " in md and "Holm correction across 2 systems" in md
    mixed_row = next(line for line in md.splitlines() if line.startswith("| mixed | "))
    assert "†" not in mixed_row

    tex = rep.to_latex(details=False)
    assert r"base\_line (baseline)" in tex and r"\toprule" in tex
    assert f"{table.at['better', 'RR@10']:.4f}}}$^{{\\dagger}}$" in tex  # bold best, dagger
    assert tex.count(r"$^{\dagger}$") == 1 + int(table.at["better", "AP reject"]) + 1  # + the caption's
    assert rep.to_latex().startswith(tex)  # the details table follows

    back = pd.read_csv(StringIO(rep.to_csv()), index_col="system")
    assert list(back.columns) == list(table.columns)
    assert back["RR@10 p-value corrected"].tolist()[1:] == pytest.approx(table["RR@10 p-value corrected"].tolist()[1:])

    data = json.loads(rep.to_json())
    assert data["correction"] == "holm" and data["n_queries"] == N and data["baseline"] == "base_line"
    better = data["systems"][1]["RR@10"]
    assert better["mean"] == pytest.approx(table.at["better", "RR@10"]) and better["reject"] is True
    assert better["+"] == N and data["systems"][0]["RR@10"]["p-value"] is None  # NaN -> null
    assert rep.render("csv") == rep.to_csv()
    with pytest.raises(ValueError):
        rep.render("html")


def test_report_without_correction_says_so(runs):
    qrels, paths = runs
    rep = compare(evaluate(qrels, paths, ["RR@10"]), baseline="base", correction=None)
    table = rep.to_dataframe()
    assert table["RR@10 p-value corrected"].tolist()[1:] == pytest.approx(table["RR@10 p-value"].tolist()[1:], nan_ok=True)
    assert "no multiple-testing correction" in rep.to_markdown() and "uncorrected" in rep.to_latex()


# -- the CLI ---------------------------------------------------------------------------------------------
def test_cli_compare_markdown_default(runs, capsys):
    qrels, paths = runs
    assert main(["compare", "--qrels", str(qrels), "--baseline", str(paths["base"]), str(paths["better"]),
                 str(paths["mixed"]), "--measures", "RR@10"]) == 0
    out = capsys.readouterr().out
    assert "| base (baseline) |" in out and "Baseline: base; paired t-test, Holm correction" in out
    assert "| better | RR@10 |" in out  # the details table


def test_cli_compare_csv_bonferroni_wilcoxon(runs, capsys):
    qrels, paths = runs
    assert main(["compare", "--qrels", str(qrels), "--baseline", f"B={paths['base']}", f"X={paths['better']}",
                 f"Y={paths['mixed']}", "--measures", "RR@10", "AP", "--correction", "bonferroni", "--wilcoxon",
                 "--format", "csv"]) == 0
    frame = pd.read_csv(StringIO(capsys.readouterr().out), index_col="system")
    raw = frame.loc[["X", "Y"], "AP p-value"].to_numpy()
    assert frame.loc[["X", "Y"], "AP p-value corrected"].tolist() == pytest.approx(np.minimum(raw * 2, 1).tolist())
    assert "AP wilcoxon p-value corrected" in frame.columns


def test_cli_compare_different_query_sets(runs, tmp_path, capsys):
    qrels, paths = runs
    short = tmp_path / "short.txt"
    short.write_text("".join(line + "\n" for line in paths["better"].read_text().splitlines() if not line.startswith("q29 ")))
    args = ["compare", "--qrels", str(qrels), "--baseline", str(paths["base"]), str(short), "--measures", "RR@10"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "short lacks 1: q29" in err and "--intersect" in err
    assert main(args + ["--intersect", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_queries"] == N - 1
    assert main(args + ["--fill-missing", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_queries"] == N


# -- real runs: unpruned vs pruned SPLADE (the demo flow), plus real BM25 runs --------------------------------
@pytest.mark.slow
def test_real_runs_significance_equals_scipy_and_statsmodels(demo_runs, semanlink, tmp_path_factory):
    import ir_measures
    from evaluate_support import bm25_runs

    bm25 = bm25_runs(str(semanlink.corpus), str(semanlink.topics("test")),
                     str(tmp_path_factory.getbasetemp() / "evaluate-bm25"))
    paths = {"full": demo_runs.runs["full"], "d16-q4": demo_runs.runs["d16-q4"], **bm25}
    measures = ["nDCG@10", "R@100", "RR@10", "AP"]
    res = evaluate(demo_runs.qrels, paths, measures, topics=demo_runs.topics)
    rep = compare(res, baseline="full", missing="zero", wilcoxon=True)  # BM25 finds nothing for a few queries
    table = rep.to_dataframe()

    # The per-query vectors, computed independently with plain ir_measures (missing -> 0).
    qrels = list(ir_measures.read_trec_qrels(str(demo_runs.qrels)))
    queries = list(rep.queries)
    assert queries == list(res.queries) and len(queries) > 100
    vectors = {}
    for name, path in paths.items():
        got = {}
        for metric in ir_measures.iter_calc([ir_measures.parse_measure(m) for m in measures], qrels,
                                            ir_measures.read_trec_run(str(path))):
            got[(metric.query_id, str(metric.measure))] = metric.value
        vectors[name] = {m: np.array([got.get((q, m), 0.0) for q in queries]) for m in measures}
    others = ["d16-q4", *bm25]
    for m in measures:
        raw = []
        for system in others:
            x, y = vectors[system][m], vectors["full"][m]
            p = stats.ttest_rel(x, y).pvalue
            raw.append(p)
            assert table.at[system, f"{m} p-value"] == pytest.approx(p, rel=1e-9, abs=1e-300)
            assert table.at[system, f"{m} wilcoxon p-value"] == pytest.approx(stats.wilcoxon(x, y).pvalue, rel=1e-9)
            assert table.at[system, m] == pytest.approx(x.mean(), abs=1e-12)
        holm = multipletests(raw, alpha=0.05, method="holm")
        assert table.loc[others, f"{m} p-value corrected"].tolist() == pytest.approx(holm[1].tolist(), rel=1e-9)
        assert table.loc[others, f"{m} reject"].tolist() == holm[0].tolist()
    bonf = compare(res, baseline="full", missing="zero", correction="bonferroni").to_dataframe()
    raw = table.loc[others, "nDCG@10 p-value"].to_numpy(dtype=float)
    assert bonf.loc[others, "nDCG@10 p-value corrected"].tolist() == \
        pytest.approx(multipletests(raw, method="bonferroni")[1].tolist(), rel=1e-9)
    # Unpruned vs pruned alone: both SPLADE runs, compared strictly (they answer the same queries).
    pair = compare(evaluate(demo_runs.qrels, {k: paths[k] for k in ("full", "d16-q4")}, measures,
                            topics=demo_runs.topics), baseline="full")
    assert pair.to_dataframe().at["d16-q4", "AP p-value"] == pytest.approx(
        stats.ttest_rel(vectors["d16-q4"]["AP"], vectors["full"]["AP"]).pvalue, rel=1e-9)
    print(textwrap.indent(pair.to_markdown(), "    "))
