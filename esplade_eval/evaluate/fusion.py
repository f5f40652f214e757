"""Run fusion for hybrid rows (BM25 + learned sparse): reciprocal rank fusion and score interpolation.

* **RRF** (Cormack, Clarke and Büttcher, SIGIR 2009): ``score(d) = sum_r 1 / (k + rank_r(d))``
  over the runs ``r`` that retrieve ``d`` within their top ``depth``; ``k = 60`` by default.
* **Interpolation**: each run's scores are min-max normalised per query,
  ``(s - min) / (max - min)`` over its top ``depth`` (all 1 when every score is equal), then
  ``score(d) = sum_r w_r * norm_r(d)``; a run that misses ``d`` adds 0. Weights default to
  equal and sum to 1.
* **Hybrid** (Pyserini's ``HybridSearcher``, dense + sparse): two runs, dense first. Over
  each run's top ``depth``, a document missing from one run takes that run's lowest score
  (0 and 1 stand for min and max of a run with no hit); with ``normalization`` each score
  becomes ``(s - (min + max) / 2) / (max - min)`` (0 when max = min, where Pyserini would
  divide by zero); then ``score = alpha * sparse + dense``, or ``sparse + alpha * dense``
  with ``weight_on_dense``. Pyserini's defaults: ``alpha = 0.1``, no normalisation.

Every run is first ranked by (-score, docid), the tie-break Pyserini uses and our runs are
written in, so ranks never depend on the order lines happen to have in a file; the fused
run is ranked the same way, cut at ``hits``, and written with full-precision scores (six
decimals would tie RRF scores that differ by 1e-7 and let trec_eval reorder them).

>>> a = {"q1": {"d1": 3.0, "d2": 2.0}}
>>> b = {"q1": {"d2": 9.0, "d3": 1.0}}
>>> fused = rrf([a, b], k=60)["q1"]
>>> [d for d, _ in sorted(fused.items(), key=lambda x: (-x[1], x[0]))]
['d2', 'd1', 'd3']
>>> round(fused["d2"], 6) == round(1 / 62 + 1 / 61, 6)
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Sequence

from esplade_eval.errors import EspladeError

Run = Mapping[str, Mapping[str, float]]
METHODS = ("rrf", "interpolate", "hybrid")


@dataclass(frozen=True)
class HybridParams:
    """Pyserini's ``HybridSearcher`` settings (``--alpha``, ``--normalization``, ``--weight-on-dense``)."""

    alpha: float = 0.1
    normalization: bool = False
    weight_on_dense: bool = False


def _ranked_lists(runs: Sequence[Run], depth: int | None):
    from esplade_eval.data.trec import ranked

    if len(runs) < 2:
        raise EspladeError(f"fusion needs at least two runs, got {len(runs)}")
    if depth is not None and depth < 1:
        raise EspladeError(f"depth must be at least 1, got {depth}")
    return [{q: ranked(docs, depth) for q, docs in run.items() if len(docs)} for run in runs]


def _cut(fused: dict[str, dict[str, float]], hits: int | None) -> dict[str, dict[str, float]]:
    from esplade_eval.data.trec import ranked

    if hits is None:
        return fused
    return {q: dict(ranked(docs, hits)) for q, docs in fused.items()}


def rrf(runs: Sequence[Run], k: float = 60, depth: int | None = 1000, hits: int | None = 1000) -> dict:
    """Reciprocal rank fusion of ``{qid: {docid: score}}`` runs; returns the fused run."""
    if k < 0:
        raise EspladeError(f"RRF k must be non-negative, got {k}")
    fused: dict[str, dict[str, float]] = {}
    for lists in _ranked_lists(runs, depth):
        for qid, hits_of_run in lists.items():
            docs = fused.setdefault(qid, {})
            for rank, (docid, _) in enumerate(hits_of_run, 1):
                docs[docid] = docs.get(docid, 0.0) + 1.0 / (k + rank)
    return _cut(fused, hits)


