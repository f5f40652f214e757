"""Per-query and aggregate effectiveness through ir_measures, over an explicit query set.

Policy, in one place:

* the **evaluated query set** is the qrels' queries, intersected with the topics when
  topics are given; it is fixed before any run is scored and reported with the results;
* a query of that set which a run lacks (no hits) **scores 0** for every measure. ir_measures
  leaves such queries out of its per-query output, so they are filled here explicitly; the
  mean is then the mean over the whole set, as ``trec_eval -c`` computes it;
* hits for queries outside the set are ignored (and counted).

Metrics are never re-implemented: values come from one ``ir_measures.evaluator`` built once
per qrels and reused for every run. A measure whose provider fails (gdeval's ``ERR@10``
refuses query ids that are not numbers) is isolated: its values are NaN, the reason is in
:attr:`Evaluation.failed`, and every other measure is still computed.

This module holds data and scoring only; rendering lives in
:mod:`esplade_eval.evaluate.report` and tests in :mod:`esplade_eval.evaluate.compare`
(``compare(evaluation)`` without a baseline gives the table of means).

>>> qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
>>> ev = Evaluator(qrels, ["nDCG@10", "RR@10"])
>>> result = ev.evaluate({"bm25": {"q1": {"d1": 2.0, "d9": 1.0}}})
>>> result.aggregate().loc["bm25", "RR@10"]    # q2 has no hits: it scores 0
np.float64(0.5)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from esplade_eval.artifacts import named
from esplade_eval.defaults import MEASURES
from esplade_eval.errors import EspladeError
from esplade_eval.evaluate.measures import parse_measures

#: measures reported when none are named (:data:`esplade_eval.defaults.MEASURES`)
DEFAULT_MEASURES: tuple[str, ...] = MEASURES

RunLike = Mapping[str, Mapping[str, float]] | str | os.PathLike
QrelsLike = Mapping[str, Mapping[str, int]] | str | os.PathLike


#: accepted DataFrame columns (ir_measures' names first, then PyTerrier's and others')
_FRAME_COLUMNS = {
    "query": ("query_id", "qid"),
    "doc": ("doc_id", "docno", "docid"),
    "score": ("score",),
    "grade": ("relevance", "label", "grade"),
}


def _column(frame, role: str, kind: str) -> str:
    for name in _FRAME_COLUMNS[role]:
        if name in frame.columns:
            return name
    raise EspladeError(f"a {kind} DataFrame needs a column {' or '.join(map(repr, _FRAME_COLUMNS[role]))}; "
                       f"it has {list(frame.columns)}")


def _is_frame(obj) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns")


def _nested_from_frame(frame, value_role: str, kind: str, cast) -> dict[str, dict[str, float]]:
    """``{qid: {docid: value}}`` from a long DataFrame (ir_measures / PyTerrier column names);
    a document listed twice for a query is an error, never a silent overwrite."""
    q, d, v = (_column(frame, r, kind) for r in ("query", "doc", value_role))
    out: dict[str, dict[str, float]] = {}
    for qid, docid, value in zip(frame[q].astype(str), frame[d].astype(str), frame[v]):
        docs = out.setdefault(qid, {})
        if docid in docs:
            raise EspladeError(f"{kind} DataFrame lists document {docid!r} twice for query {qid!r}")
        docs[docid] = cast(value)
    return out


def _load_qrels(qrels: QrelsLike) -> dict[str, dict[str, int]]:
    if isinstance(qrels, (str, os.PathLike)):
        from esplade_eval.data.trec import read_qrels

        return read_qrels(qrels)
    if _is_frame(qrels):
        return _nested_from_frame(qrels, "grade", "qrels", int)
    return {str(q): {str(d): int(g) for d, g in docs.items()} for q, docs in qrels.items()}


def _load_topic_ids(topics) -> set[str] | None:
    if topics is None:
        return None
    if isinstance(topics, (str, os.PathLike)):
        from esplade_eval.data.trec import read_topics

        return set(read_topics(topics))
    if _is_frame(topics):
        return set(topics[_column(topics, "query", "topics")].astype(str))
    return {str(q) for q in topics}  # a mapping qid -> text, or an iterable of qids


def _load_run(run: RunLike) -> Mapping[str, Mapping[str, float]]:
    """A run from a TREC file, ``{qid: {docid: score}}``, or a long DataFrame
    (``query_id``/``qid``, ``doc_id``/``docno``, ``score``); anything else is refused."""
    if isinstance(run, (str, os.PathLike)):
        from esplade_eval.data.trec import read_run

        return read_run(run)
    if _is_frame(run):
        return _nested_from_frame(run, "score", "run", float)
    if not isinstance(run, Mapping):
        raise EspladeError(f"a run must be a TREC run path, {{qid: {{docid: score}}}} or a DataFrame; "
                           f"got {type(run).__name__}")
    return run


@dataclass(frozen=True)
class QuerySet:
    """The evaluated queries and how they were chosen.

    Attributes:
        queries: evaluated query ids, sorted (the order every per-query array follows).
        source: ``"qrels"`` or ``"qrels ∩ topics"``.
        unjudged_topics: topics without any judgment (not evaluated).
        untopiced_qrels: judged queries outside the topics (not evaluated).
    """

    queries: tuple[str, ...]
    source: str
    unjudged_topics: tuple[str, ...] = ()
    untopiced_qrels: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for reports, e.g. ``174 queries (qrels ∩ topics)``."""
        text = f"{len(self.queries)} queries ({self.source})"
        extra = []
        if self.unjudged_topics:
            extra.append(f"{len(self.unjudged_topics)} topics without judgments not evaluated")
        if self.untopiced_qrels:
            extra.append(f"{len(self.untopiced_qrels)} judged queries outside the topics not evaluated")
        return text + ("; " + "; ".join(extra) if extra else "")


