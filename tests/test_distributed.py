"""Past one machine, on a local Ray instance: Ray export, sharded indexes, statistics over shards.

Every Ray run goes through the CLI in a child process (``--ray``: a local Ray instance with
this machine's cores and a small object store), because this test process runs a JVM (the
session's flow) and a Ray driver must not (see :mod:`esplade_eval.distributed.runtime`).
The corpus is the first 1,200 Semanlink titles (4 collection shards of 300), so each export
is seconds of encoding and the tests stay few.
"""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from esplade_eval.sparse.prune import Pruning

pytestmark = pytest.mark.slow

LEVELS = (Pruning(), Pruning(8, 4))
SHARD_SIZE, CHUNK = 300, 128
VOLATILE = {"created", "ray"}


def _cli(*args, fail_once: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("RAY_ADDRESS", None)  # always a fresh local instance
    if fail_once:
        env["ESPLADE_RAY_FAIL_ONCE"] = fail_once
    return subprocess.run([sys.executable, "-m", "esplade_eval", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=900)


@pytest.fixture(scope="module")
def subset(semanlink, tmp_path_factory):
    corpus = tmp_path_factory.mktemp("subset") / "corpus.jsonl"
    with open(semanlink.corpus, encoding="utf-8") as fh:
        corpus.write_text("".join(line for _, line in zip(range(1200), fh)), encoding="utf-8")
    return corpus, semanlink.topics("test")


@pytest.fixture(scope="module")
def single_export(subset, splade_tiny, tmp_path_factory):
    from esplade_eval.model.export import export_corpus

    corpus, topics = subset
    out = tmp_path_factory.mktemp("single")
    export_corpus(splade_tiny, corpus, out, LEVELS, shard_size=SHARD_SIZE, chunk=CHUNK, topics=[topics])
    return out


def _ray_export(subset, out, fail_once: str | None = None) -> subprocess.CompletedProcess:
    corpus, topics = subset
    levels = ["--levels", *(p.name for p in LEVELS)]
    return _cli("export", "--ray", "--checkpoint", "splade-tiny", "--corpus", corpus, "--topics", topics, "--out", out,
                *levels, "--shard-size", SHARD_SIZE, "--chunk", CHUNK, "--workers", 2, "--worker-threads", 1,
                "--quiet", fail_once=fail_once)


@pytest.fixture(scope="module")
def ray_export(subset, tmp_path_factory):
    out = tmp_path_factory.mktemp("ray")
    proc = _ray_export(subset, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "full" / "manifest.json").read_text())["ray"]


def _without(manifest: dict) -> dict:
    m = {k: v for k, v in manifest.items() if k not in VOLATILE}
    m["documents"] = {k: v for k, v in m["documents"].items() if k != "seconds"}
    return m


def assert_same_export(a: Path, b: Path) -> None:
    """Same collection files (names, bytes, so ids, vectors and order), query files and manifests."""
    for p in LEVELS:
        ca, cb = a / p.name / "collection", b / p.name / "collection"
        names = sorted(f.name for f in ca.iterdir())
        assert names == sorted(f.name for f in cb.iterdir()) == [f"docs{i:05d}.jsonl" for i in range(4)]
        match, mismatch, errors = filecmp.cmpfiles(ca, cb, names, shallow=False)
        assert (mismatch, errors) == ([], [])
        assert filecmp.cmp(a / p.name / "queries.test.jsonl", b / p.name / "queries.test.jsonl", shallow=False)
        ma, mb = (json.loads((x / p.name / "manifest.json").read_text()) for x in (a, b))
        assert _without(ma) == _without(mb)
    assert sorted(x.name for x in b.iterdir()) == sorted(p.name for p in LEVELS)  # no staging left


def test_ray_export_writes_the_single_process_export(ray_export, single_export):
    out, info = ray_export
    assert_same_export(single_export, out)
    assert info["shards"] == 4 and info["shards_reused"] == 0 and info["workers"] == 2
    assert json.loads((out / "full" / "manifest.json").read_text())["documents"]["count"] == 1200


def test_a_killed_worker_is_retried_and_a_failed_export_resumes_without_redoing_shards(
        ray_export, subset, tmp_path):
    from esplade_eval.distributed.export import STAGING

    # 1. a worker raises in shard 2 (Ray does not retry exceptions): the export fails, finished shards stay
    out = tmp_path / "out"
    proc = _ray_export(subset, out, fail_once=f"2:raise:{tmp_path / 'raised'}")
    assert proc.returncode == 2 and "run the same command again to resume" in proc.stderr, proc.stderr[-3000:]
    assert (tmp_path / "raised").exists() and not (out / "full").exists()
    markers = {m.name: m.read_text() for m in (out / STAGING / "done").glob("*.json")}
    assert markers and "00002.json" not in markers
    # 2. run again, and a worker process dies mid-shard (os._exit): Ray restarts it and retries that shard
    proc = _ray_export(subset, out, fail_once=f"3:exit:{tmp_path / 'exited'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "exited").exists() == ("00003.json" not in markers)
    info = json.loads((out / "full" / "manifest.json").read_text())["ray"]
    assert info["shards_reused"] == len(markers)
    assert_same_export(ray_export[0], out)


def test_a_ray_export_refuses_an_existing_level_before_starting(ray_export, subset):
    proc = _ray_export(subset, ray_export[0])
    assert proc.returncode == 2 and "already exists" in proc.stderr and "Ray" not in proc.stderr


def test_ray_refuses_to_start_in_a_process_that_runs_a_jvm():
    code = ("from esplade_eval.lucene.java import start\nstart()\n"
            "from esplade_eval.distributed.runtime import connect\nconnect('local', num_cpus=1)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "this process already runs a JVM" in proc.stderr


# --- sharded indexes over the whole collection (the session's flow: levels full and d16-q4) ---


@pytest.fixture(scope="module")
def sharded(flow, tmp_path_factory):
    """``{(level, shards): index}``: built locally (child JVMs), but ``full`` in 4 shards as Ray tasks (CLI)."""
    from esplade_eval.lucene.shards import build_sharded_index

    root = tmp_path_factory.mktemp("sharded")
    out = {}
    for name, level in flow.levels.items():
        for shards in (2, 4):
            index = out[name, shards] = root / f"{name}-s{shards}"
            if (name, shards) == ("full", 4):
                proc = _cli("index", "--collection", level.vectors, "--index", index, "--shards", 4, "--ray", "--quiet")
                assert proc.returncode == 0, proc.stderr[-3000:]
            else:
                build_sharded_index(level.vectors, index, shards, parallel=2, progress=False)
    return out


def test_sharded_index_manifest_and_shards(flow, sharded):
    from esplade_eval.artifacts import read_index_manifest
    from esplade_eval.lucene.index import shard_paths

    for (name, shards), index in sharded.items():
        single = read_index_manifest(flow.levels[name].index)
        info = read_index_manifest(index)
        assert len(shard_paths(index)) == shards == len(info["shards"])
        assert info["documents_indexed"] == single["documents_indexed"]
        assert info["empty_skipped"] == single["empty_skipped"]
        assert info["validated"] == single["validated"]
        assert info["export_manifest"] == single["export_manifest"]
        sizes = [s["documents_indexed"] + s["empty_skipped"] for s in info["shards"]]
        assert max(sizes) - min(sizes) <= 1  # one collection file: split into equal document ranges


def test_postings_statistics_over_shards_equal_the_single_index_term_by_term(flow, sharded):
    from esplade_eval.cost.levels import load_queries
    from esplade_eval.cost.queries import query_costs, set_flops
    from esplade_eval.cost.stats import postings_statistics
    from esplade_eval.lucene.postings import read_index_terms

    for (name, _), index in sharded.items():
        one, many = read_index_terms(flow.levels[name].index), read_index_terms(index)
        assert many.terms == one.terms and many.num_terms > 1000
        assert np.array_equal(many.df, one.df) and np.array_equal(many.total_impact, one.total_impact)
        assert (many.num_docs, many.documents) == (one.num_docs, one.documents)
        queries = load_queries(flow.levels[name].queries)
        a, b = postings_statistics(one, queries, top=10), postings_statistics(many, queries, top=10)
        differ = {k for k in a if a[k] != b[k]}
        assert differ == {"index", "index_bytes", "bytes_per_posting"}  # shards repeat per-index overhead
        assert b["posting_lengths"]["variance"] == a["posting_lengths"]["variance"] > 0
        ca, cb = query_costs(one, queries), query_costs(many, queries)
        assert np.array_equal(ca.postings, cb.postings) and np.array_equal(ca.flops, cb.flops)
        assert set_flops(many, queries) == set_flops(one, queries) > 0


def test_cost_and_postings_verbs_take_a_sharded_index(flow, sharded, tmp_path):
    from esplade_eval.cli import main

    index, queries = sharded["d16-q4", 4], flow.levels["d16-q4"].queries
    assert main(["postings", "--index", str(index), "--json", str(tmp_path / "p.json")]) == 0
    assert main(["postings", "--index", str(flow.levels["d16-q4"].index), "--json", str(tmp_path / "p1.json")]) == 0
    p, p1 = (json.loads((tmp_path / f).read_text()) for f in ("p.json", "p1.json"))
    assert p["posting_lengths"] == p1["posting_lengths"] and p["postings"] == p1["postings"]
    assert main(["cost", "--index", str(index), "--queries", str(queries), "--passes", "1", "--warmup", "0",
                 "--hits", "10", "--json", str(tmp_path / "c.json")]) == 0
    cost = json.loads((tmp_path / "c.json").read_text())
    assert cost["shards"] == 4 and len(cost["latency_ms_mean_per_shard"]) == 4
    assert "slowest shard" in cost["latency_model"] and cost["latency_ms_merge_mean"] > 0
    assert cost["latency_ms_mean"] >= max(cost["latency_ms_mean_per_shard"]) * 0.99


# --- exact search over shards ---


@pytest.mark.parametrize("name", ["full", "d16-q4"])
def test_runs_over_2_and_4_shards_are_the_single_index_run_byte_for_byte(flow, sharded, name, tmp_path):
    """The flow's run (1,000 hits per test query, written from the single index) is reproduced exactly."""
    from esplade_eval.lucene.search import search_to_run
    from esplade_eval.sparse.jsonvector import read_query_vectors

    level = flow.levels[name]
    queries, _ = read_query_vectors(level.queries)
    single = level.run.read_bytes()
    assert single.count(b"\n") > 50_000  # up to 1,000 hits for each of the 174 test queries
    for shards in (2, 4):
        out = tmp_path / f"run.{shards}.txt"
        search_to_run(sharded[name, shards], queries, out, k=1000, threads=2, tag=f"esplade_{name}")
        assert out.read_bytes() == single, (name, shards)


def test_cut_off_ties_merge_exactly_at_small_k(flow, sharded):
    """Cut-offs that fall inside a tie of scores, at several k, merge exactly."""
    from esplade_eval.lucene.search import batch_search
    from esplade_eval.sparse.jsonvector import read_query_vectors

    level = flow.levels["d16-q4"]
    queries, _ = read_query_vectors(level.queries)
    ties = 0
    for k in (3, 10, 50, 200):
        one = list(batch_search(level.index, queries, k=k))
        deeper = [scores for _, _, scores in batch_search(level.index, queries, k=k + 1)]
        # impact scores are integers; Anserini's tie adjustment moves them by under 0.5
        ties += sum(1 for s in deeper if len(s) == k + 1 and round(s[k - 1]) == round(s[k]))
        for shards in (2, 4):
            assert list(batch_search(sharded["d16-q4", shards], queries, k=k)) == one
    assert ties > 5  # the case under test occurs


def test_search_on_ray_actors_and_the_search_verb_give_the_same_run(flow, sharded, tmp_path):
    from esplade_eval.cli import main

    level = flow.levels["full"]
    proc = _cli("search", "--index", sharded["full", 4], "--queries", level.queries, "--output", tmp_path / "ray.txt",
                "--tag", "esplade_full", "--threads", 1, "--ray", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "ray.txt").read_bytes() == level.run.read_bytes()
    assert main(["search", "--index", str(sharded["full", 2]), "--queries", str(level.queries), "--output",
                 str(tmp_path / "cli.txt"), "--tag", "esplade_full", "--threads", "1"]) == 0
    assert (tmp_path / "cli.txt").read_bytes() == level.run.read_bytes()


def test_a_damaged_shard_is_an_error_naming_it_for_every_reader(flow, sharded, tmp_path, capsys):
    """Each shard is opened as one index is (checksums verified): a flipped bit in one shard's
    postings is ``INDEX/shard-001: cannot be read as a Lucene index``, exit status 2, from a
    local search, ``postings``, ``cost`` and a search on Ray actors, never a silent run."""
    import shutil

    from esplade_eval.cli import main

    index, queries = tmp_path / "damaged", flow.levels["d16-q4"].queries
    shutil.copytree(sharded["d16-q4", 2], index)
    postings = next((index / "shard-001").glob("*.doc"))
    data = bytearray(postings.read_bytes())
    data[len(data) // 2] ^= 0x55
    postings.write_bytes(bytes(data))
    named = f"{index / 'shard-001'}: cannot be read as a Lucene index"
    for argv in (["search", "--index", index, "--queries", queries, "--output", tmp_path / "run.txt"],
                 ["postings", "--index", index], ["cost", "--index", index, "--queries", queries, "--passes", "1"]):
        assert main([str(a) for a in argv]) == 2
        err = capsys.readouterr().err
        assert named in err, (argv[0], err)
    proc = _cli("search", "--index", index, "--queries", queries, "--output", tmp_path / "ray.txt", "--ray", "--quiet")
    assert proc.returncode == 2 and named in proc.stderr, proc.stderr[-3000:]
    assert not (tmp_path / "run.txt").exists() and not (tmp_path / "ray.txt").exists()


def test_a_ray_export_that_fails_before_any_shard_leaves_no_output_folder(subset, tmp_path):
    """The export folder holds the Ray export's claim from the start; a run whose workers cannot
    load the encoder fails with exit status 2 and takes the folder it created away again."""
    import shutil

    from esplade_eval.model.checkpoint import resolve_checkpoint

    corpus, _ = subset
    out, broken = tmp_path / "out", tmp_path / "weightless-checkpoint"  # a config (checked while parsing), no weights
    broken.mkdir()
    shutil.copy(resolve_checkpoint("splade-tiny") / "config.json", broken)
    proc = _cli("export", "--ray", "--checkpoint", broken, "--corpus", corpus, "--out", out,
                "--workers", 1, "--worker-threads", 1, "--quiet")
    assert proc.returncode == 2 and "could not load the encoder" in proc.stderr, proc.stderr[-3000:]
    assert not out.exists()
