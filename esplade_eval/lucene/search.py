"""Impact search: many queries at once (:func:`search_to_run`), or one at a time.

Scores are exact integer dot products of query and document impacts. Results are
ranked by (-score, docid), Pyserini's deterministic tie-break, and ties are honoured at
the cut-off: when the k-th and (k+1)-th hits tie, more hits are fetched until the tie is
resolved, so the top k never depends on Lucene's internal document order.

Two implementations give the same runs, byte for byte (tested on every pruning level):

* :func:`search_to_run` / :func:`batch_search`: :class:`~esplade_eval.lucene.batch.BatchSearcher`,
  hits read from Java in bulk (one serialised ``TopDocs`` per query, ids from a table);
  what every stage that searches uses;
* :class:`ImpactSearcher`: Anserini's ``SimpleImpactSearcher`` through pyjnius, one bridge
  crossing and one stored-document load per hit; kept as the reference the batch path is
  tested against, and for a handful of interactive queries.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Iterator, Mapping

from esplade_eval import artifacts
from esplade_eval._io import Closing, atomic_file
from esplade_eval.data.trec import check_run_tag, run_text
from esplade_eval.errors import EspladeError
from esplade_eval.sparse.jsonvector import read_query_file

log = logging.getLogger(__name__)

Hits = list[tuple[str, float]]
FIELD = "contents"  # the field Anserini's impact indexes hold


class ImpactSearcher(Closing):
    """Search a Lucene impact index with integer query vectors.

    >>> s = ImpactSearcher("indexes/semanlink-full")          # doctest: +SKIP
    >>> s.search({"semantic": 120, "web": 80}, k=3)            # doctest: +SKIP
    [('d5b0...', 23160.0), ...]
    """

    def __init__(self, index: str | os.PathLike):
        from esplade_eval.lucene.index import check_index, opening_index, verify_index
        from esplade_eval.lucene.java import start

        index = check_index(index)
        autoclass = start()
        verify_index(index)
        self._JHashMap = autoclass("java.util.HashMap")
        self._JArrayList = autoclass("java.util.ArrayList")
        self._JInt = autoclass("java.lang.Integer")
        with opening_index(index):
            self._searcher = autoclass("io.anserini.search.SimpleImpactSearcher")(str(index))
            self.num_docs = int(self._searcher.get_total_num_docs())
        self.index = index

    def _jquery(self, query: Mapping[str, int]):
        jq = self._JHashMap()
        for term, weight in query.items():
            w = int(weight)
            if w != weight or w < 0:
                raise ValueError(f"query weight of {term!r} must be a non-negative integer, got {weight!r}")
            if w:
                jq.put(term, self._JInt(w))
        return jq

    def _raw(self, query: Mapping[str, int], k: int) -> Hits:
        if not any(int(w) > 0 for w in query.values()):
            return []
        return [(h.docid, float(h.score)) for h in self._searcher.search(self._jquery(query), int(k))]

    def search(self, query: Mapping[str, int], k: int = 1000) -> Hits:
        """Top ``k`` ``(docid, score)`` by (-score, docid), ties at the cut-off resolved."""
        _check_k(k)
        return _finish(self._raw(query, k + 1), query, k, self._raw)

    def batch_search(self, queries: Mapping[str, Mapping[str, int]], k: int = 1000, threads: int = 1) -> dict[str, Hits]:
        """Search many queries with ``threads`` Java threads; returns ``{qid: hits}`` in input order."""
        _check_k(k)
        qids = list(queries)
        jqueries, jqids = self._JArrayList(), self._JArrayList()
        nonempty = [q for q in qids if any(int(w) > 0 for w in queries[q].values())]
        for qid in nonempty:
            jqueries.add(self._jquery(queries[qid]))
            jqids.add(qid)
        raw: dict[str, Hits] = {}
        if nonempty:
            results = self._searcher.batch_search(jqueries, jqids, int(k) + 1, int(threads))
            for entry in results.entrySet().toArray():
                raw[entry.getKey()] = [(h.docid, float(h.score)) for h in entry.getValue()]
        return {qid: _finish(raw.get(qid, []), queries[qid], k, self._raw) for qid in qids}

    def close(self) -> None:
        self._searcher.close()


def _check_k(k: int) -> None:
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _finish(hits: Hits, query, k: int, fetch) -> Hits:
    """Rank by (-score, docid); refetch deeper while the cut-off falls inside a tie."""
    fetched = k + 1
    while len(hits) >= fetched and hits[k - 1][1] == hits[-1][1]:
        fetched *= 2
        hits = fetch(query, fetched)
    hits = sorted(hits, key=lambda h: (-h[1], h[0]))
    return hits[:k]


def impact_queries(batch, queries: Mapping[str, Mapping[str, int]]) -> Iterator[tuple[str, object]]:
    """``(qid, Lucene query or None)``: the query Anserini's ``SimpleImpactSearcher`` builds.

    Each vector crosses the bridge once, as JSON that Jackson reads into a
    ``Map<String, Float>`` for Anserini's ``BagOfWordsQueryGenerator`` (a ``BoostQuery`` per
    term, boost = the query impact); zero weights are dropped, an empty query is None.
    """
    import json

    autoclass = batch.autoclass
    mapper = autoclass("com.fasterxml.jackson.databind.ObjectMapper")()
    reader = mapper.readerForMapOf(autoclass("java.lang.Class").forName("java.lang.Float"))
    generator = autoclass("io.anserini.search.query.BagOfWordsQueryGenerator")()
    for qid, query in queries.items():
        weights = {}
        for term, weight in query.items():
            w = int(weight)
            if w != weight or w < 0:
                raise ValueError(f"query {qid!r}: weight of {term!r} must be a non-negative integer, got {weight!r}")
            if w:
                weights[term] = w
        yield qid, (generator.buildQuery(FIELD, reader.readValue(json.dumps(weights))) if weights else None)


def batch_search(index: str | os.PathLike, queries: Mapping[str, Mapping[str, int]], k: int = 1000,
                 threads: int = 1, heap: str | None = None, progress: bool | None = None,
                 quick_jit: bool = False) -> Iterator[tuple[str, list[str], list[float]]]:
    """``(qid, ids, scores)`` for every query, in input order, streamed.

    The batch path (:class:`~esplade_eval.lucene.batch.BatchSearcher`): the same hits and
    scores as :meth:`ImpactSearcher.batch_search`, without a bridge crossing per hit. A
    sharded index is searched shard by shard in this JVM and merged exactly
    (:mod:`esplade_eval.lucene.shards`): the same run as the single index's.
    """
    from esplade_eval.lucene.batch import BatchSearcher

    if artifacts.is_sharded_index(index):
        yield from _merged_search(index, queries, k, threads, heap, progress, quick_jit)
        return
    with BatchSearcher(index, "impact", heap=heap, quick_jit=quick_jit) as batch:
        yield from batch.run(impact_queries(batch, queries), k, threads=threads, total=len(queries),
                             progress=progress)


UNKNOWN_ENCODING = ("the encoding of these queries is unknown (their lines carry no 'encoding'), so they cannot be checked against the index; re-export them with "
                    "`esplade-eval export --topics`, or pass --allow-unknown-encoding to search anyway")


def checked_queries(queries: str | os.PathLike, index: str | os.PathLike, allow_mismatch: bool = False,
                    allow_unknown: bool = False, warn=log.warning) -> dict[str, dict[str, int]]:
    """The vectors of a pre-encoded query file, once its encoding is checked against the index's.

    The encoding travels in the file's lines (:mod:`esplade_eval.artifacts`). Queries of
    another checkpoint, max length, vocabulary size or quantisation than the index are refused
    unless ``allow_mismatch``; queries whose encoding is unknown unless ``allow_unknown`` (or
    ``allow_mismatch``). Another pruning than the index's documents is only noted (searching
    differently pruned queries is an experiment, not a mistake). An index without an export
    manifest (built by other tools) cannot be checked, which is noted.
    """
    from esplade_eval.lucene.index import check_index

    check_index(index, allow_sharded=True)
    file = read_query_file(queries)
    found = file.encoding
    if found is None and not (allow_unknown or allow_mismatch):
        raise EspladeError(f"{queries}: {UNKNOWN_ENCODING}")
    manifest = artifacts.index_export_manifest(index)
    if manifest is None:
        warn(f"{index}: no export manifest: the queries' encoding cannot be checked against the index")
    elif found is not None and not allow_mismatch:
        expected = artifacts.encoding_of(manifest)
        artifacts.check_compatible(expected, found, str(queries))
        for note in artifacts.mismatches(expected, found, ("pruning",)):
            warn(f"{queries}: note: {note}")
    return file.vectors


MERGE_CHUNK = 512  # queries searched on every shard before their hits are merged (bounds memory)


def _merged_search(index, queries: Mapping[str, Mapping[str, int]], k: int, threads: int, heap: str | None,
                   progress: bool | None, quick_jit: bool) -> Iterator[tuple[str, list[str], list[float]]]:
    """Every shard's exact top ``k`` with raw scores, merged by (-score, docid), then tie-adjusted."""
    import contextlib

    from esplade_eval._progress import bar
    from esplade_eval.lucene.batch import BatchSearcher
    from esplade_eval.lucene.index import shard_paths
    from esplade_eval.lucene.shards import lucene9_of, merge_shard_results

    qids = list(queries)
    with contextlib.ExitStack() as stack:
        searchers = [stack.enter_context(BatchSearcher(p, "impact", heap=heap, quick_jit=quick_jit))
                     for p in shard_paths(index)]
        adjust = lucene9_of(searchers)
        b = stack.enter_context(bar(total=len(qids), desc="search shards", unit="q", enabled=progress))
        for first in range(0, len(qids), MERGE_CHUNK):
            chunk = qids[first:first + MERGE_CHUNK]
            built = list(impact_queries(searchers[0], {q: queries[q] for q in chunk}))  # one JVM: shared queries
            per_shard = [{qid: (ids, scores) for qid, ids, scores in
                          s.run(built, k, threads=threads, progress=False, adjust_ties=False)} for s in searchers]
            for hit in merge_shard_results(chunk, per_shard, k, adjust):
                b.update(1)
                yield hit


