"""Nothing lost, nothing silently wrong (issue 10): claims on outputs tried with real concurrent
processes, stop signals on real JVMs and a real encoder, the impact bound measured on a real
Lucene index, empty text and empty inputs reported alike by every verb.

The process tests start ``python -m esplade_eval`` and watch the files and the child JVM that
the command makes; they wait on conditions (a lock file, a JVM in ``/proc``), never on timings.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from esplade_eval._io import atomic_dir, atomic_file, check_unclaimed, claim
from esplade_eval.cli import main
from esplade_eval.errors import InputError, OutputBusyError, RangeError
from esplade_eval.sparse.quantize import MAX_IMPACT, Quantizer

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="watches processes through /proc")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


# --- helpers ---------------------------------------------------------------------------

def start(*args, stderr=subprocess.PIPE) -> subprocess.Popen:
    """``esplade-eval ARGS`` in a new Python process."""
    return subprocess.Popen([sys.executable, "-m", "esplade_eval", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=stderr, text=True, env=ENV)


def wait_for(condition, what: str, proc: subprocess.Popen | None = None, timeout: float = 300):
    """Poll ``condition`` until it is truthy (its value is returned); fail if ``proc`` ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the command ended (exit {proc.returncode}) before {what}:\n{err[-3000:]}")
        time.sleep(0.02)
    if proc is not None:  # never leave the command running behind a failed test
        proc.kill()
        proc.wait()
    raise AssertionError(f"timed out waiting for {what}")


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def java_children(pid: int) -> list[int]:
    """The JVMs whose parent is ``pid``."""
    found = []
    for child in children(pid):
        with contextlib.suppress(OSError):
            if "java" in Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0].decode():
                found.append(child)
    return found


def java_child(pid: int) -> int | None:
    return next(iter(java_children(pid)), None)


