"""Effectiveness beside cost, per (checkpoint, pruning level): one table and two plots.

For every level: effectiveness of its run (ir_measures; mean over the qrels' queries, a
query without hits scoring 0), the index's posting-list spread (variance, cv, Gini of df
over the vocabulary and over the query terms), and the query set's cost (mean postings
traversed, FLOPS, latency). Cost comes from the Lucene index itself
(:mod:`esplade_eval.lucene.postings`); only the query vectors are read from their file.

>>> from esplade_eval.study.flow import run_flow                       # doctest: +SKIP
>>> flow = run_flow("out", levels=[Pruning(), Pruning(8, 4)])          # doctest: +SKIP
>>> table = cost_table(flow, measures=("nDCG@10", "R@100"))            # doctest: +SKIP
>>> plot_pareto(table, "pareto.png"); plot_posting_lengths(table, "df.png")   # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from esplade_eval import defaults
from esplade_eval._format import DAGGER, figure, save_figure
from esplade_eval.artifacts import FlowLayout, split_named
from esplade_eval.cost.queries import QueryCosts, query_costs, set_flops, summarize
from esplade_eval.cost.stats import postings_statistics
from esplade_eval.errors import EspladeError, InputError
from esplade_eval.sparse.prune import strictness  # noqa: F401  (levels are ordered by it; imported from here too)


@dataclass
class LevelSpec:
    """One (checkpoint, pruning level): its index, its pre-encoded queries and its run."""

    checkpoint: str
    level: str
    index: Path
    queries: Path
    run: Path | None = None

    @property
    def label(self) -> str:
        return f"{self.checkpoint}/{self.level}"

    @classmethod
    def parse(cls, text: str) -> "LevelSpec":
        """``[CHECKPOINT/]LEVEL=INDEX,QUERIES[,RUN]`` (``cost-table --level``).

        >>> LevelSpec.parse("tiny/d8-q4=idx,q.jsonl").label
        'tiny/d8-q4'
        """
        name, value = split_named(text)
        parts = value.split(",")
        if name is None or len(parts) not in (2, 3) or not all(parts):
            raise EspladeError(f"--level {text!r}: expected NAME=INDEX,QUERIES[,RUN]")
        checkpoint, _, level = name.rpartition("/")
        return cls(checkpoint or "-", level, Path(parts[0]), Path(parts[1]), Path(parts[2]) if len(parts) == 3 else None)


@dataclass
class LevelCost:
    spec: LevelSpec
    terms: object  # esplade_eval.lucene.postings.IndexTerms
    postings: dict
    costs: QueryCosts
    summary: dict = field(default_factory=dict)


def _checkpoint_name(checkpoint) -> str:
    return Path(str(checkpoint)).name or str(checkpoint)


def levels_of(flow) -> list[LevelSpec]:
    """The levels of a :class:`~esplade_eval.study.flow.FlowResult`."""
    ck = getattr(flow, "name", None) or _checkpoint_name(flow.checkpoint)
    return [LevelSpec(ck, name, Path(lv.index), Path(lv.queries), Path(lv.run)) for name, lv in flow.levels.items()]


def levels_in_folder(out: str | os.PathLike, split: str = "test", checkpoint: str | None = None) -> list[LevelSpec]:
    """Levels found in a flow output folder (:class:`~esplade_eval.artifacts.FlowLayout`: an
    index per level, its queries of ``split``, its run when there is one), ordered from
    unpruned to strictest (:func:`~esplade_eval.sparse.prune.strictness`)."""
    layout = FlowLayout(out)
    specs = []
    for level in sorted(layout.levels(), key=strictness):
        run = layout.run(split, level)
        specs.append(LevelSpec(checkpoint or layout.root.name, level, layout.index(level),
                               layout.queries(level, split), run if run.is_file() else None))
    return specs


def flow_judgments(out: str | os.PathLike, split: str = "test") -> tuple[Path | None, Path | None]:
    """The qrels and topics of ``split`` in a flow folder's prepared collection (None where absent)."""
    collection = FlowLayout(out).collection()
    qrels, topics = collection.qrels(split), collection.topics(split)
    return (qrels if qrels.is_file() else None), (topics if topics.is_file() else None)


