"""Retrieval cost per query and per query set: postings traversed, FLOPS, latency (numpy only).

Definitions (``N`` documents in the collection, empty vectors included; ``df(t)`` the
posting-list length of term ``t`` in the index, 0 when absent; ``Q`` the query set;
a query ``q`` is its set of terms with a positive impact):

* query length: ``|q|``;
* postings traversed by exhaustive evaluation: ``P(q) = sum_{t in q} df(t)``, every
  posting of every query term scored once (an upper bound on what Lucene's dynamic
  pruning actually visits);
* per-query expected FLOPS: ``F(q) = sum_{t in q} p_d(t) = P(q) / N``, with
  ``p_d(t) = df(t) / N``: the expected number of multiplications between ``q`` and a
  random document;
* set-level FLOPS (naver/splade ``flops.py``): ``FLOPS(Q) = sum_t p_d(t) * p_q(t)`` with
  ``p_q(t) = |{q in Q : t in q}| / |Q|``; by construction ``FLOPS(Q)`` equals the mean of
  ``F(q)`` over ``Q`` (the tests check it);
* latency: per query, the median over the timed repetitions of Lucene's single-threaded
  top-k evaluation (:class:`esplade_eval.lucene.postings.LatencyProbe`); per set, the mean,
  p50, p95 and p99 of those medians over the queries that have terms (an empty query is
  never sent to Lucene, so it has no latency).

>>> class T:  # two terms, four documents
...     terms, df, documents = ["a", "b"], np.array([4, 1]), 4
...     def df_of(self, ts): return np.array([dict(zip(self.terms, self.df)).get(t, 0) for t in ts])
>>> costs = query_costs(T(), {"q1": {"a": 3, "b": 1}, "q2": {"b": 2, "zz": 5}})
>>> costs.postings.tolist(), costs.flops.tolist(), costs.terms_missing.tolist()
([5, 1], [1.25, 0.25], [0, 1])
>>> set_flops(T(), {"q1": {"a": 3, "b": 1}, "q2": {"b": 2, "zz": 5}})
0.75
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

LATENCY_QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


@dataclass
class QueryCosts:
    """Per-query cost arrays, aligned with ``qids``."""

    qids: list[str]
    query_length: np.ndarray  # terms with a positive impact
    postings: np.ndarray  # sum of df of the query's terms
    flops: np.ndarray  # postings / documents
    terms_missing: np.ndarray  # query terms with no posting list in the index
    latency: np.ndarray | None = None  # (queries, passes) seconds; NaN rows for empty queries

    def latency_median_ms(self) -> np.ndarray | None:
        if self.latency is None:
            return None
        with np.errstate(all="ignore"):
            return np.median(self.latency, axis=1) * 1e3

    def to_frame(self):
        """A pandas DataFrame indexed by qid."""
        import pandas as pd

        data = {"query_length": self.query_length, "postings": self.postings, "flops": self.flops,
                "terms_missing": self.terms_missing}
        if self.latency is not None:
            data["latency_ms_median"] = self.latency_median_ms()
            data["latency_ms_min"] = np.min(self.latency, axis=1) * 1e3
        return pd.DataFrame(data, index=pd.Index(self.qids, name="qid"))


def _positive_terms(vector: Mapping[str, int]) -> list[str]:
    return [t for t, w in vector.items() if w > 0]


def query_costs(terms, queries: Mapping[str, Mapping[str, int]],
                latency: Mapping[str, np.ndarray] | None = None) -> QueryCosts:
    """Per-query costs of ``queries`` (``{qid: {term: impact}}``) against an index's ``terms``
    (:class:`~esplade_eval.lucene.postings.IndexTerms`); ``latency`` from
    :meth:`LatencyProbe.time <esplade_eval.lucene.postings.LatencyProbe.time>`.
    """
    qids = list(queries)
    vectors = [_positive_terms(queries[q]) for q in qids]
    lengths = np.array([len(v) for v in vectors], dtype=np.int64)
    flat = [t for v in vectors for t in v]
    # one lookup over all query terms, then per-query sums (exact: counts stay below 2**53)
    dfs = terms.df_of(flat) if flat else np.zeros(0, dtype=np.int64)
    owner = np.repeat(np.arange(len(qids)), lengths)
    postings = np.bincount(owner, weights=dfs, minlength=len(qids)).astype(np.int64)
    missing = np.bincount(owner, weights=(dfs == 0), minlength=len(qids)).astype(np.int64)
    documents = int(terms.documents)
    flops = postings / documents if documents else np.zeros(len(qids))
    lat = None
    if latency is not None:
        passes = max((len(np.atleast_1d(latency[q])) for q in qids if q in latency), default=0)
        lat = np.full((len(qids), max(passes, 1)), np.nan)
        for i, q in enumerate(qids):
            if lengths[i] > 0 and q in latency:
                lat[i, :] = latency[q]
    return QueryCosts(qids, lengths, postings, flops.astype(np.float64), missing, lat)


def set_flops(terms, queries: Mapping[str, Mapping[str, int]]) -> float:
    """naver/splade's FLOPS: ``sum_t p_d(t) * p_q(t)`` (see the module docstring)."""
    if not queries or not terms.documents:
        return 0.0
    counts: dict[str, int] = {}
    for vec in queries.values():
        for t in set(_positive_terms(vec)):
            counts[t] = counts.get(t, 0) + 1
    # sorted: a set's order follows the per-process string hash, and the float sum its order
    used = sorted(counts)
    p_d = terms.df_of(used) / terms.documents
    p_q = np.array([counts[t] for t in used], dtype=np.float64) / len(queries)
    return float(np.dot(p_d, p_q))


def summarize(costs: QueryCosts, flops_set: float | None = None) -> dict:
    """Aggregate per-query costs of one (checkpoint, pruning level) into one row."""
    n = len(costs.qids)
    nonempty = costs.query_length > 0
    out = {
        "queries": n,
        "empty_queries": int(n - nonempty.sum()),
        "query_length_mean": float(costs.query_length.mean()) if n else 0.0,
        "postings_mean": float(costs.postings.mean()) if n else 0.0,
        "postings_p50": float(np.quantile(costs.postings, 0.5)) if n else 0.0,
        "postings_p95": float(np.quantile(costs.postings, 0.95)) if n else 0.0,
        "postings_max": int(costs.postings.max()) if n else 0,
        "flops": float(costs.flops.mean()) if flops_set is None else float(flops_set),
        "query_terms_missing": int(costs.terms_missing.sum()),
    }
    med = costs.latency_median_ms()
    if med is not None:
        timed = med[nonempty & ~np.isnan(med)]
        out["latency_passes"] = int(costs.latency.shape[1])
        out["latency_ms_mean"] = float(timed.mean()) if timed.size else None
        for name, q in LATENCY_QUANTILES.items():
            out[f"latency_ms_{name}"] = float(np.quantile(timed, q)) if timed.size else None
    return out