def hidden(folder: Path) -> list[str]:
    """Locks and temporaries (dot files) left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.is_dir() else []


def vector_collection(folder: Path, docs: dict[str, dict[str, int]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "docs.jsonl", "w", encoding="utf-8") as fh:
        for docid, vector in docs.items():
            fh.write(json.dumps({"id": docid, "contents": "", "vector": vector}) + "\n")
    return folder


@pytest.fixture(scope="module")
def heavy(tmp_path_factory) -> Path:
    """A valid collection that keeps Anserini busy for seconds: three documents whose one term
    has the largest impact allowed (Anserini writes 2**24 tokens for each)."""
    return vector_collection(tmp_path_factory.mktemp("heavy") / "c", {f"d{i}": {"a": MAX_IMPACT} for i in range(3)})


@pytest.fixture(scope="module")
def heavy1(tmp_path_factory) -> Path:
    """Like ``heavy``, one document (a few seconds of indexing)."""
    return vector_collection(tmp_path_factory.mktemp("heavy1") / "c", {"d0": {"a": MAX_IMPACT}})


@pytest.fixture(scope="module")
def titles600(tmp_path_factory, semanlink) -> Path:
    """The first 600 Semanlink titles: seconds of encoding to interrupt."""
    path = tmp_path_factory.mktemp("c600") / "c600.jsonl"
    path.write_text("".join(semanlink.corpus.read_text(encoding="utf-8").splitlines(True)[:600]), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def light(tmp_path_factory) -> Path:
    return vector_collection(tmp_path_factory.mktemp("light") / "c", {"x1": {"a": 3, "b": 1}, "x2": {"b": 2}})


# --- claims ----------------------------------------------------------------------------

def test_a_claim_is_exclusive_names_its_holder_and_is_released(tmp_path):
    target = tmp_path / "out"
    with claim(target):
        assert (tmp_path / ".out.lock").is_file()
        with pytest.raises(OutputBusyError, match=rf"being written by process {os.getpid()} on "):
            with claim(target):
                pass
        with pytest.raises(OutputBusyError):
            check_unclaimed(target)
        with pytest.raises(OutputBusyError):
            with atomic_dir(target, overwrite=True):
                pass
    assert hidden(tmp_path) == []  # the lock file goes with the claim
    check_unclaimed(target)
    with atomic_file(target) as fh:
        fh.write("x")
    assert target.read_text() == "x" and hidden(tmp_path) == []


def test_leftover_temporaries_of_a_target_are_removed_and_reported_no_others(tmp_path, caplog):
    for name in (".out.abcdefgh.tmp", ".out.12345678.old"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "part").write_text("half written")
    (tmp_path / ".out.gz.abcdefgh.tmp").write_text("another target's")  # must survive
    (tmp_path / ".out.zz.tmp").write_text("not a temporary name of ours")
    with caplog.at_level(logging.WARNING, logger="esplade_eval"), atomic_dir(tmp_path / "out") as tmp:
        (tmp / "f").write_text("complete")
    assert sorted(r.getMessage().split("removing ")[1] for r in caplog.records) == [
        ".out.12345678.old, left by an interrupted run", ".out.abcdefgh.tmp, left by an interrupted run"]
    assert hidden(tmp_path) == [".out.gz.abcdefgh.tmp", ".out.zz.tmp"]
    assert (tmp_path / "out" / "f").read_text() == "complete"


def test_atomic_file_without_overwrite_refuses_an_existing_file(tmp_path):
    (tmp_path / "q.jsonl").write_text("old")
    with pytest.raises(FileExistsError, match="already exists"):
        with atomic_file(tmp_path / "q.jsonl", overwrite=False) as fh:
            fh.write("new")
    assert (tmp_path / "q.jsonl").read_text() == "old" and hidden(tmp_path) == []


def test_overwrite_replaces_the_whole_folder_never_a_mixture(tmp_path):
    target = tmp_path / "level"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("old")
        (tmp / "only-old").write_text("old")
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        with atomic_dir(target):
            pass
    with pytest.raises(RuntimeError):  # a writer that fails leaves the old output as it was
        with atomic_dir(target, overwrite=True) as tmp:
            (tmp / "a").write_text("new")
            raise RuntimeError("failed half-way")
    assert sorted(p.name for p in target.iterdir()) == ["a", "only-old"] and (target / "a").read_text() == "old"
    with atomic_dir(target, overwrite=True) as tmp:
        (tmp / "a").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["a"] and (target / "a").read_text() == "new"
    assert hidden(tmp_path) == []


@pytest.mark.slow
@linux
def test_two_index_processes_on_one_index_the_second_fails_the_first_is_kept(tmp_path, heavy1, light):
    index = tmp_path / "idx"
    first = start("index", "--collection", heavy1, "--index", index, "--threads", "1")
    wait_for(lambda: (tmp_path / ".idx.lock").is_file() and java_child(first.pid), "the first JVM", first)
    # even --overwrite never replaces a writer at work
    second = start("index", "--collection", light, "--index", index, "--threads", "1", "--overwrite")
    _, err2 = second.communicate(timeout=300)
    _, err1 = first.communicate(timeout=600)
    assert first.returncode == 0, err1
    assert second.returncode == 2 and f"{index}: being written by process {first.pid}" in err2
    info = json.loads((index / "esplade_eval.json").read_text())
    assert info["collection"] == str(heavy1.resolve()) and info["documents_indexed"] == 1
    assert hidden(tmp_path) == []


@linux
def test_an_export_onto_a_level_another_process_is_writing_fails_before_loading_the_model(tmp_path):
    """This test process writes ``X/full``; a real ``esplade-eval export`` onto the same folder
    (the issue's ``export ... --out X & export ... --out X``) fails at once, with or without
    ``--overwrite``, and the level that is published is the first writer's, whole."""
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "contents": "semantic web"}\n')
    out = tmp_path / "X"
    with atomic_dir(out / "full") as tmp:
        (tmp / "manifest.json").write_text("the first writer's")
        for extra in ([], ["--overwrite"]):
            proc = start("export", "--checkpoint", "splade-tiny", "--corpus", corpus, "--out", out, *extra)
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 2 and f"{out / 'full'}: being written by process {os.getpid()}" in err, err
            assert "torch" not in err
    assert (out / "full" / "manifest.json").read_text() == "the first writer's" and hidden(out) == []


