"""Text renderings of cost results: the postings statistics of an index, a cost summary,
the effectiveness-vs-cost table (Markdown for readers, CSV and JSON with every column).

>>> print(kv_table({"queries": 174, "postings_mean": 243.0, "flops": 0.1234567}))
|               |   value |
|:--------------|--------:|
| queries       |     174 |
| postings_mean |     243 |
| flops         |  0.1235 |
"""

from __future__ import annotations

import numpy as np

from esplade_eval._format import DAGGER, MISSING, fixed, missing, signed
from esplade_eval._format import compact as number  # the cost tables' cells (study.demo imports it from here)
from esplade_eval.errors import EspladeError


def table_measures(table) -> list[str]:
    """The effectiveness columns of a cost table (the measures, without their test columns)."""
    return [c for c in table.columns if f"{c} delta" in table.columns]


def kv_table(values: dict) -> str:
    """A two-column markdown table of ``{name: value}``."""
    import pandas as pd

    return pd.DataFrame({"value": {k: number(v) for k, v in values.items()}}).to_markdown(
        colalign=["left", "right"], disable_numparse=True)


def render_query_set_cost(summary: dict) -> str:
    """:func:`~esplade_eval.cost.report.query_set_cost`'s aggregate as a table; for a sharded
    index, what its latency is made of is said below it (too long for a cell)."""
    text = kv_table({k: v for k, v in summary.items() if k != "latency_model"})
    if "latency_model" in summary:
        text += f"\n\nlatency of a sharded index = {summary['latency_model'].removeprefix('sharded: ')}"
    return text


def render_postings(stats: dict) -> str:
    """Markdown tables of :func:`~esplade_eval.cost.stats.postings_statistics`: the index, the
    posting-length spread (vocabulary | query terms), the top terms."""
    import pandas as pd

    head = {k: stats[k] for k in ("terms", "postings", "total_impact", "documents", "documents_indexed",
                                  "empty_documents", "mean_vector_length", "mean_vector_impact", "index_bytes")}
    parts = [f"index {stats['index']}", "", kv_table(head)]
    cols = {"vocabulary": stats["posting_lengths"]}
    if "queries" in stats:
        cols["query terms"] = stats["queries"]["posting_lengths"]
    frame = pd.DataFrame({name: {k: number(v) for k, v in col.items()} for name, col in cols.items()})
    parts += ["", "posting-list lengths (df)", "",
              frame.to_markdown(colalign=["left"] + ["right"] * len(cols), disable_numparse=True)]
    if "queries" in stats:
        q = stats["queries"]
        parts += ["", f"queries: {q['queries']} ({q['empty_queries']} empty), {q['distinct_terms']} distinct terms, "
                      f"{q['terms_missing']} absent from the index"]
    if stats.get("top_terms"):
        parts += ["", pd.DataFrame(stats["top_terms"]).to_markdown(index=False, floatfmt=".4g")]
    return "\n".join(parts)


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
        lines.append("| " + " | ".join(cells + [cell(row[c]) for c in labels]) + " |")
    note = _significance_note(table)
    return "\n".join(lines + ([""] + [note] if note else [])) + "\n"


def _measure_cell(row, measure: str, digits: int) -> str:
    text = fixed(row[measure], digits)  # NaN: no run for this level
    delta = row.get(f"{measure} delta")
    if text != MISSING and not missing(delta):
        text += f" ({signed(delta, digits)})" + (DAGGER if bool(row.get(f"{measure} reject")) else "")
    return text


def cell(value) -> str:
    """A cost table's cell: integers with thousands separators, other numbers to 4 significant
    digits (large ones whole), NaN as '–'."""
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if value != value:
        return MISSING
    return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def _significance_note(table) -> str:
    baselines = table.attrs.get("baselines") or {}
    if not table_measures(table) or not baselines:
        return ""
    base = ", ".join(f"{b}" for b in baselines.values())
    return (f"Δ = level − first level of its checkpoint ({base}); † = significant (paired t-test, Holm across the "
            "checkpoint's levels, alpha 0.05). Postings/query: postings traversed by exhaustive evaluation; df: "
            "posting-list length (over the vocabulary / the query terms).")