def load_queries(path: str | os.PathLike) -> dict[str, dict[str, int]]:
    """``{qid: {term: impact}}`` from a pre-encoded query file; a clear error when it is missing."""
    from esplade_eval.sparse.jsonvector import read_query_vectors

    if not Path(path).is_file():
        raise InputError(path, "query file not found (pre-encoded queries: JSONL with id, contents, vector)")
    return read_query_vectors(path)[0]


def time_queries(index, queries, hits: int = defaults.HITS, passes: int = defaults.LATENCY_PASSES,
                 warmup: int = defaults.LATENCY_WARMUP, progress: bool | None = None, desc: str = "latency",
                 details: dict | None = None) -> dict:
    """Per-query latencies (:class:`~esplade_eval.lucene.postings.LatencyProbe`), with a bar
    over the ``(warmup + passes) x queries`` searches (None: only on a terminal).

    On a sharded index, ``details`` (when given) receives :func:`sharded_latency`.
    """
    from esplade_eval._progress import bar
    from esplade_eval.lucene.postings import LatencyProbe

    with bar(total=(warmup + passes) * len(queries), desc=desc, unit="query", enabled=progress) as b, \
            LatencyProbe(index) as probe:
        times = probe.time(queries, k=hits, passes=passes, warmup=warmup, progress=b.update)
        if probe.sharded and details is not None:
            details.update(sharded_latency(probe, queries))
        return times


def sharded_latency(probe, queries) -> dict:
    """What a sharded index's latency is made of: the model, and the means per shard and of the merge (ms).

    Means over the non-empty queries of each query's median over the timed passes.
    """
    timed = np.array([any(w > 0 for w in v.values()) for v in queries.values()], dtype=bool)
    shards = probe.shard_seconds.shape[1]
    shard_ms = np.median(probe.shard_seconds[timed], axis=2).mean(axis=0) * 1e3 if timed.any() else []
    merge_ms = float(np.median(probe.merge_seconds[timed], axis=1).mean() * 1e3) if timed.any() else None
    return {"shards": shards, "latency_model": probe.LATENCY_MODEL,
            "latency_ms_mean_per_shard": [round(float(x), 4) for x in shard_ms], "latency_ms_merge_mean": merge_ms}


def measure_level(spec: LevelSpec, hits: int = defaults.HITS, passes: int = defaults.LATENCY_PASSES,
                  warmup: int = defaults.LATENCY_WARMUP, latency: bool = True,
                  progress: bool | None = None) -> LevelCost:
    """Read the index's posting lists, cost every query, and (optionally) time them. The query
    file is read first, so a bad one fails before the JVM starts."""
    from esplade_eval.lucene.index import check_index
    from esplade_eval.lucene.postings import read_index_terms

    check_index(spec.index, allow_sharded=True)
    queries = load_queries(spec.queries)
    terms = read_index_terms(spec.index)
    times, sharded = None, {}
    if latency:
        times = time_queries(spec.index, queries, hits, passes, warmup, progress, desc=f"latency {spec.label}",
                             details=sharded)
    costs = query_costs(terms, queries, times)
    summary = {**summarize(costs, set_flops(terms, queries)), **sharded}
    return LevelCost(spec, terms, postings_statistics(terms, queries), costs, summary)


def query_set_cost(index: str | os.PathLike, queries: str | os.PathLike, hits: int = defaults.HITS,
                   passes: int = defaults.LATENCY_PASSES, warmup: int = defaults.LATENCY_WARMUP,
                   latency: bool = True, progress: bool | None = None) -> tuple[dict, LevelCost]:
    """The cost of one query set on one index (``esplade-eval cost``): its aggregate, headed
    by what was measured, and the per-query detail (``.costs.to_frame()``)."""
    lc = measure_level(LevelSpec("-", Path(index).name, Path(index), Path(queries)), hits, passes, warmup, latency,
                       progress)
    summary = {"index": str(index), "queries_file": str(queries), "documents": lc.terms.documents, "hits": hits,
               **lc.summary}
    return summary, lc