def test_topics_only_export_keeps_an_existing_query_file_without_overwrite(tmp_path, flow):
    level = tmp_path / "full"
    level.mkdir()
    (level / "manifest.json").write_bytes((flow.levels["full"].vectors / "manifest.json").read_bytes())
    queries = level / "queries.test.jsonl"
    queries.write_text("someone else's work\n")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["export", "--checkpoint", "splade-tiny", "--topics", str(flow.topics), "--out", str(tmp_path)])
    assert rc == 2 and f"{queries}: already exists (pass --overwrite" in err.getvalue()
    assert queries.read_text() == "someone else's work\n" and hidden(level) == []


# --- signals ---------------------------------------------------------------------------

@pytest.mark.slow
@linux
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_on_index_stops_the_jvm_and_removes_the_partial_index(tmp_path, heavy, sig):
    proc = start("index", "--collection", heavy, "--index", tmp_path / "idx", "--threads", "1")
    jvm = wait_for(lambda: java_child(proc.pid), "the JVM", proc)
    wait_for(lambda: any(tmp_path.glob(".idx.*.tmp/write.lock")), "Lucene's IndexWriter", proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert f"stopped by {signal.Signals(sig).name}" in err
    assert not alive(jvm), "the JVM outlived the command"
    assert list(tmp_path.iterdir()) == []  # no index, no temporary, no lock


@pytest.mark.slow
@linux
def test_sigterm_on_a_sharded_index_stops_every_shard_jvm_and_removes_the_partial_index(tmp_path, heavy):
    """``index --shards 2`` builds both shards at once, each JVM started by a worker thread:
    the signal reaches the main thread only, and still no shard's JVM outlives the command."""
    proc = start("index", "--collection", heavy, "--index", tmp_path / "idx", "--shards", 2, "--threads", 2)
    jvms = wait_for(lambda: (lambda found: found if len(found) == 2 else None)(java_children(proc.pid)),
                    "both shards' JVMs", proc)
    wait_for(lambda: len(list(tmp_path.glob(".idx.*.tmp/.shard-00?.*.tmp/write.lock"))) == 2,
             "both shards' IndexWriters", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert not any(alive(j) for j in jvms), "a shard's JVM outlived the command"
    assert list(tmp_path.iterdir()) == []  # no index, no temporary, no lock


@pytest.mark.parametrize("verb", ["index --shards 2", "index --shards 2 --ray", "export --ray"])
def test_sharded_and_ray_outputs_are_claimed_before_any_work(tmp_path, light, verb):
    """A sharded index and a Ray export's level are refused while another process writes them,
    before the collection is read, Ray starts or a model loads."""
    out = tmp_path / "out"
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "contents": "semantic web"}\n')
    args = verb.split() + (["--collection", str(light), "--index", str(out)] if verb.startswith("index") else
                           ["--checkpoint", "splade-tiny", "--corpus", str(corpus), "--out", str(out)])
    target = out if verb.startswith("index") else out / "full"
    with claim(target):
        rc, err = _run_main(args)
    assert rc == 2 and f"{target}: being written by process {os.getpid()}" in err, err
    assert not target.exists() and hidden(tmp_path) == []


@pytest.mark.slow
@linux
def test_a_killed_index_leaves_no_jvm_and_the_next_run_removes_its_temporary(tmp_path, heavy, light):
    proc = start("index", "--collection", heavy, "--index", tmp_path / "idx", "--threads", "1")
    jvm = wait_for(lambda: java_child(proc.pid), "the JVM", proc)
    wait_for(lambda: any(tmp_path.glob(".idx.*.tmp/write.lock")), "Lucene's IndexWriter", proc)
    proc.kill()  # no handler runs: the kernel ends the JVM (parent-death signal)
    proc.communicate(timeout=60)
    wait_for(lambda: not alive(jvm), "the orphaned JVM to end", timeout=60)
    left = [p.name for p in tmp_path.glob(".idx.*.tmp")]
    assert len(left) == 1 and not (tmp_path / "idx").exists()
    again = start("index", "--collection", light, "--index", tmp_path / "idx", "--threads", "1")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert f"removing {left[0]}, left by an interrupted run" in err
    assert hidden(tmp_path) == [] and (tmp_path / "idx" / "esplade_eval.json").is_file()


@pytest.mark.slow
@linux
def test_sigterm_on_export_removes_every_partial_level(tmp_path, titles600):
    out = tmp_path / "X"
    proc = start("export", "--checkpoint", "splade-tiny", "--corpus", titles600, "--out", out,
                 "--levels", "full", "d8-q4", "--threads", "1", "--batch-size", "8")
    # both levels' temporary folders exist: the model is loaded and encoding has begun
    wait_for(lambda: any(out.glob(".d8-q4.*.tmp/collection")), "encoding to begin", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "stopped by SIGTERM" in err, err
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.slow
@linux
def test_sigterm_reaches_python_while_lucene_runs_in_process(tmp_path, flow):
    """The in-process JVM is started with -Xrs: without it, its own handler would exit at once,
    silently, skipping every clean-up."""
    level = flow.levels["full"]
    out, log = tmp_path / "out" / "cost.json", tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        proc = start("--verbose", "cost", "--index", level.index, "--queries", level.queries, "--passes", "100000",
                     "--warmup", "0", "--json", out, stderr=stderr)
        # Lucene logs this (shown with --verbose) when it opens the index: the JVM is up and at work
        wait_for(lambda: "MemorySegmentIndexInput" in log.read_text(), "Lucene to open the index", proc)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    err = log.read_text()
    assert proc.returncode == 143 and "esplade-eval cost: stopped by SIGTERM" in err, err
    assert not out.parent.exists()


# --- numbers in range ------------------------------------------------------------------

@pytest.mark.parametrize("scale", [0, -1, float("inf"), float("nan"), 1e10, MAX_IMPACT + 1])
def test_quantiser_refuses_scales_outside_the_range(scale):
    with pytest.raises(RangeError):
        Quantizer(scale=scale)


def test_quantiser_stops_at_the_impact_bound_never_wraps():
    q = Quantizer(scale=MAX_IMPACT / 4)
    assert q.quantize_values(np.array([4.0], dtype=np.float32)).tolist() == [MAX_IMPACT]
    with pytest.raises(RangeError, match=f"exceeds {MAX_IMPACT}"):
        q.quantize_values(np.array([4.0001], dtype=np.float32))
    with pytest.raises(RangeError, match="not finite"):
        Quantizer().quantize_values(np.array([1.0, np.nan], dtype=np.float32))


@pytest.mark.parametrize("value", ["0", "-3", "inf", "nan", "1e10", "abc"])
def test_scale_is_checked_while_parsing_before_any_model_loads(value, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", "--checkpoint", "no-such-checkpoint", "--corpus", "no-such-corpus", "--out", "x",
              "--scale", value])
    assert exc.value.code == 2 and "argument --scale:" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--levels", "full", "full"], ["--levels", "d8-q4", "full", "d8-q4"],
                                  ["--max-length", "0"],
                                  ["--batch-size", "-1"], ["--shard-size", "0"]])
