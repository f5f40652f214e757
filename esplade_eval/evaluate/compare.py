"""Paired comparison of systems, PyTerrier-style against a baseline or ranx-style all pairs.

Against a baseline (:func:`compare`), for every measure and every other system, over
explicitly paired queries: mean, delta (system - baseline), the interval of the mean
difference (Student t, or a percentile bootstrap), the effect size (Cohen's d for paired
samples, d_z = mean of the differences / their standard deviation), win/tie/loss counts,
the p-value of the chosen paired test (t-test by default, Wilcoxon signed-rank or a paired
randomisation test), and a multiple-testing correction across the systems of each measure
(Holm by default) by ``statsmodels.stats.multitest.multipletests``. All pairs
(:func:`compare_all_pairs`): the same for every pair of systems, corrected across the pairs
of each measure, rendered with ranx's superscript markers. The statistics themselves are in
:mod:`esplade_eval.evaluate.stats`.

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

from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np

from esplade_eval.errors import EspladeError
from esplade_eval.evaluate.metrics import Evaluation, _preview, failure_notes
from esplade_eval.evaluate.pairs_report import PairsReport
from esplade_eval.evaluate.report import Report
from esplade_eval.evaluate.stats import (
    CORRECTIONS,
    bootstrap_ci,
    check_settings,
    decide,
    paired_stats,
    test_pvalues,
    wilcoxon_p,
)

MISSING = ("error", "intersect", "zero")
#: the default correction: Holm where there are tests (a baseline, or all pairs), none where there are none
AUTO = "auto"


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


@dataclass(frozen=True)
class Settings:
    """How a comparison tests: shared by the baseline and the all-pairs modes. Every field is
    also a keyword of :func:`compare` and :func:`compare_all_pairs` (``compare(ev, "bm25",
    correction="bonferroni")``), which override the ``settings`` given, if any."""

    test: str = "t"
    correction: str | None = AUTO
    alpha: float = 0.05
    confidence: float | None = None
    ci: str = "t"
    wilcoxon: bool = False
    permutations: int = 10_000
    resamples: int = 10_000
    seed: int = 0

    def checked(self, tests: bool) -> "Settings":
        """These settings resolved (:data:`AUTO`, the default confidence ``1 - alpha``) and
        checked; ``tests``: whether there are tests to correct (a correction asked for
        without a baseline is an error)."""
        correction = ("holm" if tests else None) if self.correction == AUTO else self.correction
        if correction is not None and not tests:
            raise EspladeError(f"a multiple-testing correction ({correction!r}) needs a baseline: there are no tests "
                               "to correct")
        if correction is not None and correction not in CORRECTIONS:
            raise EspladeError(f"unknown correction {correction!r}; choose one of {CORRECTIONS}")
        confidence = check_settings(self.test, self.ci, self.alpha, self.confidence)
        return replace(self, correction=correction, confidence=confidence, wilcoxon=bool(self.wilcoxon),
                       permutations=int(self.permutations), resamples=int(self.resamples), seed=int(self.seed))

    def pair_columns(self, system: np.ndarray, baseline: np.ndarray) -> dict[str, np.ndarray]:
        """Every per-pair statistic, ``(k, n_measures)`` arrays keyed by column suffix."""
        st = paired_stats(system, baseline, self.confidence)
        out = {key: st[key] for key in ("delta", "ci low", "ci high", "d", "+", "=", "-")}
        if self.ci == "bootstrap":
            out["ci low"], out["ci high"] = bootstrap_ci(system, baseline, self.confidence, self.resamples, self.seed)
        out["p-value"] = st["p-value"] if self.test == "t" else test_pvalues(
            self.test, system, baseline, self.permutations, self.seed)
        if self.wilcoxon and self.test != "wilcoxon":
            out["wilcoxon p-value"] = wilcoxon_p(system, baseline)
        return out


def _prepare(evaluation, missing: str):
    """Aligned per-query values, their query ids, notes, measures and the failed measures."""
    systems = _Systems.from_evaluation(evaluation) if isinstance(evaluation, Evaluation) else _Systems.from_frames(evaluation)
    failed = dict(getattr(evaluation, "failed", {}) or {})
    queries, aligned, notes = _align(systems, missing)
    if not queries:
        raise EspladeError("no queries left to compare")
    bad = [j for j, m in enumerate(systems.measures) if m in failed]
    for values in aligned.values():
        values[:, bad] = np.nan  # a failed measure stays unknown, never 0
    return systems, queries, aligned, notes + failure_notes(failed), failed


def _ok_columns(measures, failed) -> list[int]:
    return [j for j, m in enumerate(measures) if m not in failed]


def _scatter(values: np.ndarray, ok: list[int], width: int) -> np.ndarray:
    """``(k, len(ok))`` -> ``(k, width)``, NaN in the failed measures' columns."""
    out = np.full((values.shape[0], width), np.nan)
    out[:, ok] = values
    return out


