"""Past one machine, measured on this one: Ray encoding with 1 vs 2 workers, and merged search over shards.

Real Semanlink corpus (7,300 titles), real SPLADE-tiny, a local Ray instance with this
machine's cores, everything in one run:

* encoding throughput of ``export --ray`` (documents per second of the encoding phase, actor
  start-up excluded) with 1 worker x C threads and with 2 workers x C/2 threads, C = cores,
  and the single-process export with C threads as the reference; the ratio 2 workers / 1
  worker is the figure; every export's collection files are compared byte for byte;
* indexing throughput: Anserini on the whole collection and per shard (2 and 4 shards);
* merged-search overhead: the same pre-encoded queries (all 873 topics) searched on the
  single index and on its 2- and 4-shard versions in this process (one JVM, shards one after
  another), best of ``--rounds``, runs compared byte for byte; the ratio sharded / single is
  the figure (more JVM work per query on this machine; on a cluster the shards run in parallel);
* latency per shard (the cost verb's protocol), and indexing throughput and latency on an index
  of ``--copies`` copies of the collection, the inputs of the scale model in docs/scale.md.

    python benchmarks/scale.py [--shard-size 730] [--rounds 3] [--json results/bench_scale.json]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

LEVEL = "d16-q8"  # a mid pruning level of the demo's grid


def _same_collection(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in (a / "collection").iterdir())
    if names != sorted(p.name for p in (b / "collection").iterdir()):
        return False
    _, mismatch, errors = filecmp.cmpfiles(a / "collection", b / "collection", names, shallow=False)
    return not mismatch and not errors


def encoding(corpus: Path, topics: list[Path], tmp: Path, shard_size: int, cores: int, rounds: int) -> dict:
    """Docs/s of the encoding phase: single process, then Ray with 1 and 2 workers (alternating rounds)."""
    from esplade_eval.data.trec import read_corpus
    from esplade_eval.distributed.export import export_on_ray
    from esplade_eval.distributed.runtime import connect
    from esplade_eval.distributed.workers import EncoderSettings
    from esplade_eval.model.encoder import SpladeEncoder
    from esplade_eval.model.export import export_corpus, export_topics
    from esplade_eval.sparse.prune import Pruning

    docs = sum(1 for _ in read_corpus(corpus))
    levels = [Pruning.parse(LEVEL)]
    encoder = SpladeEncoder.from_checkpoint("splade-tiny", threads=cores)
    encoder.encode(["warm up the model"] * 8)
    t = time.perf_counter()  # the whole single-process export of the documents (read, encode, write)
    export_corpus(encoder, corpus, tmp / "single", levels, shard_size=shard_size, progress=False)
    single = docs / (time.perf_counter() - t)
    for topic_file in topics:  # untimed: the Ray figure is its encoding phase, which leaves the topics out too
        export_topics(encoder, topic_file, tmp / "single" / LEVEL)
    del encoder
    ray, started = connect("local", num_cpus=cores)
    best = {1: 0.0, 2: 0.0}
    identical = True
    for r in range(rounds):
        for workers in (1, 2):
            out = tmp / f"ray-{workers}-{r}"
            result = export_on_ray(EncoderSettings("splade-tiny"), corpus, out, levels, shard_size=shard_size,
                                   workers=workers, threads=max(1, cores // workers), progress=False)
            best[workers] = max(best[workers], docs / result.info["encode_seconds"])
            identical &= _same_collection(tmp / "single" / LEVEL, out / LEVEL)
    if started:
        ray.shutdown()
    return {"documents": docs, "shard_size": shard_size, "cores": cores, "single_process_docs_per_s": single,
            "ray_1_worker_docs_per_s": best[1], "ray_2_workers_docs_per_s": best[2],
            "ratio_2_over_1": best[2] / best[1], "collections_identical": identical}


def indexing(level: Path, tmp: Path, shard_counts: tuple[int, ...]) -> tuple[dict, dict[int, Path]]:
    from esplade_eval.lucene.index import build_index
    from esplade_eval.lucene.shards import build_sharded_index

    indexes = {1: tmp / "index-1"}
    info = build_index(level, indexes[1], threads=1, progress=False)
    out = {"single_docs_per_s": info["documents_indexed"] / info["seconds"], "single_seconds": info["seconds"]}
    for n in shard_counts:
        indexes[n] = tmp / f"index-{n}"
        top = build_sharded_index(level, indexes[n], n, threads=1, parallel=2, progress=False)
        per_shard = [s["documents_indexed"] / s["seconds"] for s in top["shards"]]
        out[f"{n}_shards_seconds"] = top["seconds"]
        out[f"{n}_shards_docs_per_s_per_shard"] = sum(per_shard) / len(per_shard)
    return out, indexes


def searching(indexes: dict[int, Path], queries_file: Path, tmp: Path, hits: int, rounds: int) -> dict:
    """Best-of-``rounds`` wall time of search_to_run on each index (rounds alternate), runs compared."""
    from esplade_eval.lucene.search import search_to_run
    from esplade_eval.sparse.jsonvector import read_query_vectors

    queries, _ = read_query_vectors(queries_file)
    best = {n: float("inf") for n in indexes}
    for n, index in indexes.items():  # warm-up: JVM, page cache, id tables
        search_to_run(index, queries, tmp / f"warm-{n}.txt", k=hits, threads=1, progress=False)
    for _ in range(rounds):
        for n, index in indexes.items():
            t = time.perf_counter()
            search_to_run(index, queries, tmp / f"run-{n}.txt", k=hits, threads=1, progress=False)
            best[n] = min(best[n], time.perf_counter() - t)
    identical = all(filecmp.cmp(tmp / "run-1.txt", tmp / f"run-{n}.txt", shallow=False) for n in indexes)
    out = {"queries": len(queries), "hits": hits, "runs_identical": identical, "single_seconds": best[1]}
    for n in indexes:
        if n > 1:
            out[f"{n}_shards_seconds"] = best[n]
            out[f"ratio_{n}_shards_over_single"] = best[n] / best[1]
    return out


def latency(indexes: dict[int, Path], queries_file: Path, hits: int) -> dict:
    """Mean per-query latency (ms) on each index with the cost verb's protocol, and per shard."""
    import numpy as np

    from esplade_eval.cost import load_queries, time_queries
    from esplade_eval.lucene.postings import index_size_bytes

    queries = load_queries(queries_file)
    out = {}
    for n, index in indexes.items():
        details: dict = {}
        times = time_queries(index, queries, hits, passes=3, warmup=2, progress=False, details=details)
        med = [float(np.median(v)) * 1e3 for q, v in times.items() if any(w > 0 for w in queries[q].values())]
        out[n] = {"latency_ms_mean": sum(med) / len(med), "index_bytes": index_size_bytes(index), **details}
    return out