def test_repeated_levels_and_non_positive_sizes_are_refused_while_parsing(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", "--checkpoint", "splade-tiny", "--corpus", "c", "--out", "x", *argv])
    assert exc.value.code == 2 and f"argument {argv[0]}:" in capsys.readouterr().err


@pytest.mark.parametrize("weight, ok", [(MAX_IMPACT, True), (MAX_IMPACT + 1, False), (3000000000, False),
                                        (1e30, False), (10 ** 400, False)])
def test_collection_check_stops_at_the_impact_bound(tmp_path, weight, ok):
    from esplade_eval.sparse.jsonvector import validate_collection

    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "d.jsonl").write_text('{"id": "a", "contents": "", "vector": {"t": 1}}\n'
                                    f'{{"id": "b", "contents": "", "vector": {{"t": {weight}}}}}\n')
    if ok:
        assert validate_collection(folder)["postings"] == 2
    else:
        with pytest.raises(InputError, match=rf"d.jsonl:2: document 'b': weight of 't' is .* above {MAX_IMPACT}"):
            validate_collection(folder)


@pytest.mark.slow
def test_the_impact_bound_is_where_lucene_stops_scoring_exactly(tmp_path):
    """Measured on a real index built without the check: 2**24 scores exactly, 2**24 + 1 scores
    as 2**24 (a float's 24-bit significand), 3e9 wraps in Anserini and its document vanishes."""
    from esplade_eval.lucene.index import build_index
    from esplade_eval.lucene.search import ImpactSearcher

    folder = vector_collection(tmp_path / "c", {"at": {"a": MAX_IMPACT}, "over": {"a": MAX_IMPACT + 1},
                                                "wrapped": {"a": 3000000000}, "small": {"a": 7, "b": 1}})
    info = build_index(folder, tmp_path / "idx", threads=1, validate=False)
    assert info["documents_indexed"] == 3 and info["empty_skipped"] == 1  # "wrapped" is gone without a word
    with ImpactSearcher(tmp_path / "idx") as s:
        hits = dict(s.search({"a": 1}, k=10))
        assert hits == {"at": float(MAX_IMPACT), "over": float(MAX_IMPACT), "small": 7.0}
        assert dict(s.search({"b": 1, "a": 2}, k=10))["small"] == 15.0


