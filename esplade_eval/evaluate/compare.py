"""Paired comparison of systems against a baseline, PyTerrier-style, with correction.

For every measure and every system other than the baseline, over explicitly paired
queries: mean, delta (system - baseline), paired t-test p-value (``scipy.stats.ttest_rel``),
optionally the Wilcoxon signed-rank p-value, the 95% confidence interval of the mean
difference (Student t), the effect size (Cohen's d for paired samples, d_z = mean of the
differences / their standard deviation), win/tie/loss counts, and a multiple-testing
correction across the systems of each measure (Holm by default, Bonferroni on request)
by ``statsmodels.stats.multitest.multipletests``.

Pairing is never silent. Every system must cover the same queries; when they do not, the
comparison stops with an error naming the missing queries, unless the caller chooses
``missing="intersect"`` (keep the queries every system covers) or ``missing="zero"`` (score
the uncovered queries 0, the ``trec_eval -c`` convention). For an :class:`Evaluation` a system
"covers" the queries its run has hits for.

>>> from esplade_eval.evaluate.metrics import evaluate
>>> qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 1}}
>>> runs = {"base": {"q1": {"a": 1.0}, "q2": {"x": 1.0}, "q3": {"x": 1.0}},
...         "new": {"q1": {"a": 1.0}, "q2": {"b": 1.0}, "q3": {"c": 1.0}}}
>>> rep = compare(evaluate(qrels, runs, ["RR@10"]), baseline="base")
>>> row = rep.to_dataframe().loc["new"]
>>> round(float(row["RR@10 delta"]), 4), int(row["RR@10 +"]), int(row["RR@10 -"])
(0.6667, 2, 0)
"""

from __future__ import annotations

import contextlib
import gc
import warnings
from typing import Iterator, Mapping

import numpy as np

from esplade_eval.errors import EspladeError
from esplade_eval.evaluate.metrics import Evaluation, _preview

#: statsmodels ``multipletests`` methods accepted as ``correction``
CORRECTIONS = ("holm", "bonferroni", "holm-sidak", "sidak", "fdr_bh", "fdr_by")
MISSING = ("error", "intersect", "zero")
_DEFAULT = object()  # "holm when there is a baseline": an explicit correction without one raises


class _Systems:
    """Per-query values on one query universe; NaN where a system does not cover a query."""

    def __init__(self, queries, measures, values, covered, notes):
        self.queries: list[str] = list(queries)
        self.measures: list[str] = list(measures)
        self.values: dict[str, np.ndarray] = values
        self.covered: dict[str, frozenset[str]] = covered
        self.notes: list[str] = notes

    @classmethod
    def from_evaluation(cls, ev: Evaluation) -> _Systems:
        notes = [f"evaluated: {ev.query_set.describe()}"]
        notes += [f"{name}: {n} run queries outside the evaluated set ignored" for name, n in ev.ignored.items() if n]
        values = {}
        for name, arr in ev.scores.items():
            # NaN marks "not covered" so the missing-query policy below decides what it becomes
            values[name] = arr.copy()
            miss = [i for i, q in enumerate(ev.queries) if q not in ev.answered[name]]
            values[name][miss] = np.nan
        # Queries no run answers are covered by none: they stay, scoring 0 for all, unless the
        # caller intersects (they are then dropped like any other uncovered query).
        return cls(ev.queries, ev.measures, values, dict(ev.answered), notes)

    @classmethod
    def from_frames(cls, frames: Mapping[str, object]) -> _Systems:
        import pandas as pd

        frames = {name: pd.DataFrame(f) for name, f in frames.items()}
        if not frames:
            raise EspladeError("nothing to compare: no systems given")
        measures = list(next(iter(frames.values())).columns)
        for name, f in frames.items():
            if list(f.columns) != measures:
                raise EspladeError(f"{name}: measures {list(f.columns)} differ from {measures}")
            if f.index.has_duplicates:
                dup = f.index[f.index.duplicated()].unique().tolist()
                raise EspladeError(f"{name}: per-query values listed twice for {_preview([str(q) for q in dup])}")
        universe = sorted(set().union(*(map(str, f.index) for f in frames.values())))
        values, covered = {}, {}
        for name, f in frames.items():
            f = f.set_axis([str(q) for q in f.index])
            values[name] = f.reindex(universe).to_numpy(dtype=float)
            covered[name] = frozenset(f.index)
        return cls(universe, measures, values, covered, [f"per-query tables over {len(universe)} queries (union)"])


