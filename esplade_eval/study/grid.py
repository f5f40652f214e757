"""The study grid: several checkpoints x several test-time pruning levels, through Lucene.

For every checkpoint the flow runs as a stage of the study's engine (:mod:`esplade_eval.study.engine`;
export once, prune to each level, index, search: the ``flow`` stage kind, in
``out/flow-stages/flow/<name>-<key>/``, reused while its key matches), then one table puts effectiveness beside the cost read
from each index (postings traversed, FLOPS, posting-length variance, latency:
:mod:`esplade_eval.cost.report`), and at every level the checkpoints are compared with
paired t-tests against the first one (Holm across checkpoints). This is the question of
the ESPLADE pre-training study: under the strictest pruning, do the more effective models
traverse more postings, with posting-list lengths that vary more?

>>> run_grid(GridJob({"splade": "splade-tiny", "mine": "ckpt/esplade-ft"}, "artifacts/grid",  # doctest: +SKIP
...                  results="results/grid"))
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from esplade_eval import defaults
from esplade_eval.sparse.prune import Pruning
from esplade_eval.study.demo import reference_cost_markdown
from esplade_eval.study.flow import DEFAULT_LEVELS

log = logging.getLogger(__name__)

@dataclass
class GridJob:
    """What a grid runs: ``checkpoints`` maps a display name to a checkpoint (folder or name), the
    first the baseline. ``collection`` is a prepared collection or a spec
    (:func:`~esplade_eval.data.collection.load_collection`), prepared once into ``out/data``;
    default the bundled Semanlink titles. ``references``: reference rows (``bm25``, ``dense``,
    ``hybrid``: :func:`esplade_eval.study.demo.reference_runs`, the hybrid over the first
    checkpoint's first level) in a table of their own. ``results``: write ``<results>.md/.json``
    and ``<results>_plots/``."""

    checkpoints: Mapping[str, str]
    out: str | os.PathLike
    levels: Sequence[Pruning] = DEFAULT_LEVELS
    split: str = "test"
    threads: int | None = None
    max_length: int = defaults.MAX_LENGTH
    measures: Sequence[str] = defaults.COST_MEASURES
    passes: int = defaults.LATENCY_PASSES
    results: str | os.PathLike | None = None
    collection: object = None
    registry: str | None = None
    progress: bool | None = None
    references: Sequence[str] = ()
    jobs: int = 1  # checkpoints' flows run at once, each in a worker process (the engine's pool)


def run_flows(job: GridJob, echo=print) -> tuple[object, list]:
    """The collection and a :class:`~esplade_eval.study.flow.FlowResult` per checkpoint, each
    flow a stage of the engine in ``out/flow-stages/`` (:mod:`.flowstages`)."""
    from esplade_eval.study.flow import resolve_collection
    from esplade_eval.study.flowstages import FlowSettings, flow_stages, run_flow_stages

    if not job.checkpoints:
        raise ValueError("no checkpoints to run")
    collection = resolve_collection(job.collection, Path(job.out), job.registry, echo)
    collection.require_split(job.split)
    stages = flow_stages(job.checkpoints, FlowSettings(job.levels, job.split, job.threads, job.max_length), collection)
    for stage in stages:
        echo(f"grid: {stage.name} ({stage.params['checkpoint']})")
    return collection, run_flow_stages(job.out, stages, collection, job.progress, echo, job.jobs)


def run_grid(job: GridJob, echo=print) -> dict:
    """Run (or resume) the grid into ``job.out``; write ``<results>.md/.json`` and plots when asked.

    Returns ``{"table": DataFrame, "comparisons": {level: Report}, "markdown": str,
    "collection": Collection, "references": {name: row}}``.
    """
    from esplade_eval.cost.report import cost_table

    started = time.perf_counter()
    collection, flows = run_flows(job, echo)
    table = cost_table(flows, measures=job.measures, passes=job.passes, progress=job.progress)
    comparisons = _comparisons(job, collection, flows)
    refs = _references(flows[0], job.out, job.references, job.threads, job.measures)
    markdown = grid_markdown(job, collection, table, comparisons, refs, time.perf_counter() - started)
    if job.results:
        _write_results(job, collection, table, comparisons, refs, markdown)
    return {"table": table, "comparisons": comparisons, "markdown": markdown, "collection": collection,
            "references": refs}


def _comparisons(job: GridJob, collection, flows) -> dict:
    """Per level, every checkpoint against the first: paired t-tests, Holm."""
    from esplade_eval.evaluate import Evaluator, compare

    if len(flows) < 2:
        return {}
    evaluator = Evaluator(collection.qrels(job.split), list(job.measures), topics=collection.topics(job.split))
    comparisons = {}
    for level in [p.name for p in job.levels]:
        evaluation = evaluator.evaluate({f.name: str(f.levels[level].run) for f in flows})
        # every checkpoint searched the same topics: a query without hits pairs at 0
        comparisons[level] = compare(evaluation, baseline=flows[0].name, correction="holm", missing="zero")
    return comparisons


def grid_markdown(job: GridJob, collection, table, comparisons, refs, seconds: float) -> str:
    from esplade_eval.cost.render import render_cost_table
    from esplade_eval.evaluate import Evaluator

    queries = Evaluator(collection.qrels(job.split), list(job.measures), topics=collection.topics(job.split)).queries
    first = next(iter(job.checkpoints))
    lines = [f"# Checkpoints x pruning levels ({collection.name}, {job.split} split)", "",
             f"Collection {collection.name}: {collection.summary['documents']:,} documents, "
             f"{len(queries):,} evaluated queries (fingerprint {collection.fingerprint[:12]}).", "",
             f"{len(job.checkpoints)} checkpoints x {len(job.levels)} levels; max length {job.max_length}; impacts "
             f"rint x100; postings traversed = sum of the query terms' posting-list lengths (exhaustive evaluation); "
             f"df = posting-list length; latency = single-thread top-1000, median of {job.passes} passes.", "",
             render_cost_table(table), ""]
    if refs:
        lines += [reference_cost_markdown(refs, job.measures).strip(), ""]
    for level, report in comparisons.items():
        lines += [f"## Level {level}: checkpoints vs {first}", "", report.to_markdown(), ""]
    lines.append(f"Wall time {seconds:.0f} s (flow stages reused where their keys matched).")
    return "\n".join(lines) + "\n"


def _write_results(job: GridJob, collection, table, comparisons, refs, markdown: str) -> None:
    from esplade_eval._io import atomic_file, write_json
    from esplade_eval.cost.plots import plot_pareto, plot_posting_lengths

    results = Path(job.results)
    with atomic_file(results.with_suffix(".md")) as fh:
        fh.write(markdown)
    frame = table.drop(columns=[c for c in table.columns if table[c].dtype == object and c not in
                                ("checkpoint", "level")])
    write_json(results.with_suffix(".json"), {
        "checkpoints": dict(job.checkpoints), "levels": [p.name for p in job.levels], "split": job.split,
        "collection": {**collection.provenance(), "summary": collection.summary},
        "table": json.loads(frame.to_json(orient="index")),
        "comparisons": {lv: json.loads(r.to_json()) for lv, r in comparisons.items()},
        "references": refs,
    })
    plots = results.parent / f"{results.name}_plots"
    plot_pareto(table, plots / "pareto.png", references={
        name: (row.get("multiply_adds_per_query"), row[job.measures[0]]) for name, row in refs.items()
        if name in ("bm25", "dense")})
    plot_posting_lengths(table, plots / "posting_lengths.png")


def _references(flow, out, references, threads, measures) -> dict:
    """``{name: {measure: mean, costs}}`` of the reference rows asked for (none by default)."""
    if not references:
        return {}
    from esplade_eval.study.demo import reference_costs, reference_runs

    return reference_costs(flow, reference_runs(flow, out, tuple(references), threads), measures)