def query_set(qrels: Mapping[str, Mapping[str, int]], topics: Iterable[str] | None = None) -> QuerySet:
    """The evaluated query set: the qrels' queries, ∩ topics when topics are given.

    >>> query_set({"q1": {"d": 1}, "q2": {"d": 0}}, topics=["q2", "q3"]).queries
    ('q2',)
    """
    judged = set(qrels)
    if topics is None:
        return QuerySet(tuple(sorted(judged)), "qrels")
    topic_ids = set(topics)
    return QuerySet(
        tuple(sorted(judged & topic_ids)),
        "qrels ∩ topics",
        unjudged_topics=tuple(sorted(topic_ids - judged)),
        untopiced_qrels=tuple(sorted(judged - topic_ids)),
    )


@dataclass
class Evaluation:
    """Per-query values of several systems over one evaluated query set.

    Attributes:
        query_set: the evaluated queries (see :class:`QuerySet`).
        measures: canonical measure names, the column order of every array.
        scores: system name -> array ``(n_queries, n_measures)``, rows in ``queries`` order.
        answered: system name -> evaluated queries the run has at least one hit for.
        ignored: system name -> number of run queries outside the evaluated set.
        failed: measure -> why its provider failed (its values are NaN; the others are kept).
    """

    query_set: QuerySet
    measures: tuple[str, ...]
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    answered: dict[str, frozenset[str]] = field(default_factory=dict)
    ignored: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def queries(self) -> tuple[str, ...]:
        return self.query_set.queries

    @property
    def systems(self) -> list[str]:
        return list(self.scores)

    def missing(self, system: str) -> list[str]:
        """Evaluated queries the system has no hits for (they score 0)."""
        have = self.answered[system]
        return [q for q in self.queries if q not in have]

    def aggregate(self):
        """Means over the evaluated set: a DataFrame, one row per system, one column per measure."""
        import pandas as pd

        rows = {name: values.mean(axis=0) if len(self.queries) else np.full(len(self.measures), np.nan)
                for name, values in self.scores.items()}
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(self.measures))
        frame.index.name = "system"
        return frame

    def per_query(self, system: str | None = None):
        """Per-query values: wide for one system (index ``qid``), long for all (``system``, ``qid``)."""
        import pandas as pd

        names = [system] if system is not None else self.systems
        frames = []
        for name in names:
            frame = pd.DataFrame(self.scores[name], index=pd.Index(self.queries, name="qid"), columns=list(self.measures))
            if system is not None:
                return frame
            frames.append(frame.assign(system=name).set_index("system", append=True).reorder_levels(["system", "qid"]))
        return pd.concat(frames) if frames else pd.DataFrame(columns=list(self.measures))

    def notes(self) -> list[str]:
        """Human-readable facts a reader of the numbers needs (query set, missing queries)."""
        out = [f"evaluated: {self.query_set.describe()}"]
        for name in self.systems:
            miss = self.missing(name)
            if miss:
                out.append(f"{name}: no hits for {len(miss)} of {len(self.queries)} queries (scored 0): {_preview(miss)}")
            if self.ignored.get(name):
                out.append(f"{name}: {self.ignored[name]} run queries outside the evaluated set ignored")
        return out + failure_notes(self.failed)


def failure_notes(failed: Mapping[str, str]) -> list[str]:
    """One note per measure that could not be computed."""
    return [f"{m}: could not be computed ({why}); its cells are marked 'failed'" for m, why in failed.items()]


def _failure(exc: BaseException) -> str:
    """Why a provider failed, in a line (a subprocess: the program and its exit status)."""
    import subprocess

    if isinstance(exc, subprocess.CalledProcessError):
        program = Path(str(exc.cmd[0] if isinstance(exc.cmd, (list, tuple)) else exc.cmd)).name
        hint = " (gdeval, ir_measures' ERR provider, accepts numeric query ids only)" if program == "perl" else ""
        return f"CalledProcessError: {program} exited with status {exc.returncode}{hint}"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _preview(items: Sequence[str], n: int = 10) -> str:
    shown = ", ".join(items[:n])
    return shown + (f", … (+{len(items) - n} more)" if len(items) > n else "")


