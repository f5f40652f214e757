"""Impact search with Anserini's ``SimpleImpactSearcher`` (in-process JVM).

Scores are exact integer dot products of query and document impacts. Results are
ranked by (-score, docid), Pyserini's deterministic tie-break, and ties are honoured at
the cut-off: when the k-th and (k+1)-th hits tie, more hits are fetched until the tie is
resolved, so the top k never depends on Lucene's internal document order.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Mapping

from esplade_eval.data.trec import write_run
from esplade_eval.sparse.jsonvector import read_query_vectors  # noqa: F401  (part of this module's API)

log = logging.getLogger(__name__)

Hits = list[tuple[str, float]]


class ImpactSearcher:
    """Search a Lucene impact index with integer query vectors.

    >>> s = ImpactSearcher("indexes/semanlink-full")          # doctest: +SKIP
    >>> s.search({"semantic": 120, "web": 80}, k=3)            # doctest: +SKIP
    [('d5b0...', 23160.0), ...]
    """

    def __init__(self, index: str | os.PathLike):
        from esplade_eval.lucene.index import check_index
        from esplade_eval.lucene.java import start

        index = check_index(index)
        autoclass = start()
        self._JHashMap = autoclass("java.util.HashMap")
        self._JArrayList = autoclass("java.util.ArrayList")
        self._JInt = autoclass("java.lang.Integer")
        self._searcher = autoclass("io.anserini.search.SimpleImpactSearcher")(str(index))
        self.index = index
        self.num_docs = int(self._searcher.get_total_num_docs())

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

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


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


def search_to_run(index: str | os.PathLike, queries: Mapping[str, Mapping[str, int]], output: str | os.PathLike,
                  k: int = 1000, threads: int = 1, tag: str = "esplade_eval") -> dict:
    """Search ``queries`` and write a TREC run atomically; returns timing and counts."""
    started = time.perf_counter()
    with ImpactSearcher(index) as searcher:
        results = searcher.batch_search(queries, k=k, threads=threads)
    seconds = time.perf_counter() - started
    write_run(output, {qid: dict(hits) for qid, hits in results.items()}, tag=tag, k=k)
    empty = [q for q, h in results.items() if not h]
    if empty:
        log.warning("%d queries retrieved nothing (e.g. %s)", len(empty), ", ".join(empty[:5]))
    return {"queries": len(results), "no_hits": len(empty), "seconds": round(seconds, 3), "output": str(output)}
