"""The study grid: several checkpoints x several test-time pruning levels, through Lucene.

For every checkpoint the flow runs (export once, prune to each level, index, search; see
:mod:`esplade_eval.study.flow`), then one table puts effectiveness beside the cost read
from each index (postings traversed, FLOPS, posting-length variance, latency:
:mod:`esplade_eval.cost.report`), and at every level the checkpoints are compared with
paired t-tests against the first one (Holm across checkpoints). This is the question of
the ESPLADE pre-training study: under the strictest pruning, do the more effective models
traverse more postings, with posting-list lengths that vary more?

>>> run_grid({"splade": "splade-tiny", "mine": "ckpt/esplade-ft"}, "artifacts/grid",   # doctest: +SKIP
...          results="results/grid")
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Mapping, Sequence

from esplade_eval import defaults
from esplade_eval.sparse.prune import Pruning
from esplade_eval.study.demo import reference_cost_markdown
from esplade_eval.study.flow import DEFAULT_LEVELS, run_flow

log = logging.getLogger(__name__)

def run_grid(checkpoints: Mapping[str, str], out: str | os.PathLike, levels: Sequence[Pruning] = DEFAULT_LEVELS,
             split: str = "test", threads: int | None = None, max_length: int = defaults.MAX_LENGTH,
             measures: Sequence[str] = defaults.COST_MEASURES, passes: int = defaults.LATENCY_PASSES,
             results: str | os.PathLike | None = None,
             collection=None, registry=None, echo=print, progress: bool | None = None,
             references: Sequence[str] = ()) -> dict:
    """Run (or resume) the grid into ``out``; write ``<results>.md/.json`` and plots when asked.

    ``checkpoints`` maps a display name to a checkpoint (folder or name). ``collection`` is a
    prepared collection or a spec (:func:`~esplade_eval.data.collection.load_collection`),
    prepared once into ``out/data``; default the bundled Semanlink titles. ``references``: reference
    rows (``bm25``, ``dense``, ``hybrid``: :func:`esplade_eval.study.demo.reference_runs`, the
    hybrid over the first checkpoint's first level) in a table of their own. Returns
    ``{"table": DataFrame, "comparisons": {level: Report}, "markdown": str, "collection": Collection}``.
    """
    from esplade_eval.cost.render import render_cost_table
    from esplade_eval.cost.report import cost_table, plot_pareto, plot_posting_lengths
    from esplade_eval.evaluate import Evaluator, compare
    from esplade_eval.study.flow import resolve_collection

    if not checkpoints:
        raise ValueError("no checkpoints to run")
    out = Path(out)
    started = time.perf_counter()
    collection = resolve_collection(collection, out, registry, echo)
    collection.require_split(split)
    flows = []
    for name, checkpoint in checkpoints.items():
        echo(f"grid: {name} ({checkpoint})")
        flows.append(run_flow(out / name, checkpoint=checkpoint, levels=levels, split=split, threads=threads,
                              max_length=max_length, collection=collection, name=name, echo=echo,
                              progress=progress))
    table = cost_table(flows, measures=measures, passes=passes, progress=progress)

    evaluator = Evaluator(collection.qrels(split), list(measures), topics=collection.topics(split))
    comparisons = {}
    if len(flows) > 1:
        for level in [p.name for p in levels]:
            evaluation = evaluator.evaluate({f.name: str(f.levels[level].run) for f in flows})
            # every checkpoint searched the same topics: a query without hits pairs at 0
            comparisons[level] = compare(evaluation, baseline=flows[0].name, correction="holm", missing="zero")

    lines = [f"# Checkpoints x pruning levels ({collection.name}, {split} split)", "",
             f"Collection {collection.name}: {collection.summary['documents']:,} documents, "
             f"{len(evaluator.queries):,} evaluated queries (fingerprint {collection.fingerprint[:12]}).", "",
             f"{len(flows)} checkpoints x {len(levels)} levels; max length {max_length}; impacts rint x100; "
             f"postings traversed = sum of the query terms' posting-list lengths (exhaustive evaluation); "
             f"df = posting-list length; latency = single-thread top-1000, median of {passes} passes.", "",
             render_cost_table(table), ""]
    refs = _references(flows[0], out, references, threads, measures)
    if refs:
        lines += [reference_cost_markdown(refs, measures).strip(), ""]
    for level, report in comparisons.items():
        lines += [f"## Level {level}: checkpoints vs {flows[0].name}", "", report.to_markdown(), ""]
    lines.append(f"Wall time {time.perf_counter() - started:.0f} s (artifacts reused where their manifests matched).")
    markdown = "\n".join(lines) + "\n"
    if results:
        from esplade_eval._io import atomic_file, write_json

        results = Path(results)
        with atomic_file(results.with_suffix(".md")) as fh:
            fh.write(markdown)
        frame = table.drop(columns=[c for c in table.columns if table[c].dtype == object and c not in
                                    ("checkpoint", "level")])
        write_json(results.with_suffix(".json"), {
            "checkpoints": dict(checkpoints), "levels": [p.name for p in levels], "split": split,
            "collection": {**collection.provenance(), "summary": collection.summary},
            "table": json.loads(frame.to_json(orient="index")),
            "comparisons": {lv: json.loads(r.to_json()) for lv, r in comparisons.items()},
            "references": refs,
        })
        plots = results.parent / f"{results.name}_plots"
        plot_pareto(table, plots / "pareto.png", references={
            name: (row.get("multiply_adds_per_query"), row[measures[0]]) for name, row in refs.items()
            if name in ("bm25", "dense")})
        plot_posting_lengths(table, plots / "posting_lengths.png")
    return {"table": table, "comparisons": comparisons, "markdown": markdown, "collection": collection,
            "references": refs}


def _references(flow, out, references, threads, measures) -> dict:
    """``{name: {measure: mean, costs}}`` of the reference rows asked for (none by default)."""
    if not references:
        return {}
    from esplade_eval.study.demo import reference_costs, reference_runs

    return reference_costs(flow, reference_runs(flow, out, tuple(references), threads), measures)
