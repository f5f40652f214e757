"""What one level costs, measured on its Lucene index: posting lengths, postings traversed,
FLOPS and latency of its query set (:mod:`esplade_eval.lucene.postings` reads the index;
only the query vectors come from their file)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from esplade_eval import defaults
from esplade_eval.cost.levels import LevelSpec, load_queries
from esplade_eval.cost.queries import QueryCosts, query_costs, set_flops, summarize
from esplade_eval.cost.stats import postings_statistics


@dataclass
class LevelCost:
    spec: LevelSpec
    terms: object  # esplade_eval.lucene.postings.IndexTerms
    postings: dict
    costs: QueryCosts
    summary: dict = field(default_factory=dict)


def time_queries(index, queries, hits: int = defaults.HITS, passes: int = defaults.LATENCY_PASSES,
                 warmup: int = defaults.LATENCY_WARMUP, progress: bool | None = None, desc: str = "latency",
                 details: dict | None = None) -> dict:
    """Per-query latencies (:class:`~esplade_eval.lucene.postings.LatencyProbe`), with a bar
    over the ``(warmup + passes) x queries`` searches (None: only on a terminal).

    On a sharded index, ``details`` (when given) receives :func:`sharded_latency`.
    """
    from esplade_eval._progress import bar
    from esplade_eval.lucene.postings import LatencyProbe

    with bar(total=(warmup + passes) * len(queries), desc=desc, unit="query", enabled=progress) as b, \
            LatencyProbe(index) as probe:
        times = probe.time(queries, k=hits, passes=passes, warmup=warmup, progress=b.update)
        if probe.sharded and details is not None:
            details.update(sharded_latency(probe, queries))
        return times


def sharded_latency(probe, queries) -> dict:
    """What a sharded index's latency is made of: the model, and the means per shard and of the merge (ms).

    Means over the non-empty queries of each query's median over the timed passes.
    """
    timed = np.array([any(w > 0 for w in v.values()) for v in queries.values()], dtype=bool)
    shards = probe.shard_seconds.shape[1]
    shard_ms = np.median(probe.shard_seconds[timed], axis=2).mean(axis=0) * 1e3 if timed.any() else []
    merge_ms = float(np.median(probe.merge_seconds[timed], axis=1).mean() * 1e3) if timed.any() else None
    return {"shards": shards, "latency_model": probe.LATENCY_MODEL,
            "latency_ms_mean_per_shard": [round(float(x), 4) for x in shard_ms], "latency_ms_merge_mean": merge_ms}


def measure_level(spec: LevelSpec, hits: int = defaults.HITS, passes: int = defaults.LATENCY_PASSES,
                  warmup: int = defaults.LATENCY_WARMUP, latency: bool = True,
                  progress: bool | None = None) -> LevelCost:
    """Read the index's posting lists, cost every query, and (optionally) time them. The query
    file is read first, so a bad one fails before the JVM starts."""
    from esplade_eval.lucene.index import check_index
    from esplade_eval.lucene.postings import read_index_terms

    check_index(spec.index, allow_sharded=True)
    queries = load_queries(spec.queries)
    terms = read_index_terms(spec.index)
    times, sharded = None, {}
    if latency:
        times = time_queries(spec.index, queries, hits, passes, warmup, progress, desc=f"latency {spec.label}",
                             details=sharded)
    costs = query_costs(terms, queries, times)
    summary = {**summarize(costs, set_flops(terms, queries)), **sharded}
    return LevelCost(spec, terms, postings_statistics(terms, queries), costs, summary)


def query_set_cost(index: str | os.PathLike, queries: str | os.PathLike, hits: int = defaults.HITS,
                   passes: int = defaults.LATENCY_PASSES, warmup: int = defaults.LATENCY_WARMUP,
                   latency: bool = True, progress: bool | None = None) -> tuple[dict, LevelCost]:
    """The cost of one query set on one index (``esplade-eval cost``): its aggregate, headed
    by what was measured, and the per-query detail (``.costs.to_frame()``)."""
    lc = measure_level(LevelSpec("-", Path(index).name, Path(index), Path(queries)), hits, passes, warmup, latency,
                       progress)
    summary = {"index": str(index), "queries_file": str(queries), "documents": lc.terms.documents, "hits": hits,
               **lc.summary}
    return summary, lc


def index_postings(index: str | os.PathLike, queries: str | os.PathLike | None = None, top: int = 10):
    """Posting-list statistics of an index (``esplade-eval postings``), over the vocabulary and
    over the terms of ``queries`` when given; returns ``(statistics, IndexTerms)``."""
    from esplade_eval.lucene.index import check_index
    from esplade_eval.lucene.postings import read_index_terms

    check_index(index, allow_sharded=True)
    vectors = load_queries(queries) if queries else None  # a bad file fails before the JVM starts
    terms = read_index_terms(index)
    stats = postings_statistics(terms, vectors, top=top)
    stats["seconds"] = round(terms.seconds, 3)
    if queries:
        stats["queries"]["file"] = str(queries)
    return stats, terms