def replicated(level: Path, tmp: Path, copies: int, queries_file: Path, hits: int) -> dict:
    """Index ``copies`` copies of the collection (ids suffixed) on 1 thread, and time queries on it:
    steady-state indexing throughput, and how latency grows with the documents of one index."""
    import numpy as np

    from esplade_eval.cost import load_queries, time_queries
    from esplade_eval.lucene.index import build_index
    from esplade_eval.lucene.postings import index_size_bytes

    folder = tmp / f"x{copies}"
    folder.mkdir()
    lines = [json.loads(line) for f in sorted((level / "collection").iterdir()) for line in f.open()]
    with open(folder / "docs00000.jsonl", "w", encoding="utf-8") as fh:
        for r in range(copies):
            for doc in lines:
                fh.write(json.dumps({**doc, "id": f"{doc['id']}-{r}"}) + "\n")
    info = build_index(folder, tmp / f"index-x{copies}", threads=1, progress=False)
    queries = load_queries(queries_file)
    times = time_queries(tmp / f"index-x{copies}", queries, hits, passes=3, warmup=2, progress=False)
    med = [float(np.median(v)) * 1e3 for q, v in times.items() if any(w > 0 for w in queries[q].values())]
    return {"documents": copies * len(lines), "index_seconds": info["seconds"],
            "index_docs_per_s": info["documents_indexed"] / info["seconds"],
            "index_bytes_per_doc": index_size_bytes(tmp / f"index-x{copies}") / (copies * len(lines)),
            "latency_ms_mean": sum(med) / len(med)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shard-size", type=int, default=730, help="collection shard (Ray unit of work): 10 for 7,300")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--export-rounds", type=int, default=2, help="Ray exports per worker count (best kept)")
    ap.add_argument("--rounds", type=int, default=3, help="timed searches of the query set per index (best kept)")
    ap.add_argument("--hits", type=int, default=1000)
    ap.add_argument("--copies", type=int, default=10, help="copies of the collection in the scaling index")
    ap.add_argument("--json", help="write every figure here")
    args = ap.parse_args(argv)

    from esplade_eval.data.semanlink import build_semanlink

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        tmp = Path(tmp)
        collection = build_semanlink(tmp / "sl")
        topics = [collection.topics(s) for s in ("train", "dev", "test")]
        enc = encoding(collection.corpus, topics, tmp, args.shard_size, args.cores, args.export_rounds)
        level = tmp / "single" / LEVEL
        idx, indexes = indexing(level, tmp, (2, 4))
        queries = tmp / "all.jsonl"
        queries.write_text("".join((level / f"queries.{s}.jsonl").read_text() for s in ("train", "dev", "test")))
        srch = searching(indexes, queries, tmp, args.hits, args.rounds)
        lat = latency(indexes, queries, args.hits)
        big = replicated(level, tmp, args.copies, queries, args.hits)
        disk = {"collection_bytes_per_doc": sum(p.stat().st_size for p in (level / "collection").iterdir())
                / enc["documents"], "index_bytes_per_doc": lat[1]["index_bytes"] / enc["documents"]}
    report = {"machine": f"{args.cores} cores", "level": LEVEL, "encoding": enc, "indexing": idx, "search": srch,
              "latency": {str(k): v for k, v in lat.items()}, "disk": disk, "replicated": big}
    _print(report)
    if args.json:
        from esplade_eval._io import write_json

        write_json(args.json, report)
    ok = enc["collections_identical"] and srch["runs_identical"]
    return 0 if ok else 1


