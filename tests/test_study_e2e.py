"""The smoke study end to end (real training steps, real Lucene indexes), its cache and its resume.

One uninterrupted run of ``configs/smoke.toml`` is shared by the session (``smoke_study``
in conftest). The other tests work on hard-linked copies of its work folder, so each one
only computes what it removes or adds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SMOKE_CONFIG, run_study_cli

pytestmark = pytest.mark.slow
TIMING = ("latency_ms_mean", "latency_ms_p50", "latency_ms_p95")
ARMS = ("lee-lr1e-3-r1", "titles-lr1e-3-r1", "lee-lr1e-3-r2")


def records(work: Path) -> dict[str, dict]:
    return {str(p.relative_to(work)): json.loads(p.read_text()) for p in sorted(work.glob("stages/*/*/record.json"))}


def clone(work: Path, dest: Path) -> Path:
    """A copy of a work folder sharing the files (hard links): stages are never modified in place."""
    shutil.copytree(work, dest, copy_function=os.link)
    return dest


def tables(results: Path) -> dict:
    """The results' tables with the timing fields (latency) left out."""
    grid = pd.read_csv(results / "grid.csv")
    seeds = pd.read_csv(results / "per_seed.csv")
    return {"grid": grid.drop(columns=[c for c in grid.columns if c.startswith(TIMING)]),
            "per_seed": seeds.drop(columns=list(TIMING)),
            "findings": json.loads((results / "findings.json").read_text()),
            "vs_bm25": json.loads((results / "results.json").read_text())["vs_bm25"]}


def assert_same_tables(a: Path, b: Path) -> None:
    ta, tb = tables(a), tables(b)
    pd.testing.assert_frame_equal(ta["grid"], tb["grid"], check_exact=True)
    pd.testing.assert_frame_equal(ta["per_seed"], tb["per_seed"], check_exact=True)
    assert ta["findings"] == tb["findings"]
    assert ta["vs_bm25"] == tb["vs_bm25"]