def _weights(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None:
        return [1.0 / n] * n
    weights = [float(w) for w in weights]
    if len(weights) != n:
        raise EspladeError(f"{len(weights)} weights for {n} runs")
    if any(w < 0 for w in weights) or not sum(weights) > 0:
        raise EspladeError(f"weights must be non-negative and not all 0, got {weights}")
    return weights


def interpolate(runs: Sequence[Run], weights: Sequence[float] | None = None, depth: int | None = 1000,
                hits: int | None = 1000) -> dict:
    """Weighted sum of per-query min-max normalised scores; returns the fused run."""
    lists = _ranked_lists(runs, depth)
    fused: dict[str, dict[str, float]] = {}
    for w, run_lists in zip(_weights(weights, len(runs)), lists):
        for qid, ranked_hits in run_lists.items():
            scores = [s for _, s in ranked_hits]
            low, high = min(scores), max(scores)
            docs = fused.setdefault(qid, {})
            for docid, s in ranked_hits:
                norm = 1.0 if high == low else (s - low) / (high - low)
                docs[docid] = docs.get(docid, 0.0) + w * norm
    return _cut(fused, hits)


def _hybrid_query(dense: list, sparse: list, p: HybridParams) -> dict[str, float]:
    """Pyserini's ``HybridSearcher._hybrid_results`` for one query's ranked hits."""
    d, s = dict(dense), dict(sparse)
    d_lo, d_hi = (min(d.values()), max(d.values())) if d else (0.0, 1.0)
    s_lo, s_hi = (min(s.values()), max(s.values())) if s else (0.0, 1.0)
    out = {}
    for doc in set(d) | set(s):
        ds, ss = d.get(doc, d_lo), s.get(doc, s_lo)
        if p.normalization:
            ss = (ss - (s_lo + s_hi) / 2) / (s_hi - s_lo) if s_hi != s_lo else 0.0
            ds = (ds - (d_lo + d_hi) / 2) / (d_hi - d_lo) if d_hi != d_lo else 0.0
        out[doc] = ss + p.alpha * ds if p.weight_on_dense else p.alpha * ss + ds
    return out


def hybrid(runs: Sequence[Run], params: HybridParams = HybridParams(), depth: int | None = 1000,
           hits: int | None = 1000) -> dict:
    """Dense (``runs[0]``) + sparse (``runs[1]``) score fusion as Pyserini's ``HybridSearcher``."""
    if len(runs) != 2:
        raise EspladeError(f"hybrid fusion takes two runs (dense first, then sparse), got {len(runs)}")
    dense, sparse = _ranked_lists(runs, depth)
    fused = {q: _hybrid_query(dense.get(q, []), sparse.get(q, []), params) for q in sorted(set(dense) | set(sparse))}
    return _cut(fused, hits)


def fuse(runs: Sequence[Run | str | os.PathLike], method: str = "rrf", k: float = 60,
         weights: Sequence[float] | None = None, depth: int | None = 1000, hits: int | None = 1000,
         hybrid_params: HybridParams = HybridParams()) -> dict:
    """Fuse runs (TREC paths or dicts) with ``"rrf"``, ``"interpolate"`` or ``"hybrid"``."""
    from esplade_eval.data.trec import read_run

    if method == "hybrid" and weights is not None:  # before any file is read
        raise EspladeError("hybrid fusion weighs by --alpha, not --weights")
    loaded = [read_run(r) if isinstance(r, (str, os.PathLike)) else r for r in runs]
    if method == "hybrid":
        return hybrid(loaded, hybrid_params, depth=depth, hits=hits)
    if method == "rrf":
        if weights is not None:
            raise EspladeError("weights apply to interpolation; RRF weighs every run equally")
        return rrf(loaded, k=k, depth=depth, hits=hits)
    if method == "interpolate":
        return interpolate(loaded, weights=weights, depth=depth, hits=hits)
    raise EspladeError(f"unknown fusion method {method!r}; choose one of {METHODS}")


def write_fused(path: str | os.PathLike, run: Run, tag: str = "fused") -> None:
    """Write a fused run atomically, ranked by (-score, docid), scores at full precision."""
    from esplade_eval._io import atomic_file
    from esplade_eval.data.trec import format_run_lines, ranked

    if not tag or any(ch.isspace() for ch in tag):
        raise EspladeError(f"run tag must be a non-empty string without whitespace: {tag!r}")
    with atomic_file(path) as fh:
        for qid in sorted(run):
            hits = [(d, float(s)) for d, s in ranked(run[qid])]
            fh.writelines(format_run_lines(qid, hits, tag, "{!r}"))


def fuse_to_file(runs: Sequence[str | os.PathLike], output: str | os.PathLike, tag: str | None = None,
                 topics: str | os.PathLike | None = None, **fusion):
    """Fuse run files (:func:`fuse`, whose keywords ``fusion`` are: ``method``, ``k``,
    ``weights``, ``depth``, ``hits``, ``hybrid_params``) into ``output``, tagged ``tag``
    (default: the method), then check it like ``check-run``: query ids among the ``topics``'
    when given, at most ``hits`` per query. Returns the check's
    :class:`~esplade_eval.evaluate.checkrun.CheckResult`."""
    from pathlib import Path

    from esplade_eval.evaluate.checkrun import check_run, known_queries

    if len(runs) < 2:
        raise EspladeError("fuse needs at least two runs")
    if any(Path(r).resolve() == Path(output).resolve() for r in runs):
        raise EspladeError(f"{output}: output would replace an input run")
    fusion = {"method": "rrf", "hits": 1000, **fusion}
    write_fused(output, fuse(runs, **fusion), tag=tag or fusion["method"])
    return check_run(output, known_queries(topics), fusion["hits"])