def _print(r: dict) -> None:
    e, i, s = r["encoding"], r["indexing"], r["search"]
    print(f"SPLADE-tiny, {e['documents']} Semanlink titles, level {r['level']}, {e['cores']} cores, "
          f"collection shards of {e['shard_size']}")
    print(f"encode, single process ({e['cores']} threads): {e['single_process_docs_per_s']:8.0f} docs/s")
    print(f"encode, Ray 1 worker x {e['cores']} threads:   {e['ray_1_worker_docs_per_s']:8.0f} docs/s")
    print(f"encode, Ray 2 workers x {max(1, e['cores'] // 2)} threads:  {e['ray_2_workers_docs_per_s']:8.0f} docs/s")
    print(f"ratio 2 workers / 1 worker: {e['ratio_2_over_1']:.2f}x; "
          f"collections identical to the single-process export: {e['collections_identical']}")
    print(f"index, Anserini 1 thread: {i['single_docs_per_s']:.0f} docs/s whole, "
          f"{i['2_shards_docs_per_s_per_shard']:.0f} / {i['4_shards_docs_per_s_per_shard']:.0f} docs/s per shard "
          "(2 / 4 shards, JVM start-up included)")
    print(f"search {s['queries']} queries x {s['hits']} hits: single {s['single_seconds']:.2f} s, "
          f"2 shards {s['2_shards_seconds']:.2f} s ({s['ratio_2_shards_over_single']:.2f}x), "
          f"4 shards {s['4_shards_seconds']:.2f} s ({s['ratio_4_shards_over_single']:.2f}x); "
          f"runs identical: {s['runs_identical']}")
    for n, v in r["latency"].items():
        extra = f", merge {v['latency_ms_merge_mean']:.3f} ms" if "latency_ms_merge_mean" in v else ""
        print(f"latency ({n} shard{'s' if n != '1' else ''}): {v['latency_ms_mean']:.3f} ms/query mean{extra}")
    print(f"disk: {r['disk']['collection_bytes_per_doc']:.0f} B/doc collection, "
          f"{r['disk']['index_bytes_per_doc']:.0f} B/doc index")
    b = r["replicated"]
    print(f"{b['documents']} documents (copies) in one index: indexed at {b['index_docs_per_s']:.0f} docs/s "
          f"(1 thread), {b['index_bytes_per_doc']:.0f} B/doc, latency {b['latency_ms_mean']:.3f} ms/query mean")


if __name__ == "__main__":
    raise SystemExit(main())
