"""Shared helpers of the evaluation tests: real BM25 runs (Pyserini) and trec_eval (Anserini jar).

Not a test module. The BM25 runs are built once per session, whichever test module asks
first (``functools.cache`` on a fixed folder under pytest's base temp), in subprocesses:
the JVM never starts inside the test process.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

#: BM25 variants (name -> pyserini flags): real Lucene runs over the Semanlink titles
BM25 = {"bm25": ["--bm25", "--k1", "0.9", "--b", "0.4"]}


def java_env() -> dict[str, str]:
    """Environment whose ``java`` is Java 21+ (Pyserini's trec_eval shells out to ``java``)."""
    from esplade_eval.lucene.java import find_java

    home = find_java().home
    env = dict(os.environ)
    env["JAVA_HOME"] = str(home)
    env["PATH"] = f"{home / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@functools.cache
def bm25_runs(corpus: str, topics: str, work: str) -> dict[str, Path]:
    """Index ``corpus`` with Lucene and search ``topics`` with each :data:`BM25` variant."""
    work_dir = Path(work)
    docs = work_dir / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    link = docs / "corpus.jsonl"
    if not link.exists():
        link.symlink_to(Path(corpus).resolve())
    index = work_dir / "index"
    env = java_env()
    subprocess.run([sys.executable, "-m", "pyserini.index.lucene", "--collection", "JsonCollection", "--input", str(docs),
                    "--index", str(index), "--generator", "DefaultLuceneDocumentGenerator", "--threads", "1",
                    "--storeRaw"], check=True, env=env, capture_output=True)
    runs = {name: work_dir / f"run.{name}.txt" for name in BM25}
    procs = [subprocess.Popen([sys.executable, "-m", "pyserini.search.lucene", "--index", str(index), "--topics", topics,
                               "--output", str(runs[name]), "--hits", "1000", "--threads", "1", *flags],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for name, flags in BM25.items()]
    for p in procs:
        _, err = p.communicate()
        assert p.returncode == 0, err.decode()[-2000:]
    return runs


def trec_eval(args: list[str]) -> dict[str, float]:
    """``python -m pyserini.eval.trec_eval ARGS``: ``{measure: value}`` of the ``all`` lines.

    Parsed from stdout here because the module's return value keeps only the last measure.
    """
    out = subprocess.run([sys.executable, "-m", "pyserini.eval.trec_eval", *args], env=java_env(),
                         capture_output=True, text=True, check=True).stdout
    values = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "all":
            values[parts[0]] = float(parts[2])
    assert values, out
    return values


def trec_eval_per_query(args: list[str], measure: str) -> dict[str, float]:
    """Per-query values (``-q``) of one trec_eval measure."""
    out = subprocess.run([sys.executable, "-m", "pyserini.eval.trec_eval", "-q", *args], env=java_env(),
                         capture_output=True, text=True, check=True).stdout
    return {p[1]: float(p[2]) for p in (line.split() for line in out.splitlines())
            if len(p) == 3 and p[0] == measure and p[1] != "all"}