def _align(systems: _Systems, missing: str) -> tuple[list[str], dict[str, np.ndarray], list[str]]:
    """Apply the missing-query policy; returns (queries, aligned values without NaN, notes)."""
    if missing not in MISSING:
        raise EspladeError(f"missing must be one of {MISSING}, got {missing!r}")
    everyone = frozenset(systems.queries)
    union = frozenset().union(*systems.covered.values()) if systems.covered else frozenset()
    lacking = {name: [q for q in systems.queries if q in union and q not in cov] for name, cov in systems.covered.items()}
    notes = list(systems.notes)
    if missing == "error":
        bad = {name: qs for name, qs in lacking.items() if qs}
        if bad:
            detail = "; ".join(f"{name} lacks {len(qs)}: {_preview(qs)}" for name, qs in bad.items())
            raise EspladeError(
                f"systems cover different queries, so they cannot be paired ({detail}). Restrict the comparison "
                "to the queries every system covers (missing='intersect', CLI --intersect) or score uncovered "
                "queries 0 (missing='zero', CLI --fill-missing)")
        keep = systems.queries
    elif missing == "intersect":
        common = frozenset.intersection(*systems.covered.values()) if systems.covered else everyone
        keep = [q for q in systems.queries if q in common]
        dropped = [q for q in systems.queries if q not in common]
        if dropped:
            notes.append(f"restricted to the {len(keep)} queries every system covers; dropped {len(dropped)}: {_preview(dropped)}")
    else:
        keep = systems.queries
        for name, qs in lacking.items():
            if qs:
                notes.append(f"{name}: no values for {len(qs)} queries (scored 0): {_preview(qs)}")
    nobody = [q for q in keep if q not in union]
    if nobody:
        notes.append(f"{len(nobody)} queries have no hits in any run (scored 0 for all): {_preview(nobody)}")
    index = {q: i for i, q in enumerate(systems.queries)}
    rows = [index[q] for q in keep]
    aligned = {name: np.nan_to_num(v[rows], nan=0.0) for name, v in systems.values.items()}
    return list(keep), aligned, notes


def paired_stats(system: np.ndarray, baseline: np.ndarray, confidence: float = 0.95) -> dict[str, np.ndarray]:
    """Paired statistics of systems vs a baseline, vectorised over systems and measures.

    Args:
        system: ``(n_systems, n_queries, n_measures)`` per-query values.
        baseline: ``(n_queries, n_measures)`` per-query values of the baseline, same query order.
        confidence: level of the interval of the mean difference.

    Returns:
        arrays of shape ``(n_systems, n_measures)``: ``delta``, ``sd``, ``ci low``, ``ci high``,
        ``d`` (Cohen's d_z), ``t``, ``p-value`` (two-sided paired t-test, as
        ``scipy.stats.ttest_rel``), ``+``, ``=``, ``-``.

    >>> s = np.array([[[0.5], [0.7], [0.9]]]); b = np.array([[0.4], [0.5], [0.6]])
    >>> round(float(paired_stats(s, b)["delta"][0, 0]), 4)
    0.2
    """
    from scipy import stats

    diff = system - baseline[None]
    n = diff.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        delta = diff.mean(axis=1)
        sd = diff.std(axis=1, ddof=1) if n > 1 else np.full(delta.shape, np.nan)
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n) if n > 1 else np.full(delta.shape, np.nan)
        # ttest_rel over the query axis: the same computation as one call per vector
        test = stats.ttest_rel(system, np.broadcast_to(baseline[None], system.shape), axis=1)
        d = delta / sd
    return {
        "delta": delta, "sd": sd, "ci low": delta - half, "ci high": delta + half, "d": d,
        "t": np.asarray(test.statistic, dtype=float), "p-value": np.asarray(test.pvalue, dtype=float),
        "+": (diff > 0).sum(axis=1), "=": (diff == 0).sum(axis=1), "-": (diff < 0).sum(axis=1),
    }


