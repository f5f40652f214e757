"""Effectiveness beside cost, per (checkpoint, pruning level): the table that joins them.

For every level: effectiveness of its run (ir_measures; mean over the qrels' queries, a
query without hits scoring 0) and each level tested against its checkpoint's first level,
joined with what the level costs (:mod:`esplade_eval.cost.measure`: the index's
posting-list spread, the query set's postings traversed, FLOPS, latency). The levels come
from :mod:`esplade_eval.cost.levels`, the figures are drawn by :mod:`esplade_eval.cost.plots`.

>>> from esplade_eval.cost import cost_table, plot_pareto, plot_posting_lengths  # doctest: +SKIP
>>> table = cost_table("artifacts/demo", measures=("nDCG@10", "R@100"))  # doctest: +SKIP
>>> plot_pareto(table, "pareto.png"); plot_posting_lengths(table, "df.png")   # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from esplade_eval import defaults
from esplade_eval.artifacts import FlowLayout
from esplade_eval.cost.levels import LevelSpec, levels_in_folder, levels_of
from esplade_eval.cost.measure import LevelCost, measure_level
from esplade_eval.errors import EspladeError, InputError


@dataclass(frozen=True)
class CostOptions:
    """What a cost table measures and how (every field is also a keyword of :func:`cost_table`
    and :func:`cost_rows`): the ``measures``, ``hits`` per timed search, ``passes`` and
    ``warmup`` passes, whether to time at all (``latency``), progress bars, and the
    ``correction`` across a checkpoint's levels."""

    measures: tuple[str, ...] = tuple(defaults.COST_MEASURES)
    hits: int = defaults.HITS
    passes: int = defaults.LATENCY_PASSES
    warmup: int = defaults.LATENCY_WARMUP
    latency: bool = True
    progress: bool | None = None
    correction: str | None = "holm"


def _options(options: CostOptions | None, overrides: dict) -> CostOptions:
    if "measures" in overrides:
        overrides = {**overrides, "measures": tuple(overrides["measures"])}
    return replace(options or CostOptions(), **overrides)


def effectiveness(qrels: str | os.PathLike, run: str | os.PathLike, measures: Sequence[str] = defaults.COST_MEASURES,
                  topics: str | os.PathLike | None = None) -> dict[str, float]:
    """Mean of each measure over the qrels' queries (restricted to ``topics`` when given);
    a query the run lacks scores 0: the evaluation harness's policy, through its evaluator."""
    from esplade_eval.evaluate import Evaluator

    row = Evaluator(qrels, list(measures), topics=topics).evaluate({"run": run}).aggregate().loc["run"]
    return {m: float(v) for m, v in row.items()}


def _cost_columns(lc: LevelCost, latency: bool) -> dict:
    pl, ql, s = lc.postings["posting_lengths"], lc.postings["queries"]["posting_lengths"], lc.summary
    row = {
        "postings_mean": s["postings_mean"],
        "postings_p95": s["postings_p95"],
        "flops": s["flops"],
        "query_length_mean": s["query_length_mean"],
        "doc_length_mean": lc.postings["mean_vector_length"],
        "terms": lc.postings["terms"],
        "df_variance": pl["variance"],
        "df_cv": pl["cv"],
        "df_gini": pl["gini"],
        "query_df_variance": ql["variance"],
        "query_df_cv": ql["cv"],
        "index_MiB": lc.postings["index_bytes"] / 2**20,
    }
    if latency:
        row.update({f"latency_ms_{k}": s[f"latency_ms_{k}"] for k in ("mean", "p50", "p95", "p99")})
    return row


def cost_rows(specs: Iterable[LevelSpec], qrels=None, topics=None, options: CostOptions | None = None,
              **overrides) -> tuple:
    """``(DataFrame, {label: LevelCost})`` for explicit levels; see :func:`cost_table`."""
    import pandas as pd

    o = _options(options, overrides)

    specs = list(specs)
    if not specs:
        raise EspladeError("no levels to report")
    single = len({s.checkpoint for s in specs}) == 1
    rows, details = [], {}
    for spec in specs:
        lc = measure_level(spec, hits=o.hits, passes=o.passes, warmup=o.warmup, latency=o.latency, progress=o.progress)
        label = spec.level if single else spec.label
        details[label] = lc
        rows.append({"checkpoint": spec.checkpoint, "level": spec.level, **_cost_columns(lc, o.latency)})
    frame = pd.DataFrame(rows, index=pd.Index(list(details), name="level" if single else "system"))
    baselines = {}
    if qrels is not None:
        effect, baselines = _effectiveness(frame.index, specs, qrels, list(o.measures), topics, o.correction)
        frame = pd.concat([frame[["checkpoint", "level"]], effect, frame.drop(columns=["checkpoint", "level"])], axis=1)
    frame.attrs["posting_lengths"] = {label: lc.terms.df for label, lc in details.items()}
    frame.attrs["baselines"] = baselines
    return frame, details


