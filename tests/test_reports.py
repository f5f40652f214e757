"""Paper-ready reports: trec_eval names, failing measures, LaTeX/Markdown details, randomisation test and
bootstrap (against scipy), all-pairs comparisons, ``trec_eval -q`` output, DataFrame runs, the CLI."""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from esplade_eval.cli import main
from esplade_eval.errors import EspladeError
from esplade_eval.evaluate import (
    bootstrap_ci,
    compare,
    compare_all_pairs,
    evaluate,
    parse_measures,
    permutation_p,
    trec_eval_text,
)

N = 30
QRELS = "".join(f"q{i:02d} 0 rel{i} 1\n" for i in range(N))


def run_text(rank_of_relevant, tag):
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
    qrels = tmp_path / "qrels.txt"
    qrels.write_text(QRELS)
    paths = {}
    for name, rank in {"base": lambda i: 3, "better": lambda i: 1 if i % 10 else 2,
                       "mixed": lambda i: 2 if i % 2 else 5, "worse": lambda i: 4 if i % 3 else 3}.items():
        paths[name] = tmp_path / f"{name}.txt"
        paths[name].write_text(run_text(rank, name))
    return qrels, paths


# -- measure names -------------------------------------------------------------------------------------
def test_trec_eval_names_map_to_ir_measures():
    got = [str(m) for m in parse_measures(["ndcg_cut.10", "map", "recall.100", "P.5", "recip_rank", "ndcg",
                                           "Rprec", "bpref", "P_10", "map_cut.20", "success.10"])]
    assert got == ["nDCG@10", "AP", "R@100", "P@5", "RR", "nDCG", "Rprec", "Bpref", "P@10", "AP@20", "Success@10"]
    assert [str(m) for m in parse_measures(["ndcg_cut.5,10"])] == ["nDCG@5", "nDCG@10"]
    with pytest.raises(EspladeError, match=r"requested twice \(as 'AP'\)"):
        parse_measures(["AP", "map"])
    with pytest.raises(EspladeError, match="unknown measure 'ndcg_cutt.10'.*trec_eval names"):
        parse_measures(["ndcg_cutt.10"])


def test_trec_eval_names_give_the_same_numbers_as_ir_measures_names(runs):
    qrels, paths = runs
    a = evaluate(qrels, paths, ["nDCG@10", "AP", "R@100", "P@5", "RR"]).aggregate()
    b = evaluate(qrels, paths, ["ndcg_cut.10", "map", "recall.100", "P.5", "recip_rank"]).aggregate()
    assert list(b.columns) == list(a.columns) and np.allclose(a.to_numpy(), b.to_numpy())


# -- a failing measure keeps the rest of the table ---------------------------------------------------------
def test_a_failing_measure_is_reported_in_its_own_cells(tmp_path, capsys):
    qrels = tmp_path / "qrels.txt"  # slug query ids, as in the Semanlink topics: gdeval (ERR) refuses them
    qrels.write_text("tag-alpha 0 a 1\ntag-beta 0 b 1\n")
    run = tmp_path / "run.txt"
    run.write_text("tag-alpha Q0 a 1 2 r\ntag-alpha Q0 x 2 1 r\ntag-beta Q0 x 1 2 r\ntag-beta Q0 b 2 1 r\n")
    other = tmp_path / "other.txt"
    other.write_text("tag-alpha Q0 x 1 2 o\ntag-alpha Q0 a 2 1 o\ntag-beta Q0 b 1 1 o\n")
    res = evaluate(qrels, {"r": run, "o": other}, ["ERR@10", "RR@10", "AP"])
    assert set(res.failed) == {"ERR@10"} and "CalledProcessError" in res.failed["ERR@10"]
    agg = res.aggregate()
    assert math.isnan(agg.at["r", "ERR@10"]) and agg.at["r", "RR@10"] == pytest.approx(0.75)
    assert agg.at["o", "AP"] == pytest.approx(0.75)
    rep = compare(res, baseline="r")
    md = rep.to_markdown()
    assert "| r (baseline) | failed | 0.7500 | 0.7500 |" in md and "ERR@10: could not be computed" in md
    assert "| o | ERR@10 | failed |" in md
    assert math.isnan(rep.to_dataframe().at["o", "ERR@10 p-value"])
    assert rep.to_dataframe().at["o", "RR@10 delta"] == pytest.approx(0.0)
    assert "failed" in rep.to_latex() and json.loads(rep.to_json())["failed"].keys() == {"ERR@10"}
    assert main(["evaluate", "--qrels", str(qrels), str(run), "--measures", "ERR@10", "RR@10"]) == 0
    assert "| run | failed | 0.7500 |" in capsys.readouterr().out


