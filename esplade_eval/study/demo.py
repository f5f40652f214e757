"""The demo: :func:`~esplade_eval.study.flow.run_flow` plus the tables a user reads."""

from __future__ import annotations

import time

from esplade_eval import defaults
from esplade_eval.artifacts import COLLECTION_DIR, EXPORT_MANIFEST, FlowLayout
from esplade_eval.study.flow import DEFAULT_LEVELS, run_flow


def run_demo(out, checkpoint="splade-tiny", levels=None, split="test", threads=None, measures=defaults.MEASURES,
             collection=None, registry=None, max_length=defaults.MAX_LENGTH, echo=print):
    """The flow for one checkpoint on ``collection`` (a spec, default Semanlink), then the tables."""
    started = time.perf_counter()
    result = run_flow(out, checkpoint=checkpoint, levels=levels or DEFAULT_LEVELS, split=split, threads=threads,
                      collection=collection, registry=registry, max_length=max_length, echo=echo)
    table = effectiveness_table(result, measures)
    echo(f"\ncollection {result.collection.name}, {split} split, checkpoint {checkpoint}\n")
    echo(table)
    layout = FlowLayout(out)
    cost_started = time.perf_counter()
    echo(cost_section(result, layout.plots))
    result.timings["cost"] = time.perf_counter() - cost_started
    echo("\nartifacts:")
    echo(f"  collection : {result.collection.root} (corpus.jsonl, topics.*.tsv, qrels.*.txt, collection.json)")
    echo(f"  vectors    : {layout.vectors('<level>')}/ ({COLLECTION_DIR}/*.jsonl, "
         f"{layout.queries('<level>', split).name}, {EXPORT_MANIFEST})")
    echo(f"  indexes    : {layout.index('<level>')}/")
    echo(f"  runs       : {layout.run(split, '<level>')}")
    echo(f"  qrels      : {result.qrels}")
    echo(f"  plots      : {layout.plots}/pareto.png, posting_lengths.png")
    echo(f"\ntotal {time.perf_counter() - started:.1f}s "
         + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()))
    return result


def effectiveness_table(result, measures) -> str:
    """Every pruning level against the first (normally unpruned) one: paired t-tests, Holm.

    Every level searched the same topics, so a query a strictly pruned level finds nothing for
    (common on small collections) is paired at 0, the harness's rule for unanswered queries."""
    from esplade_eval.evaluate import Evaluator, compare

    evaluation = Evaluator(result.qrels, list(measures), topics=result.topics).evaluate(
        {name: str(run) for name, run in result.runs.items()})
    report = compare(evaluation, baseline=next(iter(result.runs)), correction="holm", missing="zero")
    return report.to_markdown()


def cost_section(result, plots, measures=defaults.COST_MEASURES) -> str:
    """Effectiveness beside retrieval cost per level (``esplade_eval.cost``), plus two PNG plots."""
    from pathlib import Path

    from esplade_eval.cost.report import cost_table, plot_pareto, plot_posting_lengths

    table = cost_table(result, measures=measures)
    plot_pareto(table, Path(plots) / "pareto.png")
    plot_posting_lengths(table, Path(plots) / "posting_lengths.png")
    return cost_text(table)


def cost_text(table) -> str:
    """The demo's cost table: :func:`~esplade_eval.cost.render.render_cost_table`, as ``cost-table`` prints it."""
    from esplade_eval.cost.render import render_cost_table

    return ("\neffectiveness vs cost (single-thread latency of top-1000; `esplade-eval cost-table` renders the same "
            "table, with --all-columns for the rest)\n\n" + render_cost_table(table).rstrip("\n"))
