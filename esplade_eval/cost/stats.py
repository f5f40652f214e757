"""Spread of posting-list lengths: summary statistics over a vocabulary (numpy only).

The posting-list length of a term is its document frequency ``df``. Over ``n`` terms with
lengths ``x_1 <= ... <= x_n``:

* variance is the population variance ``sum((x - mean)^2) / n`` (the vocabulary is the
  whole population, not a sample), ``std`` its square root, ``cv = std / mean``;
* ``gini = 2 * sum(i * x_i) / (n * sum(x)) - (n + 1) / n`` (0: every list equally long;
  ``(n - 1) / n``: one list holds every posting);
* quantiles use numpy's default linear interpolation.

>>> round(gini([1, 1, 1, 1]), 6), round(gini([0, 0, 0, 4]), 6)
(0.0, 0.75)
>>> summary = distribution([1, 2, 3, 10])
>>> summary["mean"], summary["max"], summary["p50"]
(4.0, 10, 2.5)
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}


def gini(values) -> float:
    """Gini coefficient of non-negative values (0 for an empty or all-zero input)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n, total = len(x), float(x.sum()) if len(x) else 0.0
    if n == 0 or total == 0:
        return 0.0
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float(2.0 * np.dot(ranks, x) / (n * total) - (n + 1) / n)


def distribution(values) -> dict:
    """count, sum, mean, variance, std, cv, gini, min, max, p50, p90, p99 of ``values``.

    An empty input gives count 0 and None for every statistic that needs a value.
    """
    x = np.asarray(values)
    if x.size == 0:
        return {"count": 0, "sum": 0, "mean": None, "variance": None, "std": None, "cv": None, "gini": None,
                "min": None, "max": None, **dict.fromkeys(QUANTILES)}
    xf = x.astype(np.float64)
    mean = float(xf.mean())
    var = float(xf.var())
    std = float(np.sqrt(var))
    out = {"count": int(x.size), "sum": _num(x.sum()), "mean": mean, "variance": var, "std": std,
           "cv": std / mean if mean else None, "gini": gini(xf), "min": _num(x.min()), "max": _num(x.max())}
    out.update({name: float(np.quantile(xf, q)) for name, q in QUANTILES.items()})
    return out


def _num(v):
    v = v.item() if hasattr(v, "item") else v
    return v


def query_terms(queries) -> list[str]:
    """Distinct terms with a positive weight in ``{qid: {term: weight}}``, sorted."""
    return sorted({t for vec in queries.values() for t, w in vec.items() if w > 0})


def postings_statistics(terms, queries=None, top: int = 0) -> dict:
    """Summary of an index's posting lists; ``terms`` is a
    :class:`~esplade_eval.lucene.postings.IndexTerms` (or any object with ``terms``, ``df``,
    ``total_impact``, ``num_docs``, ``documents``, ``size_bytes``, ``index``).

    ``queries`` (``{qid: {term: impact}}``) adds the same statistics restricted to the
    distinct terms the query set uses (terms absent from the index are counted apart, they
    have no posting list). ``top`` adds the ``top`` terms with the longest lists.
    """
    df = np.asarray(terms.df, dtype=np.int64)
    total = np.asarray(terms.total_impact, dtype=np.int64)
    documents = int(terms.documents)
    postings = int(df.sum())
    out = {
        "index": str(terms.index),
        "terms": int(df.size),
        "postings": postings,
        "total_impact": int(total.sum()),
        "documents": documents,
        "documents_indexed": int(terms.num_docs),
        # Anserini skips documents whose vector is empty; they still count as documents
        "empty_documents": documents - int(terms.num_docs),
        "mean_vector_length": postings / documents if documents else 0.0,
        "mean_vector_impact": float(total.sum()) / documents if documents else 0.0,
        "mean_impact_per_posting": float(total.sum()) / postings if postings else 0.0,
        "index_bytes": int(terms.size_bytes),
        "bytes_per_posting": terms.size_bytes / postings if postings else None,
        "posting_lengths": distribution(df),
    }
    if top:
        order = np.lexsort((np.arange(df.size), -df))[:top]  # longest first, then term order
        out["top_terms"] = [{"term": terms.terms[i], "df": int(df[i]), "total_impact": int(total[i]),
                             "mean_impact": float(total[i]) / int(df[i]) if df[i] else 0.0} for i in order]
    if queries is not None:
        used = query_terms(queries)
        qdf = terms.df_of(used) if hasattr(terms, "df_of") else _df_of(terms, used)
        present = qdf[qdf > 0]
        out["queries"] = {
            "queries": len(queries),
            "empty_queries": sum(1 for v in queries.values() if not any(w > 0 for w in v.values())),
            "distinct_terms": len(used),
            "terms_in_index": int(present.size),
            "terms_missing": int(len(used) - present.size),
            "postings": int(present.sum()),
            "posting_lengths": distribution(present),
        }
    return out


def _df_of(terms, used: Iterable[str]) -> np.ndarray:
    pos = {t: i for i, t in enumerate(terms.terms)}
    return np.array([terms.df[pos[t]] if t in pos else 0 for t in used], dtype=np.int64)
