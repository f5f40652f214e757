"""The demo: one checkpoint's flow on the engine (:mod:`.flowstages`), published in the flow
folder's layout, plus the tables a user reads."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from esplade_eval import defaults
from esplade_eval.artifacts import COLLECTION_DIR, EXPORT_MANIFEST, FlowLayout
from esplade_eval.study.flow import DEFAULT_LEVELS

#: the reference rows a demo adds by default (``--references``): BM25, dense, and dense + sparse fusion
REFERENCES = ("bm25", "dense", "hybrid")


@dataclass
class DemoJob:
    """What a demo runs: the flow for one ``checkpoint`` on ``collection`` (a spec, default
    Semanlink) into ``out``, the reference rows named in ``references`` (``bm25``, ``dense``,
    ``hybrid``: dense + the first level fused as Pyserini's HybridSearcher does), then the tables."""

    out: str | os.PathLike
    checkpoint: str = "splade-tiny"
    levels: Sequence | None = None
    split: str = "test"
    threads: int | None = None
    measures: Sequence[str] = defaults.MEASURES
    collection: object = None
    registry: str | None = None
    max_length: int = defaults.MAX_LENGTH
    references: Sequence[str] = REFERENCES


def run_demo(job: DemoJob, echo=print):
    """Run (or resume) the demo of ``job``; print its tables; the :class:`~esplade_eval.study.flow.FlowResult`."""
    out, split, checkpoint, threads, references = job.out, job.split, job.checkpoint, job.threads, job.references
    started = time.perf_counter()
    result = demo_flow(job, echo)
    ref_started = time.perf_counter()
    extra = reference_runs(result, out, references, threads)
    if extra:
        result.timings["references"] = time.perf_counter() - ref_started
    table = effectiveness_table(result, job.measures, extra)
    echo(f"\ncollection {result.collection.name}, {split} split, checkpoint {checkpoint}\n")
    echo(table)
    layout = FlowLayout(out)
    cost_started = time.perf_counter()
    echo(cost_section(result, layout.plots, references=extra))
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


def demo_flow(job: DemoJob, echo=print):
    """The checkpoint's flow as a ``flow`` stage of the engine (``OUT/flow-stages/flow/``, reused while
    its key matches), published in the flow folder's layout of ``OUT`` (:func:`~.flowstages.publish`)."""
    import os

    from esplade_eval.study.flow import resolve_collection
    from esplade_eval.study.flowstages import FlowSettings, flow_stages, publish, run_flow_stages

    collection = resolve_collection(job.collection, Path(job.out), job.registry, echo)
    collection.require_split(job.split)
    settings = FlowSettings(job.levels or DEFAULT_LEVELS, job.split, job.threads, job.max_length, keep_vectors=True)
    name = os.path.basename(os.path.normpath(str(job.checkpoint))) or str(job.checkpoint)
    stages = flow_stages({name: job.checkpoint}, settings, collection)
    t0 = time.perf_counter()
    result = publish(run_flow_stages(job.out, stages, collection, echo=echo)[0], job.out)
    result.name, result.timings = None, {"flow": time.perf_counter() - t0}
    return result


def reference_runs(result, out, references=REFERENCES, threads=None) -> dict:
    """``{name: run}`` of the reference rows: BM25, dense (MiniLM, faiss flat) and the hybrid of
    dense and the first level (:data:`HYBRID`), each made or reused in ``out``."""
    from esplade_eval.study.references import ReferenceJob, bm25_reference, dense_reference

    unknown = set(references) - set(REFERENCES)
    if unknown:
        raise ValueError(f"unknown reference rows {sorted(unknown)}; choose among {', '.join(REFERENCES)}")
    job = ReferenceJob(Path(out), result.collection, result.split, threads=threads or defaults.threads(),
                       progress=False)
    runs = {}
    if "bm25" in references:
        runs["bm25"] = bm25_reference(job).run
    if "dense" in references or "hybrid" in references:
        dense = dense_reference(job).run
        if "dense" in references:
            runs["dense"] = dense
        if "hybrid" in references:
            runs.update(hybrid_run(job, dense, next(iter(result.runs.items()))))
    return runs


#: the demo's dense + sparse fusion: both runs' scores normalised, equal weights (alpha 1)
HYBRID = dict(alpha=1.0, normalization=True)


def hybrid_run(job, dense_run, level) -> dict:
    """``{"dense+<level>": run}``: Pyserini's hybrid fusion of the dense run and a level's run."""
    from esplade_eval.evaluate.fusion import HybridParams, fuse, write_fused

    name = f"dense+{level[0]}"
    path = job.layout.run(job.split, name)
    write_fused(path, fuse([dense_run, level[1]], "hybrid", hits=job.hits, hybrid_params=HybridParams(**HYBRID)),
                tag=name)
    return {name: path}


def effectiveness_table(result, measures, references: dict | None = None) -> str:
    """Every pruning level (and reference row) against the first (normally unpruned) level:
    paired t-tests, Holm.

    Every level searched the same topics, so a query a strictly pruned level finds nothing for
    (common on small collections) is paired at 0, the harness's rule for unanswered queries."""
    from esplade_eval.evaluate import Evaluator, compare

    runs = {**{name: str(run) for name, run in result.runs.items()},
            **{name: str(run) for name, run in (references or {}).items()}}
    evaluation = Evaluator(result.qrels, list(measures), topics=result.topics).evaluate(runs)
    report = compare(evaluation, baseline=next(iter(result.runs)), correction="holm", missing="zero")
    return report.to_markdown()


def cost_section(result, plots, measures=defaults.COST_MEASURES, references: dict | None = None) -> str:
    """Effectiveness beside retrieval cost per level (``esplade_eval.cost``), plus two PNG plots;
    the reference rows' costs (:func:`reference_costs`) below, and their points on the Pareto plot."""
    from esplade_eval.cost.plots import plot_pareto, plot_posting_lengths
    from esplade_eval.cost.report import cost_table

    table = cost_table(result, measures=measures)
    refs = reference_costs(result, references or {}, measures)
    plot_pareto(table, Path(plots) / "pareto.png",
                references={name: (row.get("multiply_adds_per_query"), row[measures[0]]) for name, row in refs.items()
                            if name in ("bm25", "dense")})
    plot_posting_lengths(table, Path(plots) / "posting_lengths.png")
    return cost_text(table) + reference_cost_markdown(refs, measures)


def cost_text(table) -> str:
    """The demo's cost table: :func:`~esplade_eval.cost.render.render_cost_table`, as ``cost --flow`` prints it."""
    from esplade_eval.cost.render import render_cost_table

    return ("\neffectiveness vs cost (single-thread latency of top-1000; `esplade-eval cost --flow` renders the same "
            "table, with --all-columns for the rest)\n\n" + render_cost_table(table).rstrip("\n"))


def reference_costs(result, references: dict, measures) -> dict:
    """``{name: {measure: mean, "multiply_adds_per_query", "latency_ms_p50", ...}}`` of the
    reference runs; costs as the dense search measured them (``search.<split>.json``)."""
    from esplade_eval.evaluate import Evaluator
    from esplade_eval.study.references import read_reference_info

    if not references:
        return {}
    means = Evaluator(result.qrels, list(measures), topics=result.topics).evaluate(
        {name: str(run) for name, run in references.items()}).aggregate()
    out = {}
    for name in references:
        info = read_reference_info(Path(references[name]).parent.parent, name, result.split) or {}
        out[name] = {**{m: float(means.loc[name, m]) for m in measures},
                     **{k: info.get(k) for k in ("multiply_adds_per_query", "latency_ms_p50", "latency_ms_p95",
                                                 "latency_ms_p99")}}
    return out


def reference_cost_markdown(refs: dict, measures) -> str:
    """The reference rows of the cost section (a dense flat index: dimensions x documents
    multiply-adds per query; BM25's postings are not measured here)."""
    if not refs:
        return ""
    import pandas as pd

    from esplade_eval.cost.render import COLUMN_LABELS, MORE_LABELS, number

    labels = {**COLUMN_LABELS, **MORE_LABELS, "multiply_adds_per_query": "multiply-adds/query"}
    frame = pd.DataFrame({labels.get(col, col): {name: number(row.get(col)) for name, row in refs.items()}
                          for col in next(iter(refs.values()))})
    frame.index.name = "reference"
    return ("\n\nreferences (multiply-adds per query: a dense flat index scores every document, dimensions x "
            "documents; single-thread faiss latency of top-1000)\n\n"
            + frame.to_markdown(colalign=["left"] + ["right"] * frame.shape[1], disable_numparse=True))
