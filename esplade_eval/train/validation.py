"""Validation by exact sparse retrieval: encode, quantise, dot product, score.

(Named for what it is for: *scoring* lives in :mod:`esplade_eval.evaluate`, which this
module calls; here is only what training needs to rank a split without an index.)

Impact search in Lucene is an exact dot product of integer impacts, so a brute-force
``Q @ D.T`` over the same quantised vectors gives the same ranking (ties aside) without an
index; ranks are broken by ``(-score, docid)``. Only documents with a positive score enter
the run. Scoring is :func:`esplade_eval.evaluate.evaluate` (ir_measures over the qrels'
queries, a query without hits scoring 0), so systems always compare on the full query set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from esplade_eval.data.trec import read_corpus, read_qrels, read_topics
from esplade_eval.sparse import Quantizer
from esplade_eval.sparse.vectors import SparseBatch


@dataclass
class Split:
    """Documents, topics and qrels of one split of a collection."""

    doc_ids: list[str]
    doc_texts: list[str]
    topics: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_split(collection, split: str) -> Split:
    """A :class:`~esplade_eval.data.semanlink.Collection` split (queries limited to the qrels')."""
    ids, texts = [], []
    for did, text in read_corpus(collection.corpus):
        ids.append(did)
        texts.append(text)
    topics = read_topics(collection.topics(split))
    qrels = read_qrels(collection.qrels(split))
    topics = {q: t for q, t in topics.items() if q in qrels}
    return Split(ids, texts, topics, qrels)


def to_csr(batch: SparseBatch, n_terms: int):
    import scipy.sparse as sp

    return sp.csr_matrix((batch.data.astype(np.float64), batch.indices, batch.indptr), shape=(len(batch), n_terms))


def exact_search(queries: SparseBatch, docs: SparseBatch, n_terms: int, qids: Sequence[str], doc_ids: Sequence[str],
                 k: int = 100) -> dict[str, dict[str, float]]:
    """Top-``k`` documents per query by dot product (positive scores only)."""
    # sparse documents x dense queries: fast even when (untrained) vectors are dense
    scores = np.asarray(to_csr(docs, n_terms) @ to_csr(queries, n_terms).toarray().T).T
    doc_arr = np.asarray(doc_ids)
    docid_rank = np.argsort(np.argsort(doc_arr, kind="stable"), kind="stable")  # docid order for ties
    run: dict[str, dict[str, float]] = {}
    for i, qid in enumerate(qids):
        row = scores[i]
        pos = np.flatnonzero(row > 0)
        if len(pos) > k:
            # keep every document tied with the k-th score so the tie break is by docid
            kth = np.partition(row[pos], len(pos) - k)[len(pos) - k]
            pos = pos[row[pos] >= kth]
        order = np.lexsort((docid_rank[pos], -row[pos]))[:k]
        run[qid] = {str(doc_arr[pos[j]]): float(row[pos[j]]) for j in order}
    return run


def evaluate_encoder(encoder, split: Split, quantizer: Quantizer | None = None, k: int = 100,
                     measures: Sequence[str] = ("nDCG@10",), doc_vectors: SparseBatch | None = None,
                     progress: bool | None = False) -> dict:
    """Encode, quantise and search ``split`` with ``encoder`` (a ``SpladeEncoder``).

    Returns ``{"aggregate": {measure: mean}, "per_query": {measure: {qid: v}}, "run": ...,
    "stats": {...}}``; means are over every query of the qrels. ``progress`` shows the
    documents and queries being encoded.
    """
    from esplade_eval.evaluate import evaluate

    quantizer = quantizer or Quantizer()
    qids = list(split.topics)
    docs = doc_vectors if doc_vectors is not None else _encode(encoder, split.doc_texts, "documents", progress)
    queries = _encode(encoder, [split.topics[q] for q in qids], "queries", progress)
    dq, dropped_d = quantizer.apply(docs)
    qq, dropped_q = quantizer.apply(queries)
    run = exact_search(qq, dq, len(encoder.terms), qids, split.doc_ids, k=k)
    # every query of the qrels is scored (0 without hits); means are over all of them
    evaluation = evaluate(split.qrels, {"run": run}, measures)
    values = evaluation.scores["run"]
    per_query = {m: dict(zip(evaluation.queries, values[:, j].tolist())) for j, m in enumerate(measures)}
    aggregate = {m: float(values[:, j].mean()) if len(evaluation.queries) else 0.0 for j, m in enumerate(measures)}
    stats = {"queries": len(qids), "documents": len(split.doc_ids),
             "avg_doc_terms": float(dq.lengths().mean()) if len(dq) else 0.0,
             "avg_query_terms": float(qq.lengths().mean()) if len(qq) else 0.0,
             "dropped_below_one": {"docs": dropped_d, "queries": dropped_q}, "quantizer": quantizer.name}
    return {"aggregate": aggregate, "per_query": per_query, "run": run, "stats": stats}


def _encode(encoder, texts: Sequence[str], what: str, progress: bool | None) -> SparseBatch:
    """``encoder.encode(texts)``, with a progress bar over the texts when shown
    (:func:`esplade_eval._progress.shown`: ``progress`` None means only on a terminal)."""
    from esplade_eval._progress import bar, shown

    if not shown(progress):
        return encoder.encode(texts)
    with bar(total=len(texts), desc=f"validate: {what}", unit="text", enabled=progress, leave=False) as b:
        return encoder.encode(texts, progress=b.update)