def test_smoke_study_runs_every_cell(smoke_study):
    res, work = smoke_study.results, smoke_study.work
    seeds = pd.read_csv(res / "per_seed.csv")
    for arm in ARMS + ("esplade-no-mlm",):
        part = seeds[seeds["system"] == arm]
        assert sorted(zip(part["seed"], part["level"])) == [(0, "d8-q4"), (0, "full"), (1, "d8-q4"), (1, "full")], arm
    assert set(seeds[seeds["system"] == "bm25"]["level"]) == {"-"}
    assert len(seeds[seeds["system"] == "splade-tiny-zs"]) == 2
    # real training: every arm pre-trained for real steps on its corpus, repeats meaning passes
    pretrain = {r["name"]: r["outputs"]["summary"] for r in records(work).values() if r["kind"] == "pretrain"}
    for seed in (0, 1):
        one, two = pretrain[f"lee-lr1e-3-r1.s{seed}"], pretrain[f"lee-lr1e-3-r2.s{seed}"]
        assert one["steps"] > 0 and one["tokens_seen"] > 0 and two["steps"] > one["steps"]
        assert two["budget"]["passes"] == 2 * one["budget"]["passes"]  # repeats = 2: twice the passes
        assert two["passes_over_corpus"] > 1.5 * one["passes_over_corpus"]  # (whole steps round them)
        assert pretrain[f"esplade-no-mlm.s{seed}"]["steps"] == 0
        # the study's documents (the first 600 Semanlink titles) are kept out of the titles corpus
        titles = pretrain[f"titles-lr1e-3-r1.s{seed}"]["eval_docs"]
        assert titles["excluded"] and titles["sources"][0].endswith("semanlink-first600/corpus.jsonl")
        assert 500 < titles["dropped_texts"]["titles"] <= 600 and titles["documents"] <= 600
        assert 0 <= one["heldout_mlm"]["titles"]["accuracy"] <= 1
    # real Lucene indexes, one per level of every flow
    indexes = list(work.glob("stages/flow/*/indexes/*"))
    assert len(indexes) == 2 * 9 and all(any(i.glob("segments_*")) for i in indexes)
    assert any((work / "stages" / "bm25").glob("*/index/segments_*"))
    summary = (res / "summary.md").read_text()
    assert "were kept out of pre-training and the vocabulary" in summary
    for arm in ARMS:
        assert f"| {arm} | full |" in summary and f"| {arm} | d8-q4 |" in summary
    verdicts = {f["name"]: f["verdict"] for f in json.loads((res / "findings.json").read_text())}
    assert set(verdicts) == {"general_high_lr", "cost", "repeats"}
    assert set(verdicts.values()) <= {"supported", "contradicted", "inconclusive"}
    for name, verdict in verdicts.items():
        assert f"{name}: {verdict}" in smoke_study.proc.stdout
    for png in ("ndcg_vs_postings", "mlm_vs_ndcg", "posting_lengths_strictest"):
        assert (res / "plots" / f"{png}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tables_follow_from_the_per_query_values(smoke_study):
    """Means, seed statistics and the paired tests, recomputed here from per_query.csv.gz with scipy."""
    from scipy import stats

    res = smoke_study.results
    pq = pd.read_csv(res / "per_query.csv.gz", dtype={"qid": str})
    grid = pd.read_csv(res / "grid.csv").set_index(["system", "level"])
    arm = "titles-lr1e-3-r1"
    per_seed = pq[(pq["system"] == arm) & (pq["level"] == "d8-q4")].groupby("seed")["nDCG@10"].mean()
    assert grid.loc[(arm, "d8-q4"), "nDCG@10 mean"] == pytest.approx(per_seed.mean(), abs=1e-12)
    assert grid.loc[(arm, "d8-q4"), "nDCG@10 sd"] == pytest.approx(per_seed.std(ddof=1), abs=1e-12)

    def seed_avg(system, level):
        part = pq[(pq["system"] == system) & (pq["level"] == level)]
        return part.groupby("qid")["nDCG@10"].mean().sort_index()

    vs = {(c["a"], c["level_a"]): c for c in json.loads((res / "results.json").read_text())["vs_bm25"]}
    a, b = seed_avg(arm, "full"), seed_avg("bm25", "-")
    assert list(a.index) == list(b.index)
    c = vs[(arm, "full")]
    assert c["delta"] == pytest.approx(float((a - b).mean()), abs=1e-12)
    assert c["p_query"] == pytest.approx(stats.ttest_rel(a.to_numpy(), b.to_numpy()).pvalue, rel=1e-9)
    # the seed-aware p: each system's seed variance its own (BM25 has one run)
    from esplade_eval.evaluate.seeds import compare_seeds

    runs = pq[(pq.system == arm) & (pq.level == "full")].pivot(index="qid", columns="seed", values="nDCG@10")
    seed_aware = compare_seeds(runs.sort_index().to_numpy(), b.to_numpy(), seeds="independent")
    assert c["p"] == pytest.approx(seed_aware.p, rel=1e-9) and c["df"] == pytest.approx(seed_aware.df, rel=1e-9)
    seed_diffs = [pq[(pq.system == arm) & (pq.level == "full") & (pq.seed == s)]["nDCG@10"].mean() - b.mean()
                  for s in (0, 1)]
    assert c["seeds_same_sign"] == sum(np.sign(d) == np.sign(c["delta"]) for d in seed_diffs)
    # one Holm family per level: corrected p-values are statsmodels' on the family's raw p-values
    from statsmodels.stats.multitest import multipletests

    family = [x for x in vs.values() if x["level_a"] == "full"]
    expected = multipletests([x["p"] for x in family], method="holm")[1]
    assert [x["p_holm"] for x in family] == pytest.approx(list(expected), rel=1e-9)
    # every pair at the strictest level (compare_all_pairs): BM25 through its only run, Holm per measure
    pairs = json.loads((res / "results.json").read_text())["all_pairs"]
    assert set(pairs) == {"full", "d8-q4"} and "bm25" in pairs["d8-q4"]["systems"]
    ndcg = [p for p in pairs["d8-q4"]["pairs"] if p["measure"] == "nDCG@10"]
    k = len(pairs["d8-q4"]["systems"])
    assert len(ndcg) == k * (k - 1) // 2
    one = next(p for p in ndcg if {p["system"], p["other"]} == {arm, "bm25"})
    x, y = seed_avg(one["system"], "d8-q4" if one["system"] != "bm25" else "-"), \
        seed_avg(one["other"], "d8-q4" if one["other"] != "bm25" else "-")
    assert one["delta"] == pytest.approx(float((x - y).mean()), abs=1e-12)
    assert one["p-value (queries only)"] == pytest.approx(stats.ttest_rel(x.to_numpy(), y.to_numpy()).pvalue, rel=1e-9)
    runs_of = {s: seed_avg(s, "-").to_numpy() if s == "bm25" else  # BM25: its one run
               pq[(pq.system == s) & (pq.level == "d8-q4")].pivot(index="qid", columns="seed", values="nDCG@10")
               .sort_index().to_numpy() for s in (one["system"], one["other"])}
    assert one["p-value"] == pytest.approx(compare_seeds(runs_of[one["system"]], runs_of[one["other"]],
                                                         seeds="independent").p, rel=1e-9)
    expected = multipletests([p["p-value"] for p in ndcg], method="holm")[1]
    assert [p["p-value corrected"] for p in ndcg] == pytest.approx(list(expected), rel=1e-9)
    assert "## Level `d8-q4`" in (res / "pairs.md").read_text() and "\\begin{tabular}" in (res / "pairs.tex").read_text()


def test_second_invocation_recomputes_nothing(smoke_study, tmp_path):
    work = clone(smoke_study.work, tmp_path / "work")
    before = records(work)
    stamps = {p: p.stat().st_mtime_ns for p in work.glob("stages/*/*/record.json")}
    proc = run_study_cli(SMOKE_CONFIG, work, tmp_path / "results")
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = json.loads((tmp_path / "results" / "results.json").read_text())["run"]
    assert run["stages"] and {s["status"] for s in run["stages"]} == {"cached"}
    assert records(work) == before
    assert {p: p.stat().st_mtime_ns for p in work.glob("stages/*/*/record.json")} == stamps
    assert_same_tables(smoke_study.results, tmp_path / "results")


def _wait_for(pattern_root: Path, pattern: str, proc, timeout: float = 900) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(pattern_root.glob(pattern))
        if found:
            return found[0]
        if proc.poll() is not None:
            raise AssertionError(f"the study ended before {pattern} appeared: {proc.stdout.read()[-2000:]}")
        time.sleep(0.2)
    raise AssertionError(f"{pattern} did not appear in {timeout} s")


def test_killed_mid_stage_then_rerun_gives_the_same_tables(smoke_study, tmp_path):
    """SIGKILL while a fine-tuning stage is being written; the rerun completes the grid identically."""
    work = clone(smoke_study.work, tmp_path / "work")
    victim = "lee-lr1e-3-r2.s1"
    for kind in ("finetune", "flow", "evaluate", "cost"):  # its pre-training stays: the kill comes in fine-tuning
        for folder in work.glob(f"stages/{kind}/{victim}*"):
            shutil.rmtree(folder)
    cmd = [sys.executable, "-m", "esplade_eval", "study", SMOKE_CONFIG, "--work", str(work), "--results",
           str(tmp_path / "killed"), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=Path(SMOKE_CONFIG).parent.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        tmp = _wait_for(work / "stages" / "finetune", f".{victim}-*.tmp", proc)
        time.sleep(1.0)  # inside the stage: the model is loading or training
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert tmp.exists() and not list((work / "stages" / "finetune").glob(f"{victim}-*"))  # nothing looks complete
    assert not (tmp_path / "killed").exists()
    done = run_study_cli(SMOKE_CONFIG, work, tmp_path / "resumed")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "unfinished stage folder" in done.stdout and not tmp.exists()
    statuses = {(s["kind"], s["name"]): s["status"] for s in
                json.loads((tmp_path / "resumed" / "results.json").read_text())["run"]["stages"]}
    assert statuses[("pretrain", victim)] == "cached" and statuses[("finetune", victim)] == "ran"
    assert sum(s == "ran" for s in statuses.values()) == 5  # finetune, flow, evaluate, 2 x cost
    assert_same_tables(smoke_study.results, tmp_path / "resumed")


def test_a_failing_cell_is_reported_and_the_rest_continue(smoke_study, tmp_path):
    """An arm whose corpus holds no text fails its pre-training; its dependants are skipped, exit status 1."""
    work = clone(smoke_study.work, tmp_path / "work")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    config = tmp_path / "smoke-plus.toml"
    config.write_text(Path(SMOKE_CONFIG).read_text() + f'\n[[arms]]\nname = "empty"\ncorpus = "{empty}"\n')
    proc = run_study_cli(config, work, tmp_path / "results")
    assert proc.returncode == 1
    out = json.loads((tmp_path / "results" / "results.json").read_text())
    status = {(s["kind"], s["name"]): s for s in out["run"]["stages"]}
    assert status[("pretrain", "empty.s0")]["status"] == "failed"
    assert "no text" in status[("pretrain", "empty.s0")]["error"]
    assert status[("finetune", "empty.s0")]["status"] == "skipped"
    assert status[("pretrain", "lee-lr1e-3-r1.s0")]["status"] == "cached"  # the rest is untouched
    assert "## Failures" in (tmp_path / "results" / "summary.md").read_text()
    assert "failed: pretrain empty.s0" in proc.stdout
    assert list((work / "stages" / "pretrain").glob("empty.s0-*.failed.json"))
    seeds = pd.read_csv(tmp_path / "results" / "per_seed.csv")
    assert "empty" not in set(seeds["system"]) and set(ARMS) <= set(seeds["system"])


def test_notebook_renders_the_smoke_results(smoke_study, tmp_path):
    """``esplade-eval notebook notebooks/study.ipynb -p results <smoke results>``: tables and the three plots."""
    import nbformat

    from esplade_eval.cli import main
    from esplade_eval.evaluate.notebook import image_outputs

    notebook = Path(__file__).resolve().parent.parent / "notebooks" / "study.ipynb"
    source = nbformat.read(notebook, as_version=4)
    assert all(not c.outputs for c in source.cells if c.cell_type == "code")  # committed without outputs
    assert any("parameters" in c.metadata.get("tags", []) for c in source.cells)
    out = tmp_path / "study.ipynb"
    assert main(["notebook", str(notebook), "--output", str(out), "-p", "results", str(smoke_study.results)]) == 0
    nb = nbformat.read(out, as_version=4)
    assert image_outputs(nb) == 3
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    shown = "".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
    for f in json.loads((smoke_study.results / "findings.json").read_text()):
        assert f"Verdict: **{f['verdict']}**" in shown
    assert "## Level `d8-q4`" in shown  # every pair of systems (pairs.md)
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "lee-lr1e-3-r2" in html and "±" in html


def test_an_edit_to_errors_py_leaves_every_stage_cached(smoke_study, tmp_path):
    """A stage's key is its params, inputs, kind VERSION and the package version, not its sources:
    after a one-line edit to ``esplade_eval/errors.py`` (in a copy of the package), ``study --dry-run``
    still finds every stage of the finished smoke study cached."""
    import esplade_eval

    package = Path(esplade_eval.__file__).resolve().parent
    copy = tmp_path / "src"
    shutil.copytree(package, copy / "esplade_eval", ignore=shutil.ignore_patterns("__pycache__"))
    errors = copy / "esplade_eval" / "errors.py"
    errors.write_text(errors.read_text(encoding="utf-8") + "# a one-line edit\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    proc = subprocess.run([sys.executable, "-m", "esplade_eval", "study", SMOKE_CONFIG, "--work",
                           str(smoke_study.work), "--results", str(tmp_path / "results"), "--dry-run"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "# a one-line edit" in errors.read_text(encoding="utf-8")
    total = next(line for line in proc.stdout.splitlines() if line.startswith("total:"))
    n = len(records(smoke_study.work))
    assert n > 50 and total.startswith(f"total: {n} of {n} stages cached"), total


FINGERPRINTS = Path(__file__).with_name("stage_fingerprints.json")


def kind_fingerprints(work: Path) -> dict[str, str]:
    """One SHA-256 per stage kind over its stages' fingerprints (in name order)."""
    import hashlib

    from esplade_eval.study.stages import fingerprint

    per: dict[str, list] = {}
    for path, record in records(work).items():
        folder = (work / path).parent
        per.setdefault(record["kind"], []).append((record["name"], fingerprint(record["kind"], folder, record)))
    return {k: hashlib.sha256(json.dumps(sorted(v)).encode()).hexdigest() for k, v in per.items()}


def test_a_kinds_results_change_only_with_its_version(smoke_study):
    """The smoke study's results per stage kind are the committed ones for the kind's VERSION: a
    change of results without a VERSION bump fails here (bump it, and record the new fingerprint)."""
    from esplade_eval.study.stages import KINDS

    committed = json.loads(FINGERPRINTS.read_text(encoding="utf-8"))["kinds"]
    found = kind_fingerprints(smoke_study.work)
    assert set(found) == {"vocab", "pretrain", "finetune", "flow", "bm25", "evaluate", "cost"} <= set(committed)
    for kind, fp in found.items():
        version = KINDS[kind].VERSION
        assert committed[kind]["version"] == version, \
            f"{kind}: VERSION {version}; record its fingerprint {fp} in {FINGERPRINTS.name}"
        assert committed[kind]["fingerprint"] == fp, \
            f"{kind}: results changed while VERSION stayed {version}: bump VERSION, record fingerprint {fp}"


def test_results_state_the_vocabulary_and_its_query_coverage(smoke_study):
    """results.json's vocabulary section is the vocab stage's vocabulary, its coverage recomputed
    here from the vocabulary file and the collection's topics; summary.md states it."""
    from esplade_eval.data.collection import Collection
    from esplade_eval.train.coverage import query_coverage

    section = json.loads((smoke_study.results / "results.json").read_text())["vocabulary"]
    [(path, record)] = [(p, r) for p, r in records(smoke_study.work).items() if r["kind"] == "vocab"]
    words = (smoke_study.work / path).parent.joinpath(record["outputs"]["vocab"]).read_text().split()
    collection = Collection(smoke_study.work / "data" / "semanlink-first600")  # [collection] documents = 600
    cov = query_coverage(words, collection.read_topics("test"), "test")
    assert section["size"] == len(words) == 2000 and section["sources"]["corpora"] == ["lee", "titles"]
    assert section["sources"]["collection_text"] is False  # configs/smoke.toml: the corpora only
    assert section["test_query_token_coverage"] == cov.share and 0 < cov.share < 1
    assert section["test_queries_without_a_word"] == cov.queries_without_a_word
    assert "Output vocabulary: 2,000 words from the pre-training corpora lee, titles." in \
        (smoke_study.results / "summary.md").read_text()