def test_export_records_the_highest_reachable_score_and_warns_past_the_bound(tmp_path, splade_tiny, caplog):
    from esplade_eval.model.export import export_corpus
    from esplade_eval.sparse.prune import Pruning

    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "contents": "semantic web"}\n{"id": "b", "contents": "boiling water"}\n')
    topics = tmp_path / "topics.t.tsv"
    topics.write_text("q1\tsemantic web ontology\n")
    for scale, warned in ((100, False), (1e6, True)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="esplade_eval.model.export"):
            level = export_corpus(splade_tiny, corpus, tmp_path / f"x{scale:g}", [Pruning()], Quantizer(scale),
                                  topics=[topics])["full"]
        bound = json.loads((level / "manifest.json").read_text())["queries"]["t"]["max_score_bound"]
        assert (bound > MAX_IMPACT) is warned and bound > 0
        assert any("Lucene's float scores round" in r.getMessage() for r in caplog.records) is warned


# --- empty text, empty inputs ----------------------------------------------------------

@pytest.mark.slow
def test_the_empty_semanlink_titles_are_empty_vectors_counted_and_never_retrieved(flow, semanlink):
    from esplade_eval.data.trec import read_corpus, read_run
    from esplade_eval.sparse.jsonvector import read_collection

    empty_titles = {d for d, t in read_corpus(semanlink.corpus) if not t.strip()}
    assert len(empty_titles) == 61
    level = flow.levels["full"]
    vectors = {d: v for d, _, v in read_collection(level.vectors / "collection")}
    assert all(vectors[d] == {} for d in empty_titles)
    manifest = json.loads((level.vectors / "manifest.json").read_text())
    index_info = json.loads((Path(level.index) / "esplade_eval.json").read_text())
    assert manifest["documents"]["empty_vectors"] == index_info["empty_skipped"] >= 61
    retrieved = {d for hits in read_run(level.run).values() for d in hits}
    assert not retrieved & empty_titles


