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
import logging
import platform
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone

from esplade_eval.study.cache import RECORD, Stage, StageStore, assign_keys, code_version, digest, file_fingerprint

log = logging.getLogger(__name__)


@dataclass
class StageResult:
    stage: Stage
    status: str  # "ran" | "cached" | "failed" | "skipped"
    seconds: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict:
        s = self.stage
        return {"kind": s.kind, "name": s.name, "key": s.key, "status": self.status, "seconds": round(self.seconds, 2),
                "error": self.error}


@dataclass
class Outcome:
    results: list[StageResult] = field(default_factory=list)
    wall_s: float = 0.0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[StageResult]:
        return [r for r in self.results if r.status in ("failed", "skipped")]

    @property
    def ok(self) -> bool:
        return not self.failed

    def describe(self) -> str:
        return (f"{len(self.results)} stages: {self.count('ran')} ran, {self.count('cached')} cached, "
                f"{self.count('failed')} failed, {self.count('skipped')} skipped; {self.wall_s:.0f} s")


def _record(stage: Stage, started: str, seconds: float, outputs: dict) -> dict:
    return {"kind": stage.kind, "name": stage.name, "key": stage.key, "status": "complete", "system": stage.system,
            "seed": stage.seed, "level": stage.level, "params": stage.params,
            "deps": {d.label: d.key for d in stage.deps}, "inputs": stage.inputs,
            "code": code_version(stage.kind),
            "started": started, "seconds": round(seconds, 2), "host": platform.node(),
            "platform": platform.platform(), "outputs": outputs}


def run_stage(stage: Stage, store: StageStore, ctx) -> StageResult:
    """Reuse the stage's complete artifact, or produce it (a failure is recorded, not raised)."""
    from esplade_eval._io import write_json
    from esplade_eval.study.stages import run_stage as run_kind

    if store.record(stage) is not None:
        return StageResult(stage, "cached")
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    try:
        with store.writing(stage) as tmp:
            outputs = run_kind(stage, tmp, ctx).to_dict()
            write_json(tmp / RECORD, _record(stage, started, time.perf_counter() - t0, outputs))
    except Exception as exc:  # a failing cell: recorded, the rest of the grid continues
        seconds = time.perf_counter() - t0
        error = f"{type(exc).__name__}: {exc}"
        log.error("%s failed: %s", stage.label, error)
        store.write_failure(stage, {"kind": stage.kind, "name": stage.name, "key": stage.key, "started": started,
                                    "seconds": round(seconds, 2), "error": error,
                                    "traceback": traceback.format_exc().splitlines()[-30:]})
        return StageResult(stage, "failed", seconds, error)
    store.clear_failure(stage)
    return StageResult(stage, "ran", time.perf_counter() - t0)


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
