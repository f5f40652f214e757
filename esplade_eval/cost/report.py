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

from esplade_eval.cost.queries import QueryCosts, query_costs, set_flops, summarize
from esplade_eval.cost.stats import postings_statistics
from esplade_eval.errors import EspladeError, InputError

DEFAULT_MEASURES = ("nDCG@10", "R@100")


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
    """Levels found in a flow output folder: ``indexes/<level>``, ``vectors/<level>/queries.<split>.jsonl``,
    ``runs/run.<split>.<level>.txt`` (the layout of ``esplade-eval demo --out OUT``)."""
    out = Path(out)
    if not (out / "indexes").is_dir():
        raise InputError(out, "no indexes/ folder here (expected the output of `esplade-eval demo --out`)")
    specs = []
    for index in sorted(p for p in (out / "indexes").iterdir() if p.is_dir() and not p.name.startswith(".")):
        queries = out / "vectors" / index.name / f"queries.{split}.jsonl"
        run = out / "runs" / f"run.{split}.{index.name}.txt"
        specs.append(LevelSpec(checkpoint or out.name, index.name, index, queries, run if run.is_file() else None))
    if not specs:
        raise InputError(out / "indexes", "no index folders")
    return sorted(specs, key=lambda s: strictness(s.level))


def strictness(level: str) -> tuple:
    """Sort key: unpruned first, then larger document (then query) budgets first.

    >>> sorted(["d8-q4", "full", "d32-q16"], key=strictness)
    ['full', 'd32-q16', 'd8-q4']
    """
    from esplade_eval.sparse.prune import Pruning

    try:
        p = Pruning.parse(level)
    except ValueError:
        return (1, 0.0, 0.0, 0.0, level)
    inf = float("inf")
    return (0, -(p.doc_top_k or inf), -(p.query_top_k or inf), p.min_weight or 0.0, level)


def load_queries(path: str | os.PathLike) -> dict[str, dict[str, int]]:
    """``{qid: {term: impact}}`` from a pre-encoded query file; a clear error when it is missing."""
    from esplade_eval.sparse.jsonvector import read_query_vectors

    if not Path(path).is_file():
        raise InputError(path, "query file not found (pre-encoded queries: JSONL with id, contents, vector)")
    return read_query_vectors(path)[0]


def time_queries(index, queries, hits: int = 1000, repeats: int = 3, warmup: int = 2,
                 progress: bool | None = None, desc: str = "latency") -> dict:
    """Per-query latencies (:class:`~esplade_eval.lucene.postings.LatencyProbe`), with a bar
    over the ``(warmup + repeats) x queries`` searches (None: only on a terminal)."""
    from esplade_eval._progress import bar
    from esplade_eval.lucene.postings import LatencyProbe

    with bar(total=(warmup + repeats) * len(queries), desc=desc, unit="query", enabled=progress) as b, \
            LatencyProbe(index) as probe:
        return probe.time(queries, k=hits, repeats=repeats, warmup=warmup, progress=b.update)


def measure_level(spec: LevelSpec, hits: int = 1000, repeats: int = 3, warmup: int = 2,
                  latency: bool = True, progress: bool | None = None) -> LevelCost:
    """Read the index's posting lists, cost every query, and (optionally) time them."""
    from esplade_eval.lucene.postings import read_index_terms

    terms = read_index_terms(spec.index)
    queries = load_queries(spec.queries)
    times = None
    if latency:
        times = time_queries(spec.index, queries, hits, repeats, warmup, progress, desc=f"latency {spec.label}")
    costs = query_costs(terms, queries, times)
    summary = summarize(costs, set_flops(terms, queries))
    return LevelCost(spec, terms, postings_statistics(terms, queries), costs, summary)


