"""Reference retrievers: BM25 (Lucene, checked against Pyserini's own CLI) and dense (MiniLM
through faiss, checked against a numpy brute force and read by Pyserini's FaissSearcher),
their hybrid fusion (checked against Pyserini's HybridSearcher), and the demo's rows.

The dense fixture runs the real ``esplade-eval dense`` verb once, on the session's real
1,500-title slice of Semanlink (encoding all 7,300 titles on two shared cores takes about a
minute; ``docs/reference-retrievers.md`` gives the full-collection figures).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from esplade_eval.data.trec import read_run


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "esplade_eval", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def _lines(path):
    """A run's lines without the tag: qid, docid, rank, score."""
    return [line.split()[:5] for line in open(path, encoding="utf-8")]


@pytest.fixture(scope="module")
def dense_out(tmp_path_factory, semanlink_small):
    """``esplade-eval dense`` on the small Semanlink slice (a collection folder), into a fresh flow folder."""
    out = tmp_path_factory.mktemp("refs") / "out"
    proc = _cli("dense", "--collection", semanlink_small.root, "--split", "test", "--out", out, "--threads", "2",
                "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "dense on semanlink-small test: nDCG@10 " in proc.stdout
    return out


@pytest.fixture(scope="module")
def small_queries(semanlink_small):
    """The real MiniLM encoder and the small slice's test topics, encoded once."""
    from esplade_eval.model.dense import DenseEncoder

    encoder = DenseEncoder.from_checkpoint("minilm", threads=2)
    topics = semanlink_small.read_topics("test")
    return encoder, topics, encoder.encode(list(topics.values()))


@pytest.mark.slow
def test_bm25_verb_equals_pyserini_cli_on_semanlink(tmp_path):
    """`esplade-eval bm25 --collection semanlink` (a registry name) writes the study's BM25 figure,
    and Pyserini's `python -m pyserini.search.lucene --bm25` on the same index writes the same run."""
    out = tmp_path / "out"
    proc = _cli("bm25", "--collection", "semanlink", "--split", "test", "--out", out, "--threads", "2", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "bm25 on semanlink test: nDCG@10 0.4959" in proc.stdout
    ours = out / "runs" / "run.test.bm25.txt"
    theirs = tmp_path / "pyserini.txt"
    index = out / "references" / "bm25" / "index"
    pyserini = subprocess.run([sys.executable, "-m", "pyserini.search.lucene", "--index", index, "--topics",
                               out / "data" / "topics.test.tsv", "--output", theirs, "--bm25", "--hits", "1000",
                               "--threads", "2", "--batch-size", "64"], capture_output=True, text=True)
    assert pyserini.returncode == 0, pyserini.stderr[-2000:]
    assert _lines(ours) == _lines(theirs) and len(_lines(ours)) > 20_000
    # RM3 through the same index (reused, not rebuilt): Pyserini's LuceneSearcher.set_rm3() with its defaults
    from esplade_eval.data.collection import Collection
    from esplade_eval.lucene.bm25 import BM25Params
    from esplade_eval.study.references import ReferenceJob, bm25_reference

    stamp = (index / "esplade_eval.json").stat().st_mtime_ns
    result = bm25_reference(ReferenceJob(out, Collection(out / "data"), hits=50, threads=2), BM25Params(rm3=True))
    assert (index / "esplade_eval.json").stat().st_mtime_ns == stamp and result.name == "bm25-rm3"
    from pyserini.search.lucene import LuceneSearcher

    topics = Collection(out / "data").read_topics("test")
    searcher = LuceneSearcher(str(index))
    searcher.set_rm3()
    hits = searcher.batch_search(list(topics.values()), list(topics), k=50, threads=2)
    theirs = sorted([q, "Q0", h.docid, str(i + 1), f"{h.score:.6f}"] for q in topics for i, h in enumerate(hits[q]))
    assert sorted(_lines(result.run)) == theirs and len(theirs) > 1000


def test_bm25_and_dense_refuse_bad_settings_before_any_work(tmp_path, capsys):
    from esplade_eval.cli import main

    assert main(["bm25", "--b", "1.5", "--out", str(tmp_path / "o")]) == 2
    assert "0 <= b <= 1, got k1=0.9, b=1.5" in capsys.readouterr().err and not (tmp_path / "o").exists()
    with pytest.raises(SystemExit):
        main(["dense", "--index-type", "pq"])
    from esplade_eval.lucene.bm25 import BM25Params

    assert [BM25Params().name, BM25Params(1.2, 0.75).name, BM25Params(rm3=True).name] == \
        ["bm25", "bm25-k1.2-b0.75", "bm25-rm3"]


def test_bm25_refuses_an_out_inside_the_collection(semanlink_small):
    proc = _cli("bm25", "--collection", semanlink_small.root, "--out", semanlink_small.root / "refs")
    assert proc.returncode == 2
    assert "lies inside the input --collection" in proc.stderr and not (semanlink_small.root / "refs").exists()


@pytest.mark.slow
def test_faiss_flat_top10_equals_numpy_brute_force(dense_out, small_queries):
    """The dense run's top 10 is exactly the inner-product top 10 over the stored embeddings,
    computed here with numpy in float64 (ranked by -score, then docid)."""
    index = dense_out / "references" / "dense" / "index"
    emb = np.load(index / "embeddings.npy").astype(np.float64)
    ids = (index / "docid").read_text().split("\n")[:-1]
    assert emb.shape == (1500, 384) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    _, topics, queries = small_queries
    queries = queries.astype(np.float64)
    run = read_run(dense_out / "runs" / "run.test.dense.txt")
    scores = queries @ emb.T
    for row, qid in enumerate(topics):
        expected = sorted(range(len(ids)), key=lambda j: (-round(scores[row, j], 5), ids[j]))[:10]
        got = sorted(run[qid].items(), key=lambda x: (-x[1], x[0]))[:10]
        assert [d for d, _ in got] == [ids[j] for j in expected], qid
        assert [s for _, s in got] == pytest.approx([scores[row, j] for j in expected], abs=2e-6)


@pytest.mark.slow
def test_dense_index_manifest_is_checked_when_reopened(dense_out, tmp_path):
    import shutil

    from esplade_eval.dense.faiss_index import DenseIndex
    from esplade_eval.errors import EspladeError, InputError

    index = dense_out / "references" / "dense" / "index"
    opened = DenseIndex(index)
    m = opened.manifest
    assert (m["dimensions"], m["pooling"], m["normalization"], m["index"]) == (384, "mean", "l2", {"kind": "flat"})
    assert len(m["checkpoint_hash"]) == 64 and m["documents"] == 1500
    expected = {k: m[k] for k in ("checkpoint_hash", "dimensions", "pooling", "normalization", "max_length")}
    DenseIndex(index, expected=expected)
    with pytest.raises(EspladeError, match="max_length 16 differs from the index's 256"):
        DenseIndex(index, expected={**expected, "max_length": 16})
    damaged = tmp_path / "damaged"
    shutil.copytree(index, damaged)
    with open(damaged / "docid", "a") as fh:
        fh.write("extra\n")
    with pytest.raises(InputError, match="1501 ids, 1500 vectors"):
        DenseIndex(damaged)


@pytest.mark.slow
def test_pyserini_faiss_searcher_reads_the_dense_index(dense_out, small_queries):
    """Pyserini's FaissSearcher opens our folder as it is (``index`` + ``docid``) and, given our
    query embeddings, returns our top 10 (its hits ranked by -score, then docid, as every run here)."""
    from pyserini.search.faiss import FaissSearcher

    from esplade_eval.dense.faiss_index import DenseIndex

    index = dense_out / "references" / "dense" / "index"
    _, topics, queries = small_queries
    theirs = FaissSearcher(str(index), None).batch_search(queries, list(topics), k=26, threads=2)
    ours = DenseIndex(index).search(queries, 10)
    for qid, hits in zip(topics, ours):
        assert sorted((-float(h.score), h.docid) for h in theirs[qid])[:10] == [(-s, d) for d, s in hits], qid


@pytest.mark.slow
def test_dense_verb_takes_a_toml_spec_and_reuses_the_index(dense_out, semanlink_small, tmp_path):
    """The same collection named by a registry .toml: the index is reused (same encoder, same
    corpus) and the run is the same; HNSW reports its recall against flat."""
    root = semanlink_small.root
    toml, name = tmp_path / "small.toml", semanlink_small.name  # one flow folder, one collection name
    toml.write_text(f'["{name}"]\ncorpus = "{root}/corpus.jsonl"\n["{name}".topics]\ntest = "{root}/topics.test.tsv"\n'
                    f'["{name}".qrels]\ntest = "{root}/qrels.test.txt"\n', encoding="utf-8")
    index = dense_out / "references" / "dense" / "index" / "index"
    stamp = index.stat().st_mtime_ns
    before = _lines(dense_out / "runs" / "run.test.dense.txt")
    proc = _cli("dense", "--collection", toml, "--out", dense_out, "--threads", "2", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert index.stat().st_mtime_ns == stamp
    assert _lines(dense_out / "runs" / "run.test.dense.txt") == before


@pytest.mark.slow
def test_hnsw_and_ivf_report_their_recall_against_flat(dense_out, semanlink_small, small_queries):
    from esplade_eval.dense.faiss_index import FaissSpec
    from esplade_eval.study.references import DenseSettings, ReferenceJob, dense_reference

    job = ReferenceJob(dense_out, semanlink_small, hits=100, threads=2)
    hnsw = dense_reference(job, DenseSettings(faiss=FaissSpec("hnsw")), encoder=small_queries[0])
    ivf = dense_reference(job, DenseSettings(faiss=FaissSpec("ivf", nprobe=1)), encoder=small_queries[0])
    assert 0.95 <= hnsw.info["recall_vs_flat"]["R@10"] <= 1.0
    assert 0.0 < ivf.info["recall_vs_flat"]["R@10"] < hnsw.info["recall_vs_flat"]["R@10"]
    assert ivf.info["multiply_adds_per_query"] < ivf.info["documents"] * 384 and hnsw.info["multiply_adds_per_query"] is None
    assert ivf.info["index"] == {"kind": "ivf", "nlist": 154, "nprobe": 1}


@pytest.mark.slow
def test_the_demo_table_has_bm25_dense_and_hybrid_rows(dense_out, semanlink_small, tmp_path):
    """The demo's reference rows over the small slice (the dense index of the fixture reused),
    beside a level whose run is here a copy of BM25's: every row is in the table."""
    import shutil

    from esplade_eval.sparse.prune import Pruning
    from esplade_eval.study.demo import effectiveness_table, reference_runs
    from esplade_eval.study.flow import FlowResult, LevelArtifacts

    result = FlowResult(semanlink_small, "test", "x")
    refs = reference_runs(result, dense_out, ("bm25",), threads=2)
    level_run = dense_out / "runs" / "run.test.full.txt"
    shutil.copy(refs["bm25"], level_run)
    result.levels["full"] = LevelArtifacts(Pruning.parse("full"), tmp_path, tmp_path, tmp_path, level_run)
    refs = reference_runs(result, dense_out, threads=2)
    assert list(refs) == ["bm25", "dense", "dense+full"]
    table = effectiveness_table(result, ["nDCG@10"], refs)
    rows = {line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")}
    assert {"full (baseline)", "bm25", "dense", "dense+full"} <= rows
    assert os.path.getsize(refs["dense+full"]) > 0


@pytest.mark.slow
def test_the_study_plans_and_runs_a_dense_reference_when_switched_on(dense_out, semanlink_small, tmp_path):
    """``[references] dense = true`` adds a dense stage and its evaluation (off by default, so an
    existing study plans the same stages); the stage runs the dense verb's code."""
    import shutil

    from esplade_eval.study.config import load_config
    from esplade_eval.study.plan import build_plan
    from esplade_eval.study.stages import dense as dense_kind
    from esplade_eval.study.stages.base import Inputs

    smoke = Path(__file__).resolve().parent.parent / "configs" / "smoke.toml"
    off = build_plan(load_config(smoke), "fp")
    assert "dense" not in off.systems and not [s for s in off.stages if s.kind == "dense"]
    config = tmp_path / "smoke-dense.toml"
    config.write_text(smoke.read_text(encoding="utf-8").replace("[references]\n", "[references]\ndense = true\n"))
    on = build_plan(load_config(config), "fp")
    dense = [s for s in on.stages if s.kind == "dense"]
    assert len(dense) == 1 and on.systems["dense"].levels is False
    assert any(s.kind == "evaluate" and s.deps[0] is dense[0] for s in on.stages)
    tmp = tmp_path / "stage"
    shutil.copytree(dense_out / "references", tmp / "references")  # the index is reused, not re-encoded
    params = dense_kind.Params.of({**dense[0].params, "hits": 100, "threads": 2})
    outputs = dense_kind.run(params, Inputs(tmp, semanlink_small, system="dense"))
    assert outputs.run == "runs/run.test.dense.txt" and outputs.costs["multiply_adds_per_query"] == 1500 * 384
    assert dense_kind.Outputs.from_dict(outputs.to_dict()) == outputs
    ours = read_run(tmp / outputs.run)
    full = read_run(dense_out / "runs" / "run.test.dense.txt")
    assert {q: sorted(h, key=lambda d: (-h[d], d))[:100] for q, h in ours.items()} == \
        {q: sorted(h, key=lambda d: (-h[d], d))[:100] for q, h in full.items()}


@pytest.mark.slow
def test_dense_on_ray_actors_gives_the_local_embeddings(dense_out, semanlink_small, tmp_path):
    """``dense --ray`` (a local Ray instance, actors holding the model) on the first 300 titles:
    the embeddings are the local ones (to float32 noise) and the manifest is the same."""
    from esplade_eval.data.trec import corpus_line

    folder = tmp_path / "tiny"
    folder.mkdir()
    docs = list(semanlink_small.docs())[:300]
    (folder / "corpus.jsonl").write_text("".join(corpus_line(d, t) for d, t in docs), encoding="utf-8")
    (folder / "topics.test.tsv").write_bytes(semanlink_small.topics("test").read_bytes())
    out = tmp_path / "out"
    proc = _cli("dense", "--collection", folder, "--out", out, "--ray", "--threads", "2", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    ray_index, local_index = out / "references" / "dense" / "index", dense_out / "references" / "dense" / "index"
    assert (ray_index / "docid").read_text().split() == [d for d, _ in docs]
    assert (local_index / "docid").read_text().split()[:300] == [d for d, _ in docs]
    ray_emb, local_emb = np.load(ray_index / "embeddings.npy"), np.load(local_index / "embeddings.npy")[:300]
    assert np.abs(ray_emb - local_emb).max() < 1e-5
    assert (out / "runs" / "run.test.dense.txt").stat().st_size > 0
