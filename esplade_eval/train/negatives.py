"""BM25 hard negatives: a Lucene BM25 index of the collection's titles.

The index is built once per collection under ``<collection>/bm25-index``; indexing and
search go through :mod:`esplade_eval.lucene.bm25` (the only layer that touches Lucene).
Negatives of a query are its BM25 top-``depth`` documents that the qrels do not judge
relevant, in rank order.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def ensure_bm25_index(collection, threads: int = 1) -> Path:
    """``<collection>/bm25-index``, built when missing (or incomplete)."""
    from esplade_eval.lucene.bm25 import build_bm25_index

    index = Path(collection.root) / "bm25-index"
    if any(index.glob("segments_*")):
        return index
    return build_bm25_index(collection.corpus, index, threads=threads, overwrite=True)


def bm25_negatives(collection, queries: dict[str, str], qrels: dict[str, dict[str, int]], depth: int = 50,
                   threads: int = 1) -> dict[str, list[str]]:
    """``{qid: [docid, ...]}``: BM25 top-``depth`` non-relevant documents per query."""
    from esplade_eval.lucene.bm25 import bm25_search

    index = ensure_bm25_index(collection, threads)
    qids = sorted(queries)
    hits = bm25_search(index, {q: queries[q] for q in qids}, k=depth, threads=threads)
    out = {}
    for qid in qids:
        rel = qrels.get(qid, {})
        out[qid] = [docid for docid, _ in hits[qid] if rel.get(docid, 0) <= 0]
    log.info("BM25 negatives: %d queries, %.1f per query", len(out), sum(map(len, out.values())) / max(1, len(out)))
    return out