def effectiveness(qrels: str | os.PathLike, run: str | os.PathLike, measures: Sequence[str] = DEFAULT_MEASURES,
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


def cost_rows(specs: Iterable[LevelSpec], qrels=None, measures: Sequence[str] = DEFAULT_MEASURES, topics=None,
              hits: int = 1000, repeats: int = 3, warmup: int = 2, latency: bool = True,
              progress: bool | None = None, correction: str | None = "holm"):
    """``(DataFrame, {label: LevelCost})`` for explicit levels; see :func:`cost_table`."""
    import pandas as pd

    specs = list(specs)
    if not specs:
        raise EspladeError("no levels to report")
    single = len({s.checkpoint for s in specs}) == 1
    rows, details = [], {}
    for spec in specs:
        lc = measure_level(spec, hits=hits, repeats=repeats, warmup=warmup, latency=latency, progress=progress)
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


def cost_table(flows, measures: Sequence[str] = DEFAULT_MEASURES, hits: int = 1000, repeats: int = 3,
               warmup: int = 2, latency: bool = True, progress: bool | None = None, correction: str | None = "holm",
               split: str = "test"):
    """Effectiveness vs cost, one row per (checkpoint, pruning level) of one or more flows.

    ``flows`` is a :class:`~esplade_eval.study.flow.FlowResult`, a flow output folder (the
    ``--out`` of ``esplade-eval demo``: ``indexes/``, ``vectors/``, ``runs/``, ``data/``; its
    ``split`` is read), or a list of them (their qrels must be the same). Rows are indexed by level name for one checkpoint,
    by ``checkpoint/level`` otherwise. Columns: ``checkpoint``, ``level``, each measure,
    ``postings_mean`` (postings traversed per query), ``postings_p95``, ``flops``,
    ``query_length_mean``, ``doc_length_mean``, ``terms``, ``df_variance``, ``df_cv``,
    ``df_gini`` (posting-list lengths over the vocabulary), ``query_df_variance``,
    ``query_df_cv`` (over the query terms), ``index_MiB`` and ``latency_ms_{mean,p50,p95,p99}``
    (per-query medians over ``repeats`` timed passes, top-``hits``, one thread); and, per
    measure ``m``, ``m delta``, ``m p-value corrected`` and ``m reject``: each level against
    its checkpoint's first level (the unpruned one, when levels are given from unpruned to
    strict), paired t-test, ``correction`` across the checkpoint's levels.
    ``table.attrs["posting_lengths"]`` holds each row's df array for
    :func:`plot_posting_lengths`; :func:`render_cost_table` prints the table for readers.
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
            judged.append((Path(f) / "data" / f"qrels.{split}.txt", Path(f) / "data" / f"topics.{split}.tsv"))
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
                         hits=hits, repeats=repeats, warmup=warmup, latency=latency, progress=progress,
                         correction=correction)
    return frame


#: column -> header of the rendered table, in the order shown (the "paper" selection)
COLUMN_LABELS = {
    "postings_mean": "postings/query", "flops": "FLOPS", "query_length_mean": "query terms",
    "doc_length_mean": "doc terms", "df_variance": "df variance", "query_df_variance": "query-term df variance",
    "latency_ms_p50": "latency p50 (ms)", "latency_ms_p95": "latency p95 (ms)",
}
#: every other column, shown with ``columns="all"``
MORE_LABELS = {
    "postings_p95": "postings/query p95", "terms": "vocabulary", "df_cv": "df CV", "df_gini": "df Gini",
    "query_df_cv": "query-term df CV", "index_MiB": "index MiB", "latency_ms_mean": "latency mean (ms)",
    "latency_ms_p99": "latency p99 (ms)",
}


def table_measures(table) -> list[str]:
    """The effectiveness columns of a cost table (the measures, without their test columns)."""
    return [c for c in table.columns if f"{c} delta" in table.columns]


def render_cost_table(table, fmt: str = "markdown", columns: str = "paper", digits: int = 4) -> str:
    """A cost table for readers: each measure with Δ vs its checkpoint's first level and a †
    when significant (Holm), then cost columns with plain headers; ``columns="all"`` adds the
    rest. ``fmt``: markdown, csv (every column, machine names, no duplicate) or json."""
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "json":
        return table.reset_index(drop=True).to_json(orient="records", indent=2) + "\n"
    if fmt != "markdown":
        raise EspladeError(f"format must be markdown, csv or json, got {fmt!r}")
    labels = {c: h for c, h in {**COLUMN_LABELS, **(MORE_LABELS if columns == "all" else {})}.items()
              if c in table.columns}
    measures = table_measures(table)
    keys = (["checkpoint"] if table["checkpoint"].nunique() > 1 else []) + ["level"]
    header = keys + measures + list(labels.values())
    aligns = ["---"] * len(keys) + ["---:"] * (len(header) - len(keys))
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(aligns) + " |"]
    for _, row in table.iterrows():
        cells = [str(row[k]) for k in keys] + [_measure_cell(row, m, digits) for m in measures]
        lines.append("| " + " | ".join(cells + [_fmt(row[c]) for c in labels]) + " |")
    note = _significance_note(table)
    return "\n".join(lines + ([""] + [note] if note else [])) + "\n"


def _measure_cell(row, measure: str, digits: int) -> str:
    value = row[measure]
    if value != value:  # NaN: no run for this level
        return "–"
    text = f"{value:.{digits}f}"
    delta = row.get(f"{measure} delta")
    if delta == delta and delta is not None:
        text += f" ({delta:+.{digits}f})" + ("†" if bool(row.get(f"{measure} reject")) else "")
    return text


def _fmt(value) -> str:
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if value != value:
        return "–"
    return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def _significance_note(table) -> str:
    baselines = table.attrs.get("baselines") or {}
    if not table_measures(table) or not baselines:
        return ""
    base = ", ".join(f"{b}" for b in baselines.values())
    return (f"Δ = level − first level of its checkpoint ({base}); † = significant (paired t-test, Holm across the "
            "checkpoint's levels, alpha 0.05). Postings/query: postings traversed by exhaustive evaluation; df: "
            "posting-list length (over the vocabulary / the query terms).")


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


def _save(fig, path) -> Path:
    """Write a figure atomically (a PNG is never seen half-written) and free it."""
    import matplotlib.pyplot as plt

    from esplade_eval._io import atomic_file

    path = Path(path)
    with atomic_file(path, "wb") as fh:
        fig.savefig(fh, dpi=120, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path


def _figure(width=6.4, height=4.8, ncols=1):
    from matplotlib.figure import Figure  # no pyplot: no global state, Agg canvas on save

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(1, ncols)


#: the narrowest effectiveness range a Pareto plot shows: smaller differences stay visibly small
MIN_Y_SPAN = 0.05


def plot_pareto(table, path: str | os.PathLike, x: str = "postings_mean", y: str | None = None,
                title: str | None = None, min_span: float = MIN_Y_SPAN) -> Path:
    """Effectiveness (``y``, default the first measure column) against cost (``x``), one
    marker series per checkpoint, each point labelled by its level (``†``: significantly
    different from its checkpoint's first level); the Pareto front over all points is drawn
    as a dashed step line. The y axis spans at least ``min_span`` (0.05), so a +0.0002
    change does not fill the plot like a trend. Writes a PNG and returns its path."""
    if x not in table.columns:
        raise EspladeError(f"column {x!r} not in the table ({', '.join(table.columns)})")
    if y is None:
        measures = table_measures(table)
        if not measures:
            raise EspladeError("the table has no effectiveness column (was it built with qrels?)")
        y = measures[0]
    fig, ax = _figure()
    for ck, part in table.groupby("checkpoint", sort=False):
        part = part.sort_values(x)
        ax.plot(part[x], part[y], marker="o", label=str(ck))
        for _, row in part.iterrows():
            mark = "†" if bool(row.get(f"{y} reject", False)) else ""
            ax.annotate(f"{row['level']}{mark}", (row[x], row[y]), textcoords="offset points", xytext=(4, 4),
                        fontsize=8)
    ax.set_ylim(*_y_limits(table[y], min_span))
    front = table[pareto_front(table[x], table[y])].sort_values(x)
    ax.step(front[x], front[y], where="post", linestyle="--", color="grey", linewidth=1, label="Pareto front")
    if (table[x] > 0).all() and table[x].max() / max(table[x].min(), 1e-12) > 20:
        ax.set_xscale("log")
    ax.set_xlabel({"postings_mean": "mean postings traversed per query (exhaustive)",
                   "flops": "FLOPS (expected multiplications per query-document pair)"}.get(x, x))
    ax.set_ylabel(y)
    ax.set_title(title or f"{y} vs retrieval cost")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


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
    fig, (left, right) = _figure(11, 4.5, ncols=2)
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
    return _save(fig, path)