def _per_query_frame(order, queries, aligned, measures):
    import pandas as pd

    return pd.concat(
        [pd.DataFrame(aligned[n], index=pd.Index(queries, name="qid"), columns=measures).assign(system=n)
         .set_index("system", append=True).reorder_levels(["system", "qid"]) for n in order])


def _means(order, aligned, measures):
    import pandas as pd

    table = pd.DataFrame(index=pd.Index(order, name="system"))
    for j, m in enumerate(measures):
        table[m] = [float(aligned[n][:, j].mean()) for n in order]
    return table


def compare(evaluation: Evaluation | Mapping[str, object], baseline: str | None = None, *,
            settings: Settings | None = None, missing: str = "error", **overrides) -> Report:
    """Compare systems with a baseline; returns a :class:`~esplade_eval.evaluate.report.Report`.

    Args:
        evaluation: an :class:`Evaluation`, or ``{system: DataFrame}`` of per-query values
            (index: query id, columns: measures), e.g. loaded from earlier evaluations.
        baseline: the system every other is tested against; ``None`` gives means only.
        settings: a :class:`Settings`; ``overrides``, its fields as keywords, replace its values.
        missing: ``"error"`` (default), ``"intersect"`` or ``"zero"``: what to do when the
            systems cover different queries (see the module docstring).

    The settings (keywords):
        correction: ``"holm"`` (default with a baseline), ``"bonferroni"`` (or another
            statsmodels method), or ``None``; applied across systems, per measure. Asking for
            a correction without a baseline is an error (there are no tests to correct).
        alpha: family-wise significance level for ``reject``.
        test: the paired test behind ``p-value`` and ``reject``: ``"t"`` (default),
            ``"wilcoxon"`` or ``"permutation"`` (paired randomisation, ``permutations``
            sign patterns, exact when ``2^n`` of them fit).
        wilcoxon: also report Wilcoxon signed-rank p-values (corrected the same way).
        confidence: level of the interval of the mean difference; default ``1 - alpha``.
        ci: ``"t"`` (Student t interval) or ``"bootstrap"`` (percentile, ``resamples``).
        seed: seed of the randomisation test and the bootstrap (same seed, same numbers).

    Columns per measure ``m`` (PyTerrier's names where PyTerrier has them): ``m``, ``m delta``,
    ``m ci low``, ``m ci high``, ``m d``, ``m +``, ``m =``, ``m -``, ``m p-value``,
    ``m p-value corrected``, ``m reject`` (+ ``m wilcoxon p-value`` and
    ``m wilcoxon p-value corrected``).
    """
    settings = replace(settings or Settings(), **overrides).checked(tests=baseline is not None)
    systems, queries, aligned, notes, failed = _prepare(evaluation, missing)
    names = list(systems.values)
    if baseline is not None and baseline not in systems.values:
        raise EspladeError(f"baseline {baseline!r} is not one of the systems {names}")
    measures = systems.measures
    order = ([baseline] if baseline is not None else []) + [n for n in names if n != baseline]
    table = _means(order, aligned, measures)
    if baseline is not None and len(order) > 1:
        _add_baseline_columns(table, order, aligned, measures, failed, settings)
    return Report(table=table, measures=list(measures), baseline=baseline, queries=queries,
                  correction=settings.correction, alpha=settings.alpha, wilcoxon=settings.wilcoxon,
                  confidence=settings.confidence, notes=notes, per_query=_per_query_frame(order, queries, aligned,
                                                                                            measures),
                  test=settings.test if baseline is not None else None, ci=settings.ci, failed=failed,
                  settings=_describe(settings))


def _add_baseline_columns(table, order, aligned, measures, failed, settings: Settings) -> None:
    """The per-measure test columns of :func:`compare`, in place."""
    import pandas as pd

    ok = _ok_columns(measures, failed)
    others = order[1:]
    stack = np.stack([aligned[n][:, ok] for n in others])
    cols = {key: _scatter(v, ok, len(measures)) for key, v in settings.pair_columns(stack, aligned[order[0]][:, ok]).items()}

    def pad(values, dtype=None):
        return pd.array([None] + list(values), dtype=dtype) if dtype else [np.nan] + [float(v) for v in values]

    for j, m in enumerate(measures):
        bad = m in failed
        for key in ("delta", "ci low", "ci high", "d"):
            table[f"{m} {key}"] = pad(cols[key][:, j])
        for sign in ("+", "=", "-"):
            table[f"{m} {sign}"] = pad([None if bad else int(v) for v in cols[sign][:, j]], "Int64")
        pc, rej = decide(cols["p-value"][:, j], settings.correction, settings.alpha)
        table[f"{m} p-value"] = pad(cols["p-value"][:, j])
        table[f"{m} p-value corrected"] = pad(pc)
        table[f"{m} reject"] = pad([None if bad else bool(r) for r in rej], "boolean")
        if "wilcoxon p-value" in cols or (settings.wilcoxon and settings.test == "wilcoxon"):
            raw = cols.get("wilcoxon p-value", cols["p-value"])[:, j]
            table[f"{m} wilcoxon p-value"] = pad(raw)
            table[f"{m} wilcoxon p-value corrected"] = pad(decide(raw, settings.correction, settings.alpha)[0])


