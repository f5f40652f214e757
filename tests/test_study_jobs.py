"""Stages run concurrently (``jobs`` worker processes) with the serial engine's records, cache and failures.

The stages are the cheapest real ones: BM25 through Anserini (a real JVM per worker) on the
first 1,500 Semanlink titles, and the evaluation of its run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from esplade_eval.study.cache import Stage, StageStore, assign_keys
from esplade_eval.study.engine import execute
from esplade_eval.study.stages import Context, fingerprint

pytestmark = pytest.mark.slow


def bm25_plan(k1s=(0.9, 1.2), bad_split: bool = True) -> list[Stage]:
    """Two independent BM25 → evaluate chains, plus (``bad_split``) one whose BM25 fails."""
    stages = []
    for k1, split in [*((k, "test") for k in k1s), *([(0.9, "no-such-split")] if bad_split else [])]:
        name = f"bm25-k{k1:g}-{split}"
        bm25 = Stage("bm25", name, {"split": split, "hits": 100, "k1": k1, "b": 0.4, "threads": 1}, system=name)
        stages += [bm25, Stage("evaluate", name, {"measures": ["nDCG@10"], "split": "test"}, (bm25,), system=name)]
    assign_keys(stages)
    return stages


def run(collection, work: Path, jobs: int):
    store = StageStore(work)
    return execute(bm25_plan(), store, Context(None, collection, store), progress=False, jobs=jobs), store


def results(store: StageStore, outcome) -> dict:
    """{(kind, name): (status, fingerprint of the results or None)}: what must not depend on ``jobs``."""
    out = {}
    for r in outcome.results:
        record = store.record(r.stage)
        out[(r.stage.kind, r.stage.name)] = (
            r.status, fingerprint(r.stage.kind, store.folder(r.stage), record) if record else None)
    return out


@pytest.fixture(scope="module")
def serial_and_concurrent(semanlink_small, tmp_path_factory):
    base = tmp_path_factory.mktemp("jobs")
    serial = run(semanlink_small, base / "serial", 1)
    concurrent = run(semanlink_small, base / "concurrent", 2)
    return serial, concurrent


def test_concurrent_run_gives_the_serial_records(serial_and_concurrent):
    (s_out, s_store), (c_out, c_store) = serial_and_concurrent
    assert [r.stage.label for r in c_out.results] == [r.stage.label for r in s_out.results]  # plan order
    assert results(c_store, c_out) == results(s_store, s_out)
    statuses = {(r.stage.kind, r.stage.name): r.status for r in c_out.results}
    assert statuses == {("bm25", "bm25-k0.9-test"): "ran", ("evaluate", "bm25-k0.9-test"): "ran",
                        ("bm25", "bm25-k1.2-test"): "ran", ("evaluate", "bm25-k1.2-test"): "ran",
                        ("bm25", "bm25-k0.9-no-such-split"): "failed",
                        ("evaluate", "bm25-k0.9-no-such-split"): "skipped"}
    failed = next(r for r in c_out.results if r.status == "failed")
    assert c_store.failure(failed.stage)["error"] == failed.error  # recorded beside it, as serially
    skipped = next(r for r in c_out.results if r.status == "skipped")
    assert skipped.error == f"needs {failed.stage.label}"
    assert not list(c_store.root.glob("*/.*.tmp"))  # no temporary folder left


def test_two_independent_stages_overlap(serial_and_concurrent):
    """The two BM25 stages ran at the same time (their records' start and duration overlap)."""
    _, (c_out, c_store) = serial_and_concurrent
    spans = []
    for r in c_out.results:
        if r.stage.kind == "bm25" and r.status == "ran":
            record = c_store.record(r.stage)
            start = time.mktime(time.strptime(record["started"][:19], "%Y-%m-%dT%H:%M:%S"))
            spans.append((start, start + record["seconds"]))
    (a0, a1), (b0, b1) = sorted(spans)
    assert b0 <= a1 + 1  # the second started before the first ended (1 s: the records' resolution)


def test_rerun_with_jobs_reuses_every_complete_stage(serial_and_concurrent, semanlink_small):
    """A rerun with two jobs over the serial run's folder: complete stages cached, the failure retried."""
    (_, s_store), _ = serial_and_concurrent
    stamps = {p: p.stat().st_mtime_ns for p in s_store.root.glob("*/*/record.json")}
    again, _ = run(semanlink_small, s_store.work, 2)
    assert [r.status for r in again.results] == ["cached", "cached", "cached", "cached", "failed", "skipped"]
    assert {p: p.stat().st_mtime_ns for p in s_store.root.glob("*/*/record.json")} == stamps


SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from esplade_eval.data.collection import Collection
from esplade_eval.study.cache import StageStore
from esplade_eval.study.engine import execute
from esplade_eval.study.stages import Context
from test_study_jobs import bm25_plan
store = StageStore({work!r})
stages = bm25_plan(k1s=(0.5, 0.6, 0.7, 0.8), bad_split=False)
print("running", flush=True)
execute(stages, store, Context(None, Collection({collection!r}), store), progress=False, jobs=2)
"""


def test_sigterm_stops_the_workers_and_leaves_nothing_looking_complete(semanlink_small, tmp_path):
    work = tmp_path / "work"
    code = "from esplade_eval._children import install_stop_handlers; install_stop_handlers()\n" + SCRIPT.format(
        tests=str(Path(__file__).parent), work=str(work), collection=str(semanlink_small.root))
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list((work / "stages" / "bm25").glob(".*.tmp")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            time.sleep(0.1)
        workers = _children(proc.pid)
        assert len(workers) == 2
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode != 0
    assert not [p for p in workers if _state(p) not in ("gone", "Z")]  # every worker gone
    for folder in (work / "stages" / "bm25").iterdir():
        # a folder that exists is complete (its record says so); no temporary folder is left
        assert not folder.name.startswith(".") or not folder.is_dir(), folder
        if folder.is_dir():
            assert json.loads((folder / "record.json").read_text())["status"] == "complete"


def _children(pid: int) -> list[int]:
    """The worker processes of ``pid`` (not multiprocessing's resource tracker)."""
    out = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "spawn_main" in line]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return "gone"
