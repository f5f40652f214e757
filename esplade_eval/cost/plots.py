"""The cost report's figures: effectiveness against cost with its Pareto front, and the
posting-length distributions per level (drawn and saved through :mod:`esplade_eval._format`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from esplade_eval._format import DAGGER, figure, save_figure
from esplade_eval.cost.render import table_measures
from esplade_eval.errors import EspladeError


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