def wilcoxon_p(system: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Two-sided Wilcoxon signed-rank p-values, one ``scipy.stats.wilcoxon`` call per vector.

    Called per vector (not with ``axis=``) because scipy picks the exact or the normal method
    per call, and the vectorised call can pick differently; NaN when every difference is 0.
    """
    from scipy import stats

    out = np.full((system.shape[0], system.shape[2]), np.nan)
    for k in range(system.shape[0]):
        for m in range(system.shape[2]):
            diff = system[k, :, m] - baseline[:, m]
            if np.any(diff != 0):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    out[k, m] = stats.wilcoxon(diff).pvalue
    return out


@contextlib.contextmanager
def _gc_frozen() -> Iterator[None]:
    """Keep the objects alive now out of garbage collection for the duration.

    statsmodels' Holm branch calls ``gc.collect()``, whose cost grows with every live
    object: with ten 1,000-query x 1,000-hit runs in memory that is ~10 million objects and
    most of a second per call. ``gc.freeze`` (CPython >= 3.7) hides them from that
    collection; nothing is lost, they are handed back to the collector right after.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def correct(pvalues: np.ndarray, method: str = "holm", alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Multiple-testing correction of one family of p-values (statsmodels ``multipletests``).

    NaN p-values (e.g. identical systems) are left out of the family and stay NaN, not
    rejected.

    >>> p, r = correct(np.array([0.01, 0.04, np.nan]), "holm")
    >>> p.round(2).tolist(), r.tolist()
    ([0.02, 0.04, nan], [True, True, False])
    """
    from statsmodels.stats.multitest import multipletests

    if method not in CORRECTIONS:
        raise EspladeError(f"unknown correction {method!r}; choose one of {CORRECTIONS}")
    pvalues = np.asarray(pvalues, dtype=float)
    corrected = np.full(pvalues.shape, np.nan)
    reject = np.zeros(pvalues.shape, dtype=bool)
    ok = np.isfinite(pvalues)
    if ok.any():
        with _gc_frozen():
            rej, pc, _, _ = multipletests(pvalues[ok], alpha=alpha, method=method)
        corrected[ok], reject[ok] = pc, rej
    return corrected, reject


def compare(evaluation: Evaluation | Mapping[str, object], baseline: str | None = None, *,
            correction: str | None = _DEFAULT, alpha: float = 0.05, wilcoxon: bool = False,
            missing: str = "error", confidence: float = 0.95):
    """Compare systems with a baseline; returns a :class:`~esplade_eval.evaluate.report.Report`.

    Args:
        evaluation: an :class:`Evaluation`, or ``{system: DataFrame}`` of per-query values
            (index: query id, columns: measures), e.g. loaded from earlier evaluations.
        baseline: the system every other is tested against; ``None`` gives means only.
        correction: ``"holm"`` (default with a baseline), ``"bonferroni"`` (or another
            statsmodels method), or ``None``; applied across systems, per measure. Asking for
            a correction without a baseline is an error (there are no tests to correct).
        alpha: family-wise significance level for ``reject``.
        wilcoxon: also report Wilcoxon signed-rank p-values (corrected the same way).
        missing: ``"error"`` (default), ``"intersect"`` or ``"zero"``: what to do when the
            systems cover different queries (see the module docstring).
        confidence: level of the interval of the mean difference.

    Columns per measure ``m`` (PyTerrier's names where PyTerrier has them): ``m``, ``m delta``,
    ``m ci low``, ``m ci high``, ``m d``, ``m +``, ``m =``, ``m -``, ``m p-value``,
    ``m p-value corrected``, ``m reject`` (+ ``m wilcoxon p-value`` and
    ``m wilcoxon p-value corrected``).
    """
    import pandas as pd

    from esplade_eval.evaluate.report import Report

    if correction is _DEFAULT:
        correction = "holm" if baseline is not None else None
    if correction is not None and baseline is None:
        raise EspladeError(f"a multiple-testing correction ({correction!r}) needs a baseline: there are no tests to correct")
    if correction is not None and correction not in CORRECTIONS:
        raise EspladeError(f"unknown correction {correction!r}; choose one of {CORRECTIONS}")
    if not 0 < alpha < 1:
        raise EspladeError(f"alpha must be in (0, 1), got {alpha}")
    systems = _Systems.from_evaluation(evaluation) if isinstance(evaluation, Evaluation) else _Systems.from_frames(evaluation)
    names = list(systems.values)
    if baseline is not None and baseline not in systems.values:
        raise EspladeError(f"baseline {baseline!r} is not one of the systems {names}")
    queries, aligned, notes = _align(systems, missing)
    if not queries:
        raise EspladeError("no queries left to compare")
    measures = systems.measures
    order = ([baseline] if baseline is not None else []) + [n for n in names if n != baseline]

    table = pd.DataFrame(index=pd.Index(order, name="system"))
    for j, m in enumerate(measures):
        table[m] = [float(aligned[n][:, j].mean()) for n in order]
    others = order[1:] if baseline is not None else []
    if others:
        stack = np.stack([aligned[n] for n in others])
        base = aligned[baseline]
        st = paired_stats(stack, base, confidence)
        wil = wilcoxon_p(stack, base) if wilcoxon else None
        for j, m in enumerate(measures):
            def col(values, dtype=None, _pad=np.nan):
                return pd.array([_pad] + list(values), dtype=dtype) if dtype else [_pad] + [float(v) for v in values]

            table[f"{m} delta"] = col(st["delta"][:, j])
            table[f"{m} ci low"] = col(st["ci low"][:, j])
            table[f"{m} ci high"] = col(st["ci high"][:, j])
            table[f"{m} d"] = col(st["d"][:, j])
            for sign in ("+", "=", "-"):
                table[f"{m} {sign}"] = col(st[sign][:, j].tolist(), "Int64", None)
            table[f"{m} p-value"] = col(st["p-value"][:, j])
            if correction is not None:
                pc, rej = correct(st["p-value"][:, j], correction, alpha)
            else:  # uncorrected decision, stated as such in the report
                pc, rej = st["p-value"][:, j], np.nan_to_num(st["p-value"][:, j], nan=1.0) < alpha
            table[f"{m} p-value corrected"] = col(pc)
            table[f"{m} reject"] = col(rej.tolist(), "boolean", None)
            if wil is not None:
                table[f"{m} wilcoxon p-value"] = col(wil[:, j])
                table[f"{m} wilcoxon p-value corrected"] = col(correct(wil[:, j], correction, alpha)[0] if correction else wil[:, j])
    per_query = pd.concat(
        [pd.DataFrame(aligned[n], index=pd.Index(queries, name="qid"), columns=measures).assign(system=n)
         .set_index("system", append=True).reorder_levels(["system", "qid"]) for n in order])
    return Report(table=table, measures=list(measures), baseline=baseline, queries=queries, correction=correction,
                  alpha=alpha, wilcoxon=wilcoxon, confidence=confidence, notes=notes, per_query=per_query)
