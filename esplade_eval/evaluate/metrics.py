"""Per-query and aggregate effectiveness through ir_measures, over an explicit query set.

Policy, in one place:

* the **evaluated query set** is the qrels' queries, intersected with the topics when
  topics are given; it is fixed before any run is scored and reported with the results;
* a query of that set which a run lacks (no hits) **scores 0** for every measure. ir_measures
  leaves such queries out of its per-query output, so they are filled here explicitly; the
  mean is then the mean over the whole set, as ``trec_eval -c`` computes it;
* hits for queries outside the set are ignored (and counted).

Metrics are never re-implemented: values come from one ``ir_measures.evaluator`` built once
per qrels and reused for every run.

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

from esplade_eval.errors import EspladeError

#: measures ``esplade-eval evaluate`` reports when none are named
DEFAULT_MEASURES: tuple[str, ...] = ("nDCG@10", "R@100", "R@1000", "RR@10")

RunLike = Mapping[str, Mapping[str, float]] | str | os.PathLike
QrelsLike = Mapping[str, Mapping[str, int]] | str | os.PathLike


def parse_measures(measures: Iterable[str | object]) -> list:
    """ir_measures measure objects from strings such as ``"nDCG@10"`` or ``"AP"``.

    A measure is identified by its canonical text (``str(measure)``); asking for the same
    measure twice is an error rather than a silently duplicated column.

    >>> [str(m) for m in parse_measures(["nDCG@10", "AP"])]
    ['nDCG@10', 'AP']
    """
    import ir_measures

    parsed, seen = [], set()
    for spec in measures:
        if isinstance(spec, str):
            try:
                m = ir_measures.parse_measure(spec.strip())
            except (ValueError, NameError, SyntaxError) as exc:
                raise EspladeError(f"unknown measure {spec!r}: {exc} (examples: nDCG@10, R@1000, RR@10, AP, Judged@10)") from None
        else:
            m = spec
        if str(m) in seen:
            raise EspladeError(f"measure {str(m)!r} requested twice")
        seen.add(str(m))
        parsed.append(m)
    if not parsed:
        raise EspladeError("no measures requested")
    return parsed


def _load_qrels(qrels: QrelsLike) -> dict[str, dict[str, int]]:
    if isinstance(qrels, (str, os.PathLike)):
        from esplade_eval.data.trec import read_qrels

        return read_qrels(qrels)
    return {str(q): {str(d): int(g) for d, g in docs.items()} for q, docs in qrels.items()}


def _load_topic_ids(topics) -> set[str] | None:
    if topics is None:
        return None
    if isinstance(topics, (str, os.PathLike)):
        from esplade_eval.data.trec import read_topics

        return set(read_topics(topics))
    return {str(q) for q in topics}  # a mapping qid -> text, or an iterable of qids


def _load_run(run: RunLike) -> Mapping[str, Mapping[str, float]]:
    if isinstance(run, (str, os.PathLike)):
        from esplade_eval.data.trec import read_run

        return read_run(run)
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
    """

    query_set: QuerySet
    measures: tuple[str, ...]
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    answered: dict[str, frozenset[str]] = field(default_factory=dict)
    ignored: dict[str, int] = field(default_factory=dict)

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
        return out


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
        qrels_in = {q: all_qrels[q] for q in self.queries}
        # Built once: ir_measures (pytrec_eval underneath) prepares the qrels here, so each
        # further run costs only its own scoring.
        self._evaluator = ir_measures.evaluator(self.measure_objects, qrels_in)

    def score(self, run: RunLike) -> tuple[np.ndarray, frozenset[str], int]:
        """``(values, answered, ignored)`` for one run.

        ``values`` is ``(n_queries, n_measures)`` in :attr:`queries` x :attr:`measures`
        order, 0 where the run has no hits for a query.
        """
        run = _load_run(run)
        inside = {q: docs for q, docs in run.items() if q in self._qset and len(docs)}
        ignored = sum(1 for q in run if q not in self._qset)
        values = np.zeros((len(self.queries), len(self.measures)))
        if inside:
            row, col = self._row, self._col
            try:
                for metric in self._evaluator.iter_calc(inside):
                    values[row[metric.query_id], col[str(metric.measure)]] = metric.value
            except Exception as exc:  # a provider's own failure (e.g. gdeval's subprocess): name the measures
                raise EspladeError(f"ir_measures could not compute {', '.join(self.measures)}: "
                                   f"{type(exc).__name__}: {exc}") from exc
        return values, frozenset(inside), ignored

    def evaluate(self, runs: Mapping[str, RunLike]) -> Evaluation:
        """An :class:`Evaluation` of named runs (dicts or TREC run paths)."""
        result = Evaluation(self.query_set, self.measures)
        for name, run in runs.items():
            values, answered, ignored = self.score(run)
            result.scores[name] = values
            result.answered[name] = answered
            result.ignored[name] = ignored
        return result


def evaluate(qrels: QrelsLike, runs: Mapping[str, RunLike] | Sequence[str | os.PathLike],
             measures: Iterable[str] = DEFAULT_MEASURES, topics=None) -> Evaluation:
    """Evaluate runs in one call; a sequence of paths is named by :func:`system_names`.

    >>> res = evaluate({"q1": {"d1": 1}}, {"a": {"q1": {"d1": 1.0}}}, ["RR@10"])
    >>> res.aggregate().to_dict()
    {'RR@10': {'a': 1.0}}
    """
    if not isinstance(runs, Mapping):
        runs = split_named([os.fspath(r) for r in runs])
    return Evaluator(qrels, measures, topics).evaluate(runs)


def system_names(paths: Sequence[str | os.PathLike]) -> list[str]:
    """Short, unique names for run files: ``NAME=PATH`` names explicitly, else the file stem.

    Stems that collide fall back to the path as given.

    >>> system_names(["runs/bm25.txt", "full=runs/a.txt"])
    ['bm25', 'full']
    """
    named = []
    for p in paths:
        text = os.fspath(p)
        name, sep, rest = text.partition("=")
        if sep and name and not Path(text).exists():
            named.append((name, rest))
        else:
            stem = Path(text).name
            for suffix in (".gz", ".txt", ".trec", ".run"):
                stem = stem.removesuffix(suffix)
            named.append((stem or text, None))
    stems = [n for n, _ in named]
    out = []
    for (name, explicit), p in zip(named, paths):
        out.append(name if explicit is not None or stems.count(name) == 1 else os.fspath(p))
    if len(set(out)) != len(out):
        raise EspladeError(f"two runs have the same name: {out}")
    return out


def split_named(paths: Sequence[str]) -> dict[str, str]:
    """``{name: path}`` for CLI arguments ``PATH`` or ``NAME=PATH`` (see :func:`system_names`)."""
    names = system_names(paths)
    out = {}
    for name, text in zip(names, paths):
        head, sep, rest = text.partition("=")
        out[name] = rest if sep and head == name and not Path(text).exists() else text
    return out
