"""``search --ray``: one Ray actor per shard, each keeping a warm JVM with its shard open.

Each actor holds a :class:`~esplade_eval.lucene.batch.BatchSearcher` on its shard (the JVM,
the id table and the page cache stay warm between calls) and answers a chunk of queries with
its exact top ``k`` and raw scores; the driver merges the chunk's per-shard lists by
(-score, docid) and applies the single index's score-tie adjustment
(:func:`esplade_eval.lucene.shards.merge_shard_results`), so the run is the single index's,
byte for byte. Shards answer the same chunk in parallel, and the next chunk is already
being searched while the driver merges and writes the last one.

Every actor opens its shard as a local search does (:class:`~esplade_eval.lucene.batch.BatchSearcher`:
``opening_index`` and ``verify_index``), so a corrupt shard is an error naming it, never a silent run.
On a cluster every worker must see the index folder (a shared filesystem), as for ``index --ray``.
"""

from __future__ import annotations

import os
from typing import Iterator, Mapping

from esplade_eval.distributed.runtime import cluster_counts, session, task_error
from esplade_eval.errors import EspladeError
from esplade_eval.lucene.index import shard_paths
from esplade_eval.lucene.shards import merge_shard_results

CHUNK = 512  # queries per request to every shard actor


class ShardSearcher:
    """A Ray actor: a warm JVM holding one shard open."""

    def __init__(self, shard: str, heap: str | None = None):
        from esplade_eval.lucene.batch import BatchSearcher

        self.batch = BatchSearcher(shard, "impact", heap=heap, quick_jit=True)  # a JVM that only searches
        self.batch.load_ids()
        self.lucene9 = self.batch.lucene9

    def describe(self) -> dict:
        return {"shard": str(self.batch.index), "lucene9": self.lucene9, "pid": os.getpid()}

    def search(self, queries: dict[str, dict[str, int]], k: int, threads: int = 1) -> dict:
        """``{qid: (ids, raw scores)}``: this shard's exact top ``k`` by (-score, docid)."""
        from esplade_eval.lucene.search import impact_queries

        return {qid: (ids, scores) for qid, ids, scores in
                self.batch.run(impact_queries(self.batch, queries), k, threads=threads, progress=False,
                               adjust_ties=False)}


def ray_searcher(address: str | None = None, cpus_per_shard: float | None = None):
    """A ``search`` callable for :func:`~esplade_eval.lucene.search.search_to_run` that uses shard actors."""
    def search(index, queries, k=1000, threads=1, heap=None, progress=None, quick_jit=False):
        return ray_batch_search(index, queries, k=k, threads=threads, heap=heap, progress=progress,
                                address=address, cpus_per_shard=cpus_per_shard)  # actors: JVMs that only search

    return search


def ray_batch_search(index, queries: Mapping[str, Mapping[str, int]], k: int = 1000, threads: int = 1,
                     heap: str | None = None, progress: bool | None = None, address: str | None = None,
                     cpus_per_shard: float | None = None) -> Iterator[tuple[str, list[str], list[float]]]:
    """``(qid, ids, scores)`` of every query, in input order: :func:`~esplade_eval.lucene.search.batch_search`
    with one actor per shard (a plain index is one shard).

    ``cpus_per_shard``: logical CPUs each actor reserves (default: 1, or the cluster's CPUs
    shared out when there are more shards than CPUs, as on this 2-core machine).
    """
    from esplade_eval._progress import bar
    from esplade_eval.lucene.batch import heap_for_index

    shards = shard_paths(index)
    qids = list(queries)
    with session(address) as ray, bar(total=len(qids), desc="search shards (ray)", unit="q", enabled=progress) as b:
        cpus = cpus_per_shard or min(1.0, max(cluster_counts(ray)[0], 1) / len(shards))
        actor = ray.remote(ShardSearcher).options(num_cpus=cpus)
        actors = [actor.remote(str(p), heap or heap_for_index(p)) for p in shards]
        try:
            adjust = _lucene9(ray, actors)
            chunks = [qids[i:i + CHUNK] for i in range(0, len(qids), CHUNK)]
            submit = [lambda c=c: [a.search.remote({q: dict(queries[q]) for q in c}, k, threads) for a in actors]
                      for c in chunks]
            pending = submit[0]() if chunks else []
            for i, chunk in enumerate(chunks):
                per_shard = _get(ray, pending)
                pending = submit[i + 1]() if i + 1 < len(chunks) else []  # next chunk searched while we merge
                for hit in merge_shard_results(chunk, per_shard, k, adjust):
                    b.update(1)
                    yield hit
        finally:
            for a in actors:
                ray.kill(a)


def _get(ray, refs):
    try:
        return ray.get(refs)
    except Exception as exc:
        raise task_error(exc, "a shard searcher failed on Ray") from exc


def _lucene9(ray, actors) -> bool:
    kinds = {d["lucene9"] for d in _get(ray, [a.describe.remote() for a in actors])}
    if len(kinds) != 1:
        raise EspladeError("the shards were written by different Lucene versions: their score-tie handling differs")
    return kinds.pop()
