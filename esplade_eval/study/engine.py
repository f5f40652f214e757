"""The one engine every orchestration runs on: plan stages, key them, run or reuse them.

A caller (the study, its tuning, the grid) opens its work folder (:func:`opened`: one
process at a time, what a killed run left removed), builds a list of
:class:`~esplade_eval.study.cache.Stage` in dependency order, and :func:`run_stages` keys
them (:func:`~esplade_eval.study.cache.assign_keys`) and runs every stage not already
complete under its key (:func:`execute`: a stage whose record is complete under its key is
reused, any other runs inside a temporary folder renamed when complete): the same cache,
resume and failure handling for every orchestration.
"""

from __future__ import annotations

import contextlib
import time

from esplade_eval.study.cache import Stage, StageStore, assign_keys, digest, file_fingerprint
from esplade_eval.study.running import Outcome, StageResult, run_stage

__all__ = ["Outcome", "StageResult", "run_stage", "execute", "opened", "run_stages", "checkpoint_fingerprint",
           "require_success"]


def execute(stages: list[Stage], store: StageStore, ctx, progress: bool = True, jobs: int = 1) -> Outcome:
    """Every stage in order; dependants of a failed stage are skipped. With ``jobs`` > 1, stages whose
    dependencies are done run at once in that many worker processes (:mod:`.pool`): the same records."""
    from tqdm.auto import tqdm

    if jobs > 1:
        from esplade_eval.study.pool import execute_concurrently

        return execute_concurrently(stages, store, ctx, jobs, progress)

    outcome = Outcome()
    started = time.perf_counter()
    done: dict[int, str] = {}
    bar = tqdm(total=len(stages), unit="stage", disable=not progress, dynamic_ncols=True, desc="study")
    for stage in stages:
        bar.set_description(stage.label)
        blocked = [d.label for d in stage.deps if done.get(id(d)) in ("failed", "skipped")]
        if blocked:
            result = StageResult(stage, "skipped", error=f"needs {', '.join(blocked)}")
        else:
            result = run_stage(stage, store, ctx)
        done[id(stage)] = result.status
        outcome.results.append(result)
        bar.set_postfix(ran=outcome.count("ran"), cached=outcome.count("cached"), failed=len(outcome.failed))
        bar.update(1)
    bar.close()
    outcome.wall_s = time.perf_counter() - started
    return outcome


@contextlib.contextmanager
def opened(store: StageStore, echo=print):
    """The work folder, locked for this process, without the unfinished folders of a killed run."""
    with store.locked():
        swept = store.sweep()
        if swept and echo:
            echo(f"removed {len(swept)} unfinished stage folder(s) of an interrupted run")
        yield store


def run_stages(stages: list[Stage], store: StageStore, ctx, progress: bool = True, jobs: int = 1):
    """Run or reuse ``stages`` (keys assigned here when missing), inside :func:`opened`, ``jobs`` at
    a time; the :class:`Outcome`."""
    if any(not s.key for s in stages):
        assign_keys(stages)
    return execute(stages, store, ctx, progress, jobs)


def checkpoint_fingerprint(checkpoint: str) -> str:
    """What a checkpoint's stages are keyed by: the content of every file of a checkpoint folder,
    or the name of a bundled one (``splade-tiny``: its carrier package is pinned)."""
    import os
    from pathlib import Path

    if not os.path.isdir(checkpoint):
        return f"named: {checkpoint}"
    root = Path(checkpoint)
    return digest({p.relative_to(root).as_posix(): file_fingerprint(p) for p in sorted(root.rglob("*")) if p.is_file()})


def require_success(outcome) -> None:
    """Raise the first failure of ``outcome`` (for orchestrations without a failing-cell report)."""
    from esplade_eval.errors import EspladeError

    if not outcome.ok:
        first = outcome.failed[0]
        raise EspladeError(f"{first.stage.label} failed: {first.error}")