def test_text_without_a_token_of_its_own_is_an_empty_vector(splade_tiny):
    texts = ["", "   ", "\u200b", "semantic web", "\t\n"]
    batch = splade_tiny.encode(texts)
    assert batch.lengths().tolist()[:3] == [0, 0, 0] and batch.lengths()[3] > 0 and batch.lengths()[4] == 0
    weights = splade_tiny.text_weights(texts).detach().numpy()
    assert (weights[[0, 1, 2, 4]] == 0).all() and (weights[3] > 0).any()  # training scores it the same way
    alone = splade_tiny.encode(["semantic web"])
    assert np.array_equal(alone.indices, batch.indices) and np.array_equal(alone.data, batch.data)


def test_a_corpus_line_without_text_or_with_a_null_id_is_an_error(tmp_path):
    from esplade_eval.data.trec import read_corpus

    for line, problem in (('{"id": "a"}', "no 'contents' field"), ('{"id": null, "contents": "x"}', "'id' must be"),
                          ('{"id": "a", "contents": 7}', "'contents' must be a string")):
        path = tmp_path / "c.jsonl"
        path.write_text('{"id": "z", "contents": "fine"}\n' + line + "\n")
        with pytest.raises(InputError, match=rf"c.jsonl:2: {problem}"):
            list(read_corpus(path))


def _run_main(argv) -> tuple[int, str]:
    """Exit status, and stdout + stderr together."""
    out = io.StringIO()
    with contextlib.redirect_stderr(out), contextlib.redirect_stdout(out):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue()


@pytest.mark.slow
def test_empty_runs_and_empty_query_sets_are_reported_alike_by_every_verb(tmp_path, flow):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    run, level = flow.levels["full"].run, flow.levels["full"]
    cases = [
        (["check-run", empty], 1, f"{empty}: empty run: no result lines"),
        (["package-run", empty, "--out", tmp_path / "o" / "r.gz"], 1, "not written"),
        (["evaluate", "--qrels", flow.qrels, empty, "--output", tmp_path / "o" / "t.md"], 2,
         f"{empty}: empty run: no result lines"),
        (["fuse", run, empty, "--output", tmp_path / "o" / "f.txt"], 2, f"{empty}: empty run: no result lines"),
        (["search", "--index", level.index, "--queries", empty, "--output", tmp_path / "o" / "r.txt"], 2,
         f"{empty}: no queries: the query file is empty"),
        (["cost", "--index", level.index, "--queries", empty, "--no-latency", "--json", tmp_path / "o" / "c.json"],
         2, f"{empty}: no queries: the query file is empty"),
        (["postings", "--index", level.index, "--queries", empty], 2, f"{empty}: no queries: the query file is empty"),
    ]
    for argv, status, message in cases:
        rc, err = _run_main(argv)
        assert (rc, message in err) == (status, True), (argv[0], rc, err)
    assert not (tmp_path / "o").exists()


def test_the_readme_names_real_tests():
    """Each guarantee of docs/guarantees.md (bad input, faults and stop signals) names tests, and each name is a test."""
    import re

    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "guarantees.md").read_text(encoding="utf-8")
    section = text.split("# Guarantees: bad input, faults and stop signals")[1].split("\n## ")[0]
    files = {"R": root / "tests" / "test_reliability.py", "F": root / "tests" / "test_fuzz.py",
             "Q": root / "tests" / "test_query_encoding.py", "G": root / "tests" / "test_guard.py",
             "O": root / "tests" / "test_options.py"}
    defined = {k: set(re.findall(r"^def (test_\w+)", f.read_text(encoding="utf-8"), re.M)) for k, f in files.items()}
    guarantees = re.split(r"\n\d+\. ", section)[1:]
    assert len(guarantees) == 15
    for item in guarantees:
        named = re.findall(r"\b([RFQGO])::(test_\w+)", item)
        assert named, item[:80]
        missing = [f"{k}::{name}" for k, name in named if name not in defined[k]]
        assert not missing, missing