def _effectiveness(index, specs, qrels, measures, topics, correction):
    """Means of each level's run, and every level vs its checkpoint's first level (normally
    unpruned): Δ, corrected p and the decision of the paired t-test, per measure.

    Returns ``(DataFrame on index, {checkpoint: baseline row label})``.
    """
    import pandas as pd

    from esplade_eval.evaluate import Evaluator, compare

    evaluator = Evaluator(qrels, measures, topics=topics)
    columns = [*evaluator.measures] + [f"{m} {c}" for m in evaluator.measures for c in ("delta", "p-value corrected")]
    effect = pd.DataFrame(np.nan, index=index, columns=columns)
    for m in evaluator.measures:
        effect[f"{m} reject"] = False
    labels = dict(zip((s.label for s in specs), index))
    groups: dict[str, list[str]] = {}
    for spec in specs:
        if spec.run is not None:
            groups.setdefault(spec.checkpoint, []).append(labels[spec.label])
    runs = {labels[s.label]: str(s.run) for s in specs if s.run is not None}
    for members in groups.values():
        tested = len(members) > 1
        report = compare(evaluator.evaluate({m: runs[m] for m in members}), baseline=members[0] if tested else None,
                         correction=correction if tested else None, missing="zero")
        table = report.to_dataframe()
        for column in effect.columns:
            if column in table.columns:
                values = table[column]
                effect.loc[table.index, column] = (values.fillna(False).astype(bool) if column.endswith(" reject")
                                                   else values.astype(float))
    return effect, {ck: members[0] for ck, members in groups.items()}


def cost_table(flows, split: str = "test", options: CostOptions | None = None, **overrides):
    """Effectiveness vs cost, one row per (checkpoint, pruning level) of one or more flows;
    ``options`` (or its fields as keywords, e.g. ``measures=("nDCG@10",)``): :class:`CostOptions`.

    ``flows`` is a :class:`~esplade_eval.study.flow.FlowResult`, a flow output folder (the
    ``--out`` of ``esplade-eval demo``: ``indexes/``, ``vectors/``, ``runs/``, ``data/``; its
    ``split`` is read), or a list of them (their qrels must be the same). Rows are indexed by level name for one checkpoint,
    by ``checkpoint/level`` otherwise. Columns: ``checkpoint``, ``level``, each measure,
    ``postings_mean`` (postings traversed per query), ``postings_p95``, ``flops``,
    ``query_length_mean``, ``doc_length_mean``, ``terms``, ``df_variance``, ``df_cv``,
    ``df_gini`` (posting-list lengths over the vocabulary), ``query_df_variance``,
    ``query_df_cv`` (over the query terms), ``index_MiB`` and ``latency_ms_{mean,p50,p95,p99}``
    (per-query medians over ``passes`` timed passes, top-``hits``, one thread); and, per
    measure ``m``, ``m delta``, ``m p-value corrected`` and ``m reject``: each level against
    its checkpoint's first level (the unpruned one, when levels are given from unpruned to
    strict), paired t-test, ``correction`` across the checkpoint's levels.
    ``table.attrs["posting_lengths"]`` holds each row's df array for
    :func:`plot_posting_lengths`; :func:`esplade_eval.cost.render.render_cost_table` prints the
    table for readers.
    """
    if isinstance(flows, (str, os.PathLike)) or hasattr(flows, "levels"):
        flows = [flows]
    flows = list(flows)
    if not flows:
        raise EspladeError("no flows to report")
    specs, judged = [], []
    for f in flows:
        if isinstance(f, (str, os.PathLike)):
            specs += levels_in_folder(f, split=split)
            collection = FlowLayout(f).collection()
            judged.append((collection.qrels(split), collection.topics(split)))
        else:
            specs += levels_of(f)
            judged.append((Path(f.qrels), Path(f.topics)))
    qrels, topics = judged[0]
    for other, _ in judged[1:]:
        if other.resolve() != qrels.resolve():
            raise EspladeError(f"flows are judged with different qrels ({qrels} vs {other}): not comparable")
    if not qrels.is_file():
        raise InputError(qrels, "qrels not found (expected the data/ folder of `esplade-eval demo --out`)")
    frame, _ = cost_rows(specs, qrels, topics if topics.is_file() else None, _options(options, overrides))
    return frame