def index_postings(index: str | os.PathLike, queries: str | os.PathLike | None = None, top: int = 10):
    """Posting-list statistics of an index (``esplade-eval postings``), over the vocabulary and
    over the terms of ``queries`` when given; returns ``(statistics, IndexTerms)``."""
    from esplade_eval.lucene.index import check_index
    from esplade_eval.lucene.postings import read_index_terms

    check_index(index, allow_sharded=True)
    vectors = load_queries(queries) if queries else None  # a bad file fails before the JVM starts
    terms = read_index_terms(index)
    stats = postings_statistics(terms, vectors, top=top)
    stats["seconds"] = round(terms.seconds, 3)
    if queries:
        stats["queries"]["file"] = str(queries)
    return stats, terms


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


def cost_rows(specs: Iterable[LevelSpec], qrels=None, measures: Sequence[str] = defaults.COST_MEASURES, topics=None,
              hits: int = defaults.HITS, passes: int = defaults.LATENCY_PASSES,
              warmup: int = defaults.LATENCY_WARMUP, latency: bool = True,
              progress: bool | None = None, correction: str | None = "holm"):
    """``(DataFrame, {label: LevelCost})`` for explicit levels; see :func:`cost_table`."""
    import pandas as pd

    specs = list(specs)
    if not specs:
        raise EspladeError("no levels to report")
    single = len({s.checkpoint for s in specs}) == 1
    rows, details = [], {}
    for spec in specs:
        lc = measure_level(spec, hits=hits, passes=passes, warmup=warmup, latency=latency, progress=progress)
        label = spec.level if single else spec.label
        details[label] = lc
        rows.append({"checkpoint": spec.checkpoint, "level": spec.level, **_cost_columns(lc, latency)})
    frame = pd.DataFrame(rows, index=pd.Index(list(details), name="level" if single else "system"))
    baselines = {}
    if qrels is not None:
        effect, baselines = _effectiveness(frame.index, specs, qrels, list(measures), topics, correction)
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