# -- the CLI reads runs wherever they stand ---------------------------------------------------------------
def test_runs_before_or_after_options_and_after_measures(runs, capsys):
    qrels, paths = runs
    expected = None
    for args in (["--qrels", str(qrels), "--measures", "AP", "P@5", str(paths["base"]), str(paths["better"])],
                 [str(paths["base"]), str(paths["better"]), "--qrels", str(qrels), "--measures", "AP", "P@5"],
                 ["--qrels", str(qrels), str(paths["base"]), "--measures", "AP", "P@5", f"better={paths['better']}"]):
        assert main(["evaluate", *args, "--format", "csv"]) == 0
        frame = pd.read_csv(StringIO(capsys.readouterr().out), index_col="system")
        assert list(frame.index) == ["base", "better"] and list(frame.columns) == ["AP", "P@5"]
        expected = frame if expected is None else expected
        assert frame.equals(expected)
    assert main(["evaluate", "--qrels", str(qrels), "--measures", "AP"]) == 2
    assert "no runs given" in capsys.readouterr().err


def test_compare_help_shows_a_single_percent_sign(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    out = capsys.readouterr().out
    assert "%%" not in out and "1 - alpha" in out and "--all-pairs" in out


# -- LaTeX and Markdown carry the statistics -----------------------------------------------------------------
def test_latex_and_markdown_carry_delta_ci_p_and_the_test(runs):
    qrels, paths = runs
    rep = compare(evaluate(qrels, paths, ["RR@10", "AP"]), baseline="base", test="wilcoxon")
    t = rep.to_dataframe()
    tex = rep.to_latex()
    assert tex.count(r"\begin{table}") == 2 and r"$\Delta$" in tex and "95\\% CI of $\\Delta$" in tex
    assert "Wilcoxon signed-rank test" in tex and "Holm correction" in tex
    for system in ("better", "mixed", "worse"):
        row = next(line for line in tex.splitlines() if line.startswith(f"{system} & RR@10 &"))
        cells = [c.strip() for c in row.removesuffix(r"\\").split("&")]
        assert cells[3] == f"{t.at[system, 'RR@10 delta']:+.4f}"
        assert cells[4] == f"[{t.at[system, 'RR@10 ci low']:+.4f}, {t.at[system, 'RR@10 ci high']:+.4f}]"
        p, pc = t.at[system, "RR@10 p-value"], t.at[system, "RR@10 p-value corrected"]
        assert cells[7] == (f"{p:.2e}" if p < 1e-3 else f"{p:.4f}")
        assert cells[8].startswith(f"{pc:.2e}" if pc < 1e-3 else f"{pc:.4f}")
        assert cells[8].endswith(r"$^{\dagger}$") == bool(t.at[system, "RR@10 reject"])
    # the p-value is Wilcoxon's, as the caption says
    x, y = rep.scores("better", "RR@10").to_numpy(), rep.scores("base", "RR@10").to_numpy()
    assert t.at["better", "RR@10 p-value"] == pytest.approx(stats.wilcoxon(x, y).pvalue, rel=1e-12)
    md = rep.to_markdown()
    assert "Details (vs base, Wilcoxon signed-rank test)" in md and "| p | p corrected |" in md


def test_confidence_follows_alpha_or_its_own_option(runs, capsys):
    qrels, paths = runs
    res = evaluate(qrels, paths, ["AP"])
    x, y = res.per_query("mixed")["AP"].to_numpy(), res.per_query("base")["AP"].to_numpy()
    for kwargs, level in (({"alpha": 0.01}, 0.99), ({"alpha": 0.05}, 0.95), ({"alpha": 0.01, "confidence": 0.9}, 0.9)):
        rep = compare(res, baseline="base", **kwargs)
        lo, hi = stats.ttest_rel(x, y).confidence_interval(level)
        t = rep.to_dataframe()
        assert (t.at["mixed", "AP ci low"], t.at["mixed", "AP ci high"]) == (pytest.approx(lo), pytest.approx(hi))
        assert f"{level * 100:.4g}% CI of Δ" in rep.to_markdown()
    args = ["compare", "--qrels", str(qrels), "--baseline", str(paths["base"]), str(paths["mixed"]), "--measures",
            "AP", "--alpha", "0.01", "--format", "json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["confidence"] == pytest.approx(0.99)


# -- randomisation test and bootstrap, against scipy ---------------------------------------------------------
def _scipy_permutation(x, y, n_resamples, seed):
    return stats.permutation_test((x, y), lambda a, b, axis: np.mean(a - b, axis=axis), permutation_type="samples",
                                  vectorized=True, n_resamples=n_resamples, alternative="two-sided",
                                  random_state=np.random.default_rng(seed)).pvalue


@pytest.mark.parametrize("seed", range(5))
def test_exact_randomisation_test_equals_scipy(seed):
    rng = np.random.default_rng(seed)
    n = 11  # 2^11 = 2048 sign patterns: both enumerate them all
    x = rng.integers(0, 5, size=n) / 4.0
    y = rng.integers(0, 5, size=n) / 4.0
    ours = permutation_p(x[None, :, None], y[:, None], permutations=10_000)[0, 0]
    assert ours == pytest.approx(_scipy_permutation(x, y, 10_000, seed), rel=1e-12)


def test_sampled_randomisation_test_agrees_with_scipy_and_is_seeded(runs):
    rng = np.random.default_rng(7)
    n = 60
    base = rng.uniform(size=n)
    for shift in (0.0, 0.05, 0.12):
        x = np.clip(base + shift + rng.normal(0, 0.2, size=n), 0, 1)
        ours = permutation_p(x[None, :, None], base[:, None], permutations=20_000, seed=1)[0, 0]
        theirs = _scipy_permutation(x, base, 20_000, 2)
        # two independent Monte Carlo estimates of one p-value: within 4 standard errors
        se = math.sqrt(max(theirs * (1 - theirs), 1e-4) / 20_000)
        assert abs(ours - theirs) <= 4 * se + 1e-4, (shift, ours, theirs)
        assert ours == permutation_p(x[None, :, None], base[:, None], permutations=20_000, seed=1)[0, 0]
    same = permutation_p(base[None, :, None], base[:, None])
    assert math.isnan(same[0, 0])  # identical: no test


def test_bootstrap_interval_agrees_with_scipy():
    rng = np.random.default_rng(3)
    n = 80
    diff = rng.normal(0.03, 0.15, size=n)
    y = rng.uniform(size=n)
    x = y + diff
    low, high = bootstrap_ci(x[None, :, None], y[:, None], confidence=0.95, resamples=20_000, seed=5)
    ref = stats.bootstrap((diff,), np.mean, confidence_level=0.95, n_resamples=20_000, method="percentile",
                          random_state=np.random.default_rng(11)).confidence_interval
    width = ref.high - ref.low
    assert abs(low[0, 0] - ref.low) < 0.05 * width and abs(high[0, 0] - ref.high) < 0.05 * width
    # seeded: the same seed gives the same interval
    again = bootstrap_ci(x[None, :, None], y[:, None], confidence=0.95, resamples=20_000, seed=5)
    assert (again[0][0, 0], again[1][0, 0]) == (low[0, 0], high[0, 0])


def test_compare_with_randomisation_test_and_bootstrap_interval(runs, capsys):
    qrels, paths = runs
    res = evaluate(qrels, paths, ["RR@10"])
    rep = compare(res, baseline="base", test="permutation", ci="bootstrap", permutations=5000, resamples=5000, seed=3)
    t = rep.to_dataframe()
    for system in ("better", "mixed", "worse"):
        x, y = rep.scores(system, "RR@10").to_numpy(), rep.scores("base", "RR@10").to_numpy()
        p = permutation_p(x[None, :, None], y[:, None], 5000, 3)[0, 0]
        lo, hi = bootstrap_ci(x[None, :, None], y[:, None], 0.95, 5000, 3)
        assert t.at[system, "RR@10 p-value"] == pytest.approx(p)
        assert (t.at[system, "RR@10 ci low"], t.at[system, "RR@10 ci high"]) == (pytest.approx(lo[0, 0]),
                                                                                  pytest.approx(hi[0, 0]))
    assert "paired randomisation test" in rep.to_markdown() and "percentile bootstrap" in rep.to_markdown()
    assert main(["compare", "--qrels", str(qrels), "--baseline", str(paths["base"]), str(paths["better"]),
                 "--measures", "RR@10", "--test", "permutation", "--ci", "bootstrap", "--seed", "3",
                 "--permutations", "5000", "--resamples", "5000", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["test"] == "paired randomisation test" and data["settings"]["seed"] == 3
    assert data["systems"][1]["RR@10"]["p-value"] == pytest.approx(t.at["better", "RR@10 p-value"])


# -- all pairs -----------------------------------------------------------------------------------------------
def test_all_pairs_equals_scipy_and_statsmodels_and_marks_winners(runs, capsys):
    qrels, paths = runs
    res = evaluate(qrels, paths, ["RR@10", "AP"])
    rep = compare_all_pairs(res)
    pairs = rep.to_dataframe()
    names = list(paths)
    assert len(pairs) == 2 * len(names) * (len(names) - 1) // 2
    for m in ("RR@10", "AP"):
        rows = pairs[pairs.measure == m]
        raw = []
        for r in rows.itertuples(index=False):
            x, y = res.per_query(r.system)[m].to_numpy(), res.per_query(r.other)[m].to_numpy()
            raw.append(stats.ttest_rel(x, y).pvalue)
            assert names.index(r.other) < names.index(r.system)
            assert r.delta == pytest.approx((x - y).mean())
        assert rows["p-value"].tolist() == pytest.approx(raw, rel=1e-12)
        reject, corrected, _, _ = multipletests(raw, method="holm")
        assert rows["p-value corrected"].tolist() == pytest.approx(corrected.tolist(), rel=1e-12)
        assert rows["reject"].tolist() == reject.tolist()
    # better beats base (a), mixed (c) and worse (d) on RR@10; base beats worse
    assert rep.letters == {"base": "a", "better": "b", "mixed": "c", "worse": "d"}
    assert rep.beats("better", "RR@10") == ["base", "mixed", "worse"] and rep.markers("better", "RR@10") == "acd"
    md = rep.to_markdown()
    better_row = next(line for line in md.splitlines() if line.startswith("| b | better |"))
    assert f"{res.aggregate().at['better', 'RR@10']:.4f}<sup>acd</sup>" in better_row
    assert "$^{acd}$" in rep.to_latex() and "6 pairs per measure" in rep.summary()
    assert main(["compare", "--qrels", str(qrels), "--all-pairs", *map(str, paths.values()), "--measures", "RR@10",
                 "--format", "csv"]) == 0
    frame = pd.read_csv(StringIO(capsys.readouterr().out))
    assert frame["p-value corrected"].tolist() == pytest.approx(pairs[pairs.measure == "RR@10"]["p-value corrected"].tolist())


def test_all_pairs_needs_two_systems_and_a_known_correction(runs):
    qrels, paths = runs
    res = evaluate(qrels, {"base": paths["base"]}, ["AP"])
    with pytest.raises(EspladeError, match="at least two systems"):
        compare_all_pairs(res)
    with pytest.raises(EspladeError, match="unknown correction"):
        compare_all_pairs(evaluate(qrels, paths, ["AP"]), correction="magic")


# -- per-query output in trec_eval -q form -------------------------------------------------------------------
def test_trec_eval_text_lists_every_query_then_all(runs, capsys):
    qrels, paths = runs
    res = evaluate(qrels, {"better": paths["better"]}, ["ndcg_cut.10", "P.5", "RR@10", "NumRet"])
    text = trec_eval_text(res, "better")
    lines = [line.split("\t") for line in text.splitlines()]
    assert all(len(parts) == 3 and len(parts[0]) == 22 for parts in lines)
    per_q = [p for p in lines if p[1] != "all"]
    assert len(per_q) == N * 4 and per_q[0] == ["ndcg_cut_10".ljust(22), "q00", "0.6309"]  # rank 2: 1/log2(3)
    assert {p[0].strip() for p in per_q} == {"ndcg_cut_10", "P_5", "RR@10", "num_ret"}
    assert ["num_ret".ljust(22), "q00", "6"] in lines  # counts print as integers
    assert lines[-6][1:] == ["all", "better"] and lines[-5] == ["num_q".ljust(22), "all", str(N)]
    assert main(["evaluate", "--qrels", str(qrels), str(paths["better"]), "--measures", "ndcg_cut.10", "P.5",
                 "RR@10", "NumRet", "--per-query", "--format", "trec_eval"]) == 0
    assert capsys.readouterr().out == text
    assert main(["evaluate", "--qrels", str(qrels), *map(str, paths.values()), "--format", "trec_eval"]) == 2
    assert "prints one run" in capsys.readouterr().err


@pytest.mark.slow
def test_trec_eval_text_equals_pyserini_trec_eval_q(demo_runs):
    from evaluate_support import java_env

    qrels, run = demo_runs.qrels, demo_runs.runs["d16-q4"]
    res = evaluate(qrels, {"run": run}, ["ndcg_cut.10", "map", "recall.100", "P.5", "bpref", "Rprec"])
    ours = {(p[0].strip(), p[1]): p[2] for p in (line.split("\t") for line in trec_eval_text(res, "run").splitlines())}
    out = subprocess.run([sys.executable, "-m", "pyserini.eval.trec_eval", "-q", "-c", "-m", "ndcg_cut.10", "-m", "map",
                          "-m", "recall.100", "-m", "P.5", "-m", "bpref", "-m", "Rprec", str(qrels), str(run)],
                         env=java_env(), capture_output=True, text=True, check=True).stdout
    theirs = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] != "runid":
            theirs[(parts[0], parts[1])] = parts[2]
    assert len(theirs) > 6 * 100
    compared = 0
    for key, value in theirs.items():
        if key in ours:
            assert float(ours[key]) == pytest.approx(float(value), abs=0.5e-4 + 1e-12), key
            compared += 1
    assert compared == len(theirs)  # every line trec_eval prints, the 'all' means included
    assert int(ours[("num_q", "all")]) == len(res.queries) == len(theirs) // 6 - 1


# -- runs as DataFrames ----------------------------------------------------------------------------------------
def test_dataframe_runs_and_qrels_are_read_or_refused(runs):
    qrels, paths = runs
    from esplade_eval.data.trec import read_qrels, read_run

    run = read_run(paths["better"])
    long = pd.DataFrame([(q, d, s) for q, docs in run.items() for d, s in docs.items()],
                        columns=["qid", "docno", "score"])  # PyTerrier's column names
    qrels_frame = pd.DataFrame([(q, d, g) for q, docs in read_qrels(qrels).items() for d, g in docs.items()],
                               columns=["query_id", "doc_id", "relevance"])  # ir_measures'
    a = evaluate(qrels, {"x": paths["better"]}, ["AP"]).aggregate().at["x", "AP"]
    b = evaluate(qrels_frame, {"x": long}, ["AP"]).aggregate().at["x", "AP"]
    assert a == b and a > 0.5
    with pytest.raises(EspladeError, match="needs a column 'score'"):
        evaluate(qrels, {"x": long.drop(columns="score")}, ["AP"])
    with pytest.raises(EspladeError, match="twice for query"):
        evaluate(qrels, {"x": pd.concat([long, long.iloc[:1]])}, ["AP"])
    with pytest.raises(EspladeError, match="a run must be"):
        evaluate(qrels, {"x": [("q00", "rel0", 1.0)]}, ["AP"])


# -- layering: the data classes do not import what renders or compares them ------------------------------------
def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_evaluate_package_has_no_import_cycle():
    import esplade_eval.evaluate as pkg

    root = Path(pkg.__file__).parent
    graph = {p.stem: {n.rsplit(".", 1)[-1] for n in _imports(p) if n.startswith("esplade_eval.evaluate.")}
             for p in root.glob("*.py") if p.stem != "__init__"}
    assert "compare" not in graph["metrics"] and "report" not in graph["metrics"]
    assert "compare" not in graph["report"]

    def reach(start, seen=None):
        seen = set() if seen is None else seen
        for nxt in graph.get(start, ()):
            if nxt not in seen:
                seen.add(nxt)
                reach(nxt, seen)
        return seen

    assert all(name not in reach(name) for name in graph), graph


# -- ir_datasets: local cache only ----------------------------------------------------------------------------
def _esplade_eval(args, home, cwd):
    env = dict(os.environ, IR_DATASETS_HOME=str(home))  # read by ir_datasets when it is imported
    return subprocess.run([sys.executable, "-m", "esplade_eval", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_irds_reads_a_locally_created_cache_and_never_downloads(tmp_path):
    if importlib.util.find_spec("ir_datasets") is None:  # not imported here: its import creates its home folder
        pytest.skip("ir_datasets is not installed (it is in the test extra)")
    home = tmp_path / "irds"
    (home / "vaswani").mkdir(parents=True)
    # ir_datasets' own cache files for "vaswani", in its formats (query: id, text, "/"; qrels: id, docs, "   /")
    (home / "vaswani" / "queries.txt").write_text("1\nMEASUREMENT OF DIELECTRIC CONSTANT\n/\n2\nTRANSISTORS\n/\n")
    (home / "vaswani" / "qrels.txt").write_text("1\n 3 7\n 12\n   /\n2\n 5\n   /\n")
    run = tmp_path / "run.txt"
    run.write_text("1 Q0 7 1 3.0 r\n1 Q0 9 2 2.0 r\n1 Q0 3 3 1.0 r\n2 Q0 5 1 1.0 r\n")
    done = _esplade_eval(["evaluate", "--qrels", "irds:vaswani", "--topics", "irds:vaswani", str(run), "--measures",
                          "AP", "--per-query", "--format", "csv"], home, tmp_path)
    assert done.returncode == 0, done.stderr
    frame = pd.read_csv(StringIO(done.stdout), dtype={"qid": str}).set_index("qid")
    assert frame.loc["1", "AP"] == pytest.approx((1 + 2 / 3) / 3) and frame.loc["2", "AP"] == 1.0
    missing = _esplade_eval(["evaluate", "--qrels", "irds:vaswani", str(run)], tmp_path / "empty-home", tmp_path)
    assert missing.returncode == 2
    assert "irds:vaswani: its qrels are not in ir_datasets' local cache" in missing.stderr
    assert "nothing is downloaded" in missing.stderr and "Download failed" not in missing.stderr
    unknown = _esplade_eval(["evaluate", "--qrels", "irds:no-such-set", str(run)], home, tmp_path)
    assert unknown.returncode == 2 and "ir_datasets has no dataset of that name" in unknown.stderr


def test_irds_without_ir_datasets_is_a_clear_error(runs, tmp_path):
    qrels, paths = runs
    code = ("import sys; sys.modules['ir_datasets'] = None\n"  # as if it were not installed
            "from esplade_eval.cli import main\n"
            f"sys.exit(main(['evaluate', '--qrels', 'irds:vaswani', {str(paths['base'])!r}]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, IR_DATASETS_HOME=str(tmp_path / "home")))
    assert done.returncode == 2
    assert "irds:vaswani: ir_datasets is not installed" in done.stderr and "esplade_eval[irds]" in done.stderr