def search_to_run(index: str | os.PathLike, queries: Mapping[str, Mapping[str, int]], output: str | os.PathLike,
                  tag: str | None = None, search=None, **options) -> dict:
    """Search ``queries`` and write a TREC run atomically (streamed); returns timing and counts.

    The run tag defaults to :func:`esplade_eval.artifacts.run_tag` of the index folder's name
    (``esplade_<level>`` for a flow's index). ``options``, :func:`batch_search`'s keywords:
    ``k`` (1000), ``threads`` (1), ``heap``, ``progress``, ``quick_jit``.
    ``heap``: the JVM's ``-Xmx`` (default sized from the index, see
    :func:`~esplade_eval.lucene.batch.heap_for_index`); ``progress``: queries done / total
    on stderr (None: only on a terminal); ``quick_jit``: this process's JVM does nothing
    but this search (see :func:`~esplade_eval.lucene.batch.quick_jit_options`). ``search``:
    what yields the hits, with :func:`batch_search`'s signature (default: it; e.g. the Ray
    actors of :func:`esplade_eval.distributed.search.ray_batch_search`).
    """
    from esplade_eval.lucene.batch import heap_for_index
    from esplade_eval.lucene.java import choose_heap

    tag = check_run_tag(tag or artifacts.run_tag(Path(index).resolve().name))
    options = {"k": 1000, "threads": 1, "progress": None, "quick_jit": False, **options}
    options["heap"] = choose_heap(options.get("heap"), heap_for_index(index))
    started = time.perf_counter()
    empty: list[str] = []
    with atomic_file(output) as fh:
        for qid, ids, scores in (search or batch_search)(index, queries, **options):
            if ids:
                fh.write(run_text(qid, ids, scores, tag))
            else:
                empty.append(qid)
    seconds = time.perf_counter() - started
    if empty:
        log.warning("%d queries retrieved nothing (e.g. %s)", len(empty), ", ".join(empty[:5]))
    return {"queries": len(queries), "no_hits": len(empty), "seconds": round(seconds, 3), "output": str(output),
            "threads": options["threads"], "heap": options["heap"]}