def cost_table(flows, measures: Sequence[str] = defaults.COST_MEASURES, hits: int = defaults.HITS,
               passes: int = defaults.LATENCY_PASSES, warmup: int = defaults.LATENCY_WARMUP, latency: bool = True,
               progress: bool | None = None, correction: str | None = "holm", split: str = "test"):
    """Effectiveness vs cost, one row per (checkpoint, pruning level) of one or more flows.

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
    frame, _ = cost_rows(specs, qrels=qrels, measures=measures, topics=topics if topics.is_file() else None,
                         hits=hits, passes=passes, warmup=warmup, latency=latency, progress=progress,
                         correction=correction)
    return frame


def table_measures(table) -> list[str]:
    """The effectiveness columns of a cost table (the measures, without their test columns)."""
    return [c for c in table.columns if f"{c} delta" in table.columns]


def pareto_front(cost: Sequence[float], effect: Sequence[float]) -> np.ndarray:
    """Mask of the points no other point beats (cost no higher and effect no lower, one strictly).

    >>> pareto_front([1, 2, 3, 2], [0.1, 0.3, 0.2, 0.2]).tolist()
    [True, True, False, False]
    """
    c, e = np.asarray(cost, dtype=float), np.asarray(effect, dtype=float)
    keep = np.ones(len(c), dtype=bool)
    for i in range(len(c)):
        dominated = (c <= c[i]) & (e >= e[i]) & ((c < c[i]) | (e > e[i]))
        keep[i] = not dominated.any()
    return keep


#: the narrowest effectiveness range a Pareto plot shows: smaller differences stay visibly small
MIN_Y_SPAN = 0.05


def plot_pareto(table, path: str | os.PathLike, x: str = "postings_mean", y: str | None = None,
                title: str | None = None, min_span: float = MIN_Y_SPAN, references=None) -> Path:
    """Effectiveness (``y``, default the first measure column) against cost (``x``), one
    marker series per checkpoint, each point labelled by its level (``†``: significantly
    different from its checkpoint's first level); the Pareto front over all points is drawn
    as a dashed step line. The y axis spans at least ``min_span`` (0.05), so a +0.0002
    change does not fill the plot like a trend. ``references``: ``{name: (cost or None, y)}``
    reference systems (BM25, dense): a square at their cost (a dense flat index: its
    multiply-adds per query), or a dotted line across when their cost is not on this axis.
    Writes a PNG and returns its path."""
    if x not in table.columns:
        raise EspladeError(f"column {x!r} not in the table ({', '.join(table.columns)})")
    if y is None:
        measures = table_measures(table)
        if not measures:
            raise EspladeError("the table has no effectiveness column (was it built with qrels?)")
        y = measures[0]
    fig, ax = figure()
    for ck, part in table.groupby("checkpoint", sort=False):
        part = part.sort_values(x)
        ax.plot(part[x], part[y], marker="o", label=str(ck))
        for _, row in part.iterrows():
            mark = DAGGER if bool(row.get(f"{y} reject", False)) else ""
            ax.annotate(f"{row['level']}{mark}", (row[x], row[y]), textcoords="offset points", xytext=(4, 4),
                        fontsize=8)
    ys = list(table[y]) + [v for _, v in (references or {}).values()]
    for name, (cost, value) in (references or {}).items():
        if cost is None:
            ax.axhline(value, linestyle=":", linewidth=1, color="black")
            ax.annotate(name, (0.01, value), xycoords=("axes fraction", "data"), xytext=(0, 3),
                        textcoords="offset points", fontsize=8)
        else:
            ax.plot([cost], [value], marker="s", linestyle="none", label=name)
    ax.set_ylim(*_y_limits(ys, min_span))
    front = table[pareto_front(table[x], table[y])].sort_values(x)
    ax.step(front[x], front[y], where="post", linestyle="--", color="grey", linewidth=1, label="Pareto front")
    xs = list(table[x]) + [c for c, _ in (references or {}).values() if c is not None]
    if min(xs) > 0 and max(xs) / max(min(xs), 1e-12) > 20:
        ax.set_xscale("log")
    ax.set_xlabel({"postings_mean": "mean postings traversed (multiply-adds) per query, exhaustive",
                   "flops": "FLOPS (expected multiplications per query-document pair)"}.get(x, x))
    ax.set_ylabel(y)
    ax.set_title(title or f"{y} vs retrieval cost")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def _y_limits(values, min_span: float) -> tuple[float, float]:
    """Limits around the values, at least ``min_span`` wide, inside [0, 1] where they fit."""
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    span = max(high - low, min_span) * 1.2
    centre = (low + high) / 2
    bottom, top = centre - span / 2, centre + span / 2
    if bottom < 0 <= low:
        bottom, top = 0.0, span
    if top > 1 >= high and bottom - (top - 1) >= 0:
        bottom, top = bottom - (top - 1), 1.0
    return bottom, top


def _df_arrays(stats_by_level) -> dict[str, np.ndarray]:
    if hasattr(stats_by_level, "attrs") and "posting_lengths" in getattr(stats_by_level, "attrs", {}):
        stats_by_level = stats_by_level.attrs["posting_lengths"]
    if not isinstance(stats_by_level, Mapping) or not stats_by_level:
        raise EspladeError("plot_posting_lengths needs {level: df array | IndexTerms} or a cost_table result")
    out = {}
    for label, value in stats_by_level.items():
        if hasattr(value, "df"):
            value = value.df
        elif isinstance(value, Mapping) and "df" in value:
            value = value["df"]
        out[str(label)] = np.asarray(value, dtype=np.int64)
    return out


def plot_posting_lengths(stats_by_level, path: str | os.PathLike, title: str | None = None) -> Path:
    """Posting-list length distributions per level: rank-size (log-log) and box plots.

    ``stats_by_level``: ``{level: IndexTerms | df array}`` or a :func:`cost_table` result.
    """
    arrays = _df_arrays(stats_by_level)
    fig, (left, right) = figure(11, 4.5, ncols=2)
    for label, df in arrays.items():
        ranked = np.sort(df)[::-1]
        left.loglog(np.arange(1, ranked.size + 1), np.maximum(ranked, 1), label=f"{label} ({ranked.size} terms)")
    left.set_xlabel("term rank by posting-list length")
    left.set_ylabel("posting-list length (df)")
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=8)
    right.boxplot([np.maximum(a, 1) for a in arrays.values()], tick_labels=list(arrays), showmeans=True)
    right.set_yscale("log")
    right.set_ylabel("posting-list length (df)")
    right.tick_params(axis="x", labelrotation=30)
    right.set_title("mean (triangle), median, quartiles", fontsize=9)
    fig.suptitle(title or "posting-list lengths per level")
    return save_figure(fig, path)
