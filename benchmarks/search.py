"""Batch impact search, whole process: ``esplade-eval search`` vs ``python -m pyserini.search.lucene --impact``.

The demo's unpruned SPLADE-tiny index of the 7,300 Semanlink titles, all 873 Semanlink
topics (train + dev + test) pre-encoded, 1,000 hits, 2 threads. Each command runs as its
own process (interpreter start, imports, JVM start, search, run written), the two
alternating ``--rounds`` times; the figure is the median wall time of each, and the
ratio is Pyserini's over ours. Peak memory is the peak of the summed resident set size
of the command's process tree, sampled from ``/proc`` every 20 ms (Linux). The runs of
the two must rank every query identically (ours is also checked against the files the
tests compare byte for byte).

Builds what it needs when absent, resumably, under ``--flow`` (default
``artifacts/demo``, the demo's folder): the collection, the unpruned level's vectors and
index (:func:`esplade_eval.study.flow.run_flow`), and ``queries.all.jsonl``.

    python benchmarks/search.py [--flow artifacts/demo] [--rounds 3] [--json results/bench_search.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def prepare(flow_dir: Path, threads: int) -> tuple[Path, Path, Path]:
    """``(index, queries.all.jsonl, topics.all.tsv)`` of the unpruned level, built when missing."""
    from esplade_eval.data.trec import read_topics, write_topics
    from esplade_eval.sparse.prune import Pruning
    from esplade_eval.study.flow import run_flow

    flow = run_flow(flow_dir, levels=[Pruning()], threads=threads)
    level = flow.levels["full"]
    topics = flow_dir / "data" / "topics.all.tsv"
    if not topics.exists():
        merged: dict[str, str] = {}
        for split in ("train", "dev", "test"):
            merged.update(read_topics(flow.collection.topics(split)))
        write_topics(topics, merged)
    queries = level.vectors / "queries.all.jsonl"
    if not queries.exists():
        from esplade_eval.model.encoder import SpladeEncoder
        from esplade_eval.model.export import export_topics

        export_topics(SpladeEncoder.from_checkpoint("splade-tiny", threads=threads), topics, level.vectors, name="all")
    return level.index, queries, topics


def _children(pid: int) -> list[int]:
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids.extend(int(c) for c in fh.read().split())
    except OSError:
        pass
    return kids


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(pid: int) -> int:
    """Summed resident set size of ``pid`` and all its descendants, in bytes."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += _rss(p)
        todo.extend(_children(p))
    return total


def measure(cmd: list[str], interval: float = 0.02) -> tuple[float, int]:
    """Wall seconds and peak process-tree RSS (bytes) of ``cmd``; its failure is an error."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(interval)
    seconds = time.perf_counter() - started
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{(out + err)[-3000:]}")
    return seconds, peak


def same_ranking(ours: Path, theirs: Path, k: int) -> tuple[int, list[str]]:
    """Queries compared and those whose ranked top ``k`` differ (by (-score, docid), parsed scores)."""
    from esplade_eval.data.trec import ranked, read_run

    a, b = read_run(ours), read_run(theirs)
    qids = sorted(set(a) | set(b))
    return len(qids), [q for q in qids if ranked(a.get(q, {}), k) != ranked(b.get(q, {}), k)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flow", default="artifacts/demo", help="flow folder holding (or receiving) the unpruned level")
    ap.add_argument("--hits", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="runs of each command, alternating")
    ap.add_argument("--pyserini-batch-size", type=int, default=64,
                    help="Pyserini's --batch-size (its multi-threaded batch path needs > 1)")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)

    index, queries, topics = prepare(Path(args.flow), args.threads)
    n_queries = sum(1 for line in open(queries, encoding="utf-8") if line.strip())
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        ours_run, theirs_run = Path(tmp) / "ours.txt", Path(tmp) / "pyserini.txt"
        ours = [sys.executable, "-m", "esplade_eval", "search", "--index", str(index), "--queries", str(queries),
                "--output", str(ours_run), "--hits", str(args.hits), "--threads", str(args.threads)]
        theirs = [sys.executable, "-m", "pyserini.search.lucene", "--index", str(index), "--impact",
                  "--topics", str(topics), "--encoder", str(queries), "--output", str(theirs_run),
                  "--hits", str(args.hits), "--threads", str(args.threads),
                  "--batch-size", str(args.pyserini_batch_size)]
        times: dict[str, list[float]] = {"ours": [], "pyserini": []}
        peaks: dict[str, int] = {"ours": 0, "pyserini": 0}
        for r in range(args.rounds):
            for name, cmd in (("ours", ours), ("pyserini", theirs)):
                seconds, peak = measure(cmd)
                times[name].append(seconds)
                peaks[name] = max(peaks[name], peak)
                print(f"  round {r + 1} {name:8s} {seconds:7.2f} s  peak {peak / 2 ** 20:7.0f} MiB", flush=True)
        compared, differ = same_ranking(ours_run, theirs_run, args.hits)

    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["pyserini"] / med["ours"]
    paired = [p / o for o, p in zip(times["ours"], times["pyserini"])]  # back to back: similar load
    print(f"\n{n_queries} queries x {args.hits} hits, {args.threads} threads, index {index}")
    print(f"esplade-eval search           {med['ours']:7.2f} s (median of {args.rounds})  "
          f"peak memory {peaks['ours'] / 2 ** 20:6.0f} MiB")
    print(f"pyserini.search.lucene        {med['pyserini']:7.2f} s (median of {args.rounds})  "
          f"peak memory {peaks['pyserini'] / 2 ** 20:6.0f} MiB")
    print(f"ratio (Pyserini / ours): {ratio:.1f}x faster (median times; per round: "
          f"{', '.join(f'{r:.1f}x' for r in paired)}); rankings equal on {compared - len(differ)}/{compared} queries")
    if args.json:
        from esplade_eval._io import write_json

        write_json(args.json, {"queries": n_queries, "hits": args.hits, "threads": args.threads, "index": str(index),
                               "seconds": times, "median_seconds": med, "ratio": ratio, "ratio_per_round": paired,
                               "peak_rss_bytes": peaks, "rankings_equal": not differ, "differing_queries": differ,
                               "pyserini_batch_size": args.pyserini_batch_size})
    if differ:
        print(f"rankings differ on {len(differ)} queries, e.g. {differ[:5]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
