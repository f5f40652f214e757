"""Checkpoints' flows as ``flow`` stages of the engine: how the grid and the demo run them.

Each checkpoint's flow (export once, prune to each level, index, search) is a stage of kind
``flow`` (:mod:`esplade_eval.study.stages.flow`) in ``OUT/flow-stages/flow/<name>-<key>/``, keyed
by the checkpoint's content, the collection's fingerprint, the levels and options, the kind's
VERSION: run once, then reused while its key matches (:mod:`esplade_eval.study.engine`).
The demo publishes its one flow in the flow folder's layout (:func:`publish`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from esplade_eval import defaults

#: where a flow folder (the grid's, the demo's) keeps its engine stages: ``OUT/flow-stages/flow/<name>-<key>/``
#: (not ``stages/``, the mark of a study's work folder: :mod:`esplade_eval.guard`)
FLOW_STAGES = "flow-stages"


@dataclass(frozen=True)
class FlowSettings:
    """The flow options every checkpoint of one orchestration shares."""

    levels: Sequence  # Pruning
    split: str = "test"
    threads: int | None = None
    max_length: int = defaults.MAX_LENGTH
    keep_vectors: bool = False  # keep the document vectors (the demo's folder offers them)


def flow_stages(checkpoints: Mapping[str, str], settings: FlowSettings, collection) -> list:
    """A ``flow`` stage per named checkpoint."""
    from esplade_eval.sparse.quantize import Quantizer
    from esplade_eval.study.cache import Stage
    from esplade_eval.study.engine import checkpoint_fingerprint

    stages = []
    for name, checkpoint in checkpoints.items():
        params = {"levels": [p.name for p in settings.levels], "max_length": settings.max_length,
                  "scale": Quantizer().scale, "hits": defaults.HITS, "split": settings.split,
                  "checkpoint": str(checkpoint), "threads": settings.threads or defaults.threads(), "device": None}
        if settings.keep_vectors:
            params["keep_vectors"] = True
        inputs = {"collection": collection.fingerprint, "checkpoint": checkpoint_fingerprint(str(checkpoint))}
        stages.append(Stage("flow", name, params, inputs=inputs, system=name))
    return stages


def run_flow_stages(out: str | os.PathLike, stages: list, collection, progress=None, echo=print, jobs: int = 1) -> list:
    """Run (or reuse) ``stages`` in ``out/flow-stages/``, ``jobs`` at a time; a
    :class:`~esplade_eval.study.flow.FlowResult` each."""
    from esplade_eval.study.cache import StageStore
    from esplade_eval.study.engine import opened, require_success, run_stages
    from esplade_eval.study.stages import Context

    store = StageStore(out, FLOW_STAGES)
    with opened(store, echo):
        outcome = run_stages(stages, store, Context(None, collection, store), progress=bool(progress), jobs=jobs)
    require_success(outcome)
    return [flow_result(store.folder(stage), stage, collection) for stage in stages]


def flow_result(folder: Path, stage, collection):
    """The :class:`~esplade_eval.study.flow.FlowResult` of a complete flow stage (its typed ``Outputs``)."""
    from esplade_eval.sparse.prune import Pruning
    from esplade_eval.study.flow import FlowResult, LevelArtifacts
    from esplade_eval.study.stages import flow

    outputs = flow.Outputs.load(folder)
    result = FlowResult(collection, stage.params["split"], stage.params["checkpoint"], name=stage.name,
                        timings=dict(outputs.timings_s))
    for level, files in outputs.levels.items():
        paths = {k: Path(folder) / v for k, v in files.items()}
        result.levels[level] = LevelArtifacts(Pruning.parse(level), paths["vectors"], paths["queries"], paths["index"],
                                              paths["run"])
    return result


def publish(result, out: str | os.PathLike):
    """``result``'s levels in the flow folder layout of ``out`` (:class:`~esplade_eval.artifacts.FlowLayout`:
    ``vectors/<level>``, ``indexes/<level>``, ``runs/run.<split>.<level>.txt``), as relative links
    into its stage folder (what an older flow left there is replaced); the result, at those paths."""
    from dataclasses import replace

    from esplade_eval.artifacts import FlowLayout

    layout = FlowLayout(out)
    levels = {}
    for name, lv in result.levels.items():
        targets = {"vectors": layout.vectors(name), "index": layout.index(name), "run": layout.run(result.split, name)}
        for field_name, link in targets.items():
            _link(link, getattr(lv, field_name))
        levels[name] = replace(lv, vectors=targets["vectors"], queries=layout.queries(name, result.split),
                               index=targets["index"], run=targets["run"])
    return replace(result, levels=levels)


def _link(link: Path, target: Path) -> None:
    """``link`` -> ``target`` (relative), replacing a file, folder or link there."""
    import shutil

    if link.is_symlink() and Path(os.readlink(link)) == Path(os.path.relpath(target, link.parent)):
        return
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(target, link.parent), link)
