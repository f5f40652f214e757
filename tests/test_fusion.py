"""Run fusion: RRF and min-max interpolation against a naive re-implementation and Pyserini's own fusion,
on real BM25 + SPLADE runs of the bundled collection; the fused run passes check-run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from esplade_eval.cli import main
from esplade_eval.data.trec import read_run, write_run
from esplade_eval.errors import EspladeError
from esplade_eval.evaluate import check_run, evaluate
from esplade_eval.evaluate.fusion import fuse, interpolate, rrf, write_fused

A = {"q1": {"d1": 9.0, "d2": 7.0, "d3": 7.0, "d4": 1.0}, "q2": {"x": 1.0}}
B = {"q1": {"d3": 0.9, "d5": 0.5, "d1": 0.1}, "q3": {"y": 2.0, "z": 2.0}}


def naive_ranks(run):
    """Ranks by (-score, docid), written out the long way."""
    out = {}
    for q, docs in run.items():
        order = sorted(docs, key=lambda d: (-docs[d], d))
        out[q] = {d: i + 1 for i, d in enumerate(order)}
    return out


def test_rrf_equals_the_formula():
    fused = rrf([A, B], k=60)
    ra, rb = naive_ranks(A), naive_ranks(B)
    for q in ("q1", "q2", "q3"):
        docs = set(ra.get(q, {})) | set(rb.get(q, {}))
        for d in docs:
            expected = sum(1 / (60 + r[q][d]) for r in (ra, rb) if q in r and d in r[q])
            assert fused[q][d] == pytest.approx(expected, rel=1e-15)
    # ties in the input are ranked by docid: d2 (rank 2) before d3 (rank 3) in A
    assert fused["q1"]["d2"] == pytest.approx(1 / 62)
    assert rrf([A, B], depth=1)["q1"] == pytest.approx({"d1": 1 / 61, "d3": 1 / 61})


def test_interpolation_after_min_max():
    fused = interpolate([A, B], weights=[0.3, 0.7])
    # A q1: min 1, max 9 -> d1 1, d2 .75, d3 .75, d4 0; B q1: min .1, max .9 -> d3 1, d5 .5, d1 0
    assert fused["q1"] == pytest.approx({"d1": 0.3, "d2": 0.225, "d3": 0.225 + 0.7, "d4": 0.0, "d5": 0.35})
    assert fused["q3"] == pytest.approx({"y": 0.7, "z": 0.7})  # equal scores normalise to 1
    with pytest.raises(EspladeError, match="2 weights for 3 runs"):
        interpolate([A, B, A], weights=[1, 1])
    with pytest.raises(EspladeError, match="at least two runs"):
        rrf([A])
    with pytest.raises(EspladeError, match="weights apply to interpolation"):
        fuse([A, B], method="rrf", weights=[1, 1])


def test_written_fused_run_is_ranked_and_passes_check_run(tmp_path):
    out = tmp_path / "fused.txt"
    write_fused(out, rrf([A, B], hits=2), tag="rrf")
    assert check_run(out).ok
    lines = [line.split() for line in out.read_text().splitlines()]
    assert [(q, d, r) for q, _, d, r, _, _ in lines] == [("q1", "d1", "1"), ("q1", "d3", "2"), ("q2", "x", "1"),
                                                          ("q3", "y", "1"), ("q3", "z", "2")]
    assert float(lines[0][4]) == rrf([A, B])["q1"]["d1"]  # full precision, round-trips exactly


def test_fuse_cli_checks_its_output(tmp_path, capsys):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    write_run(a, A, tag="a")
    write_run(b, B, tag="b")
    out = tmp_path / "out" / "fused.txt"
    assert main(["fuse", str(a), str(b), "--output", str(out), "--method", "interpolate", "--weights", "1", "3"]) == 0
    assert ": ok (" in capsys.readouterr().out
    assert read_run(out)["q1"] == pytest.approx(interpolate([A, B], weights=[1, 3])["q1"])
    assert main(["fuse", str(a), "--output", str(out)]) == 2
    capsys.readouterr()
    assert main(["fuse", str(a), str(b), "--output", str(a)]) == 2
    assert f"{a}: --output is the input RUN {a}" in capsys.readouterr().err


@pytest.fixture(scope="module")
def hybrid_inputs(demo_runs, semanlink, tmp_path_factory):
    """Real runs on the Semanlink test topics: Pyserini BM25 over the titles and SPLADE-tiny (unpruned)."""
    from evaluate_support import bm25_runs

    bm25 = bm25_runs(str(semanlink.corpus), str(semanlink.topics("test")),
                     str(tmp_path_factory.getbasetemp() / "evaluate-bm25"))["bm25"]
    work = tmp_path_factory.mktemp("fusion")
    # Re-written ranked by (-score, docid), so the file ranks are the ones both fusers use.
    paths = {"bm25": work / "bm25.txt", "splade": work / "splade.txt"}
    write_run(paths["bm25"], read_run(bm25), tag="bm25")
    write_run(paths["splade"], read_run(demo_runs.runs["full"]), tag="splade")
    return paths, work


def _pyserini_fusion(paths, out, method, extra=()):
    from evaluate_support import java_env

    subprocess.run([sys.executable, "-m", "pyserini.fusion", "--runs", *map(str, paths), "--output", str(out),
                    "--method", method, "--depth", "1000", "--k", "1000", *extra],
                   check=True, env=java_env(), capture_output=True, text=True)
    return read_run(out)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["rrf", "interpolate"])
def test_fusion_of_real_bm25_and_splade_runs_equals_pyserini(hybrid_inputs, demo_runs, method, capsys):
    paths, work = hybrid_inputs
    out = work / f"ours.{method}.txt"
    args = ["fuse", str(paths["bm25"]), str(paths["splade"]), "--output", str(out), "--method", method,
            "--topics", str(demo_runs.topics)]
    if method == "interpolate":
        args += ["--weights", "1", "1"]  # Pyserini's "normalize": min-max, then the plain sum
    assert main(args) == 0
    assert check_run(out, max_hits=1000).ok
    ours = read_run(out)
    theirs = _pyserini_fusion(paths.values(), work / f"pyserini.{method}.txt",
                              "rrf" if method == "rrf" else "normalize")
    assert set(ours) == set(theirs) and len(ours) > 150
    for q in theirs:
        assert ours[q].keys() == theirs[q].keys(), q
        for d, s in theirs[q].items():
            assert ours[q][d] == pytest.approx(s, rel=1e-9), (q, d)
    # both rank by (-score, docid): the same order, line by line
    order = [line.split()[:3] for line in out.read_text().splitlines()]
    assert order == sorted(order, key=lambda x: (x[0], -ours[x[0]][x[2]], x[2]))
    res = evaluate(demo_runs.qrels, {"bm25": paths["bm25"], "splade": paths["splade"], method: out},
                   ["nDCG@10", "R@100"], topics=demo_runs.topics)
    table = res.aggregate()
    print(table)
    assert table.loc[method].notna().all() and table.at[method, "R@100"] > 0.3


@pytest.mark.parametrize("normalization,weight_on_dense,alpha", [(False, False, 0.1), (True, False, 1.0),
                                                                 (True, True, 0.5)])
def test_hybrid_equals_pyserini_hybrid_searcher(normalization, weight_on_dense, alpha):
    """Dense + sparse fusion scores are Pyserini's ``HybridSearcher._hybrid_results``, document by document."""
    from pyserini.search.faiss import DenseSearchResult
    from pyserini.search.hybrid import HybridSearcher

    from esplade_eval.evaluate.fusion import HybridParams, hybrid

    dense = {"q1": {"d1": 0.82, "d2": 0.61, "d3": 0.40}, "q2": {"x": 0.5, "y": 0.3}}
    sparse = {"q1": {"d3": 812.0, "d4": 640.0, "d1": 95.0}, "q2": {"z": 7.0, "x": 2.0}}
    ours = hybrid([dense, sparse], HybridParams(alpha, normalization, weight_on_dense))
    for q in dense:
        theirs = HybridSearcher._hybrid_results(
            [DenseSearchResult(d, s) for d, s in dense[q].items()], [DenseSearchResult(d, s) for d, s in sparse[q].items()],
            alpha, 1000, normalization, weight_on_dense)
        assert ours[q] == pytest.approx({h.docid: h.score for h in theirs}, rel=1e-12)


def test_hybrid_takes_dense_then_sparse_and_survives_equal_scores(capsys):
    from esplade_eval.evaluate.fusion import HybridParams, hybrid

    with pytest.raises(EspladeError, match="two runs"):
        hybrid([A, B, A])
    fused = hybrid([{"q": {"a": 1.0, "b": 1.0}}, {"q": {"a": 3.0}}], HybridParams(1.0, normalization=True))
    assert fused == {"q": {"a": 0.0, "b": 0.0}}  # max = min: 0 where Pyserini would divide by zero
    assert main(["fuse", "--method", "hybrid", "--weights", "1", "2", "--output", "/nonexistent/x", "a", "b"]) == 2
    assert "hybrid fusion weighs by --alpha, not --weights" in capsys.readouterr().err