def _describe(settings: Settings) -> dict:
    return {"test": settings.test, "ci": settings.ci, "confidence": settings.confidence,
            "permutations": settings.permutations if settings.test == "permutation" else None,
            "resamples": settings.resamples if settings.ci == "bootstrap" else None,
            "seed": settings.seed if "permutation" in (settings.test,) or settings.ci == "bootstrap" else None}


def compare_all_pairs(evaluation: Evaluation | Mapping[str, object], *, settings: Settings | None = None,
                      missing: str = "error", **overrides) -> PairsReport:
    """Every pair of systems, ranx-style; returns a :class:`~esplade_eval.evaluate.report.PairsReport`.

    For systems in the given order ``s_1 ... s_k`` and each measure, every pair
    ``(s_i, s_j)``, ``i < j``, is tested with the chosen paired test on ``s_j - s_i``; the
    correction (Holm by default, ``None`` for raw p < alpha) runs across the ``k(k-1)/2``
    pairs of each measure. In the rendered table a system's mean carries the letters of the
    systems it is significantly better than (ranx's superscript markers). Options as in
    :func:`compare` (the correction defaults to Holm; ``wilcoxon`` is not reported here).

    >>> from esplade_eval.evaluate.metrics import evaluate
    >>> qrels = {f"q{i}": {"a": 1} for i in range(8)}
    >>> runs = {"bad": {f"q{i}": {"x": 2.0, "a": 1.0} for i in range(8)},
    ...         "good": {f"q{i}": {"a": 1.0} for i in range(8)}}
    >>> rep = compare_all_pairs(evaluate(qrels, runs, ["RR@10"]), correction=None)
    >>> rep.markers("good", "RR@10"), rep.markers("bad", "RR@10")
    ('a', '')
    """
    settings = replace(replace(settings or Settings(), **overrides).checked(tests=True), wilcoxon=False)
    systems, queries, aligned, notes, failed = _prepare(evaluation, missing)
    order = list(systems.values)
    if len(order) < 2:
        raise EspladeError(f"all-pairs comparison needs at least two systems, got {order}")
    measures = systems.measures
    pairs = _pairs_frame(order, aligned, measures, failed, settings)
    return PairsReport(table=_means(order, aligned, measures), pairs=pairs, measures=list(measures),
                       queries=queries, correction=settings.correction, alpha=settings.alpha,
                       confidence=settings.confidence, notes=notes,
                       per_query=_per_query_frame(order, queries, aligned, measures), test=settings.test,
                       ci=settings.ci, failed=failed, settings=_describe(settings))


def _pairs_frame(order, aligned, measures, failed, settings: Settings):
    """One row per (measure, pair): means, delta = system - other, interval, d, counts, p, corrected p, reject."""
    import pandas as pd

    ok = _ok_columns(measures, failed)
    index = [(i, j) for i in range(len(order)) for j in range(i + 1, len(order))]
    system = np.stack([aligned[order[j]][:, ok] for _, j in index])
    other = np.stack([aligned[order[i]][:, ok] for i, _ in index])
    cols = settings.pair_columns(system, other)
    rows = []
    for c, j in enumerate(ok):
        m = measures[j]
        pc, rej = decide(cols["p-value"][:, c], settings.correction, settings.alpha)
        for k, (a, b) in enumerate(index):
            rows.append({"measure": m, "system": order[b], "other": order[a],
                         "mean": float(aligned[order[b]][:, j].mean()), "other mean": float(aligned[order[a]][:, j].mean()),
                         **{key: _plain(cols[key][k, c]) for key in ("delta", "ci low", "ci high", "d", "+", "=", "-")},
                         "p-value": float(cols["p-value"][k, c]), "p-value corrected": float(pc[k]),
                         "reject": bool(rej[k])})
    return pd.DataFrame(rows)


def _plain(value):
    return int(value) if isinstance(value, (np.integer,)) else float(value)


def render_evaluation(evaluation: Evaluation, fmt: str = "markdown", per_query: bool = False) -> str:
    """An evaluation as text: its means (a query without hits counting 0) or, with
    ``per_query``, one row per (system, query); ``fmt`` one of :data:`~esplade_eval.defaults.FORMATS`
    or ``trec_eval`` (trec_eval's ``-q -c`` text, one system)."""
    from esplade_eval.evaluate.report import render_frame
    from esplade_eval.evaluate.treceval import trec_eval_text

    if fmt == "trec_eval":
        if len(evaluation.systems) != 1:
            raise EspladeError(f"--format trec_eval prints one run, got {len(evaluation.systems)}: "
                               "evaluate them one at a time, or use --format csv")
        return trec_eval_text(evaluation, evaluation.systems[0], per_query=per_query)
    if per_query:
        return render_frame(evaluation.per_query(), fmt)
    return compare(evaluation, missing="zero").render(fmt)