class Evaluator:
    """Scores runs against one qrels over one evaluated query set; build once, reuse.

    Args:
        qrels: ``{qid: {docid: grade}}`` or a TREC qrels path.
        measures: measure strings (ir_measures syntax) or measure objects.
        topics: topics path, ``{qid: text}`` mapping or qids; restricts the evaluated set.

    >>> ev = Evaluator({"q1": {"d1": 1}}, ["AP"])
    >>> ev.score({"q1": {"d0": 3.0, "d1": 2.0}})[0].tolist()
    [[0.5]]
    """

    def __init__(self, qrels: QrelsLike, measures: Iterable[str] = DEFAULT_MEASURES, topics=None):
        import ir_measures

        self.measure_objects = parse_measures(measures)
        self.measures = tuple(str(m) for m in self.measure_objects)
        all_qrels = _load_qrels(qrels)
        self.query_set = query_set(all_qrels, _load_topic_ids(topics))
        self.queries = self.query_set.queries
        self._qset = frozenset(self.queries)
        self._row = {q: i for i, q in enumerate(self.queries)}
        self._col = {m: j for j, m in enumerate(self.measures)}
        self._qrels_in = {q: all_qrels[q] for q in self.queries}
        # Built once: ir_measures (pytrec_eval underneath) prepares the qrels here, so each
        # further run costs only its own scoring.
        self._evaluator = ir_measures.evaluator(self.measure_objects, self._qrels_in)
        self._single: dict[str, object] = {}  # per-measure evaluators, built only after a failure

    def score(self, run: RunLike) -> tuple[np.ndarray, frozenset[str], int]:
        """``(values, answered, ignored)`` for one run.

        ``values`` is ``(n_queries, n_measures)`` in :attr:`queries` x :attr:`measures`
        order, 0 where the run has no hits for a query, NaN for a measure whose provider
        failed (see :meth:`score_run`).
        """
        values, answered, ignored, _ = self.score_run(run)
        return values, answered, ignored

    def score_run(self, run: RunLike) -> tuple[np.ndarray, frozenset[str], int, dict[str, str]]:
        """:meth:`score` plus ``{measure: reason}`` for the measures that could not be computed."""
        run = _load_run(run)
        inside = {q: docs for q, docs in run.items() if q in self._qset and len(docs)}
        ignored = sum(1 for q in run if q not in self._qset)
        values = np.zeros((len(self.queries), len(self.measures)))
        failed: dict[str, str] = {}
        if inside:
            try:
                self._fill(self._evaluator, inside, values)
            except Exception:  # a provider's own failure: find which measures, keep the rest
                values[:] = 0.0
                failed = self._fill_one_by_one(inside, values)
        return values, frozenset(inside), ignored, failed

    def _fill(self, evaluator, run, values: np.ndarray) -> None:
        row, col = self._row, self._col
        for metric in evaluator.iter_calc(run):
            values[row[metric.query_id], col[str(metric.measure)]] = metric.value

    def _fill_one_by_one(self, run, values: np.ndarray) -> dict[str, str]:
        import ir_measures

        failed = {}
        for measure in self.measure_objects:
            name = str(measure)
            try:
                if name not in self._single:
                    self._single[name] = ir_measures.evaluator([measure], self._qrels_in)
                self._fill(self._single[name], run, values)
            except Exception as exc:  # e.g. gdeval's subprocess refusing non-numeric query ids
                values[:, self._col[name]] = np.nan
                failed[name] = _failure(exc)
        return failed

    def evaluate(self, runs: Mapping[str, RunLike]) -> Evaluation:
        """An :class:`Evaluation` of named runs (dicts or TREC run paths)."""
        result = Evaluation(self.query_set, self.measures)
        for name, run in runs.items():
            values, answered, ignored, failed = self.score_run(run)
            result.scores[name] = values
            result.answered[name] = answered
            result.ignored[name] = ignored
            for measure, why in failed.items():
                result.failed.setdefault(measure, why)
        return result


def evaluate(qrels: QrelsLike, runs: Mapping[str, RunLike] | Sequence[str | os.PathLike],
             measures: Iterable[str] = DEFAULT_MEASURES, topics=None) -> Evaluation:
    """Evaluate runs in one call; a sequence of paths (``PATH`` or ``NAME=PATH``) is named by
    :func:`esplade_eval.artifacts.named` (a run's file name without ``.txt``/``.gz``).

    >>> res = evaluate({"q1": {"d1": 1}}, {"a": {"q1": {"d1": 1.0}}}, ["RR@10"])
    >>> res.aggregate().to_dict()
    {'RR@10': {'a': 1.0}}
    """
    if not isinstance(runs, Mapping):
        runs = named(runs)
    return Evaluator(qrels, measures, topics).evaluate(runs)

