"""One stage run or reused, and the outcome of a run: what the serial engine (:mod:`.engine`) and the
pool of workers (:mod:`.pool`) share, so that both write the same records and report alike."""

from __future__ import annotations

import logging
import platform
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone

from esplade_eval.study.cache import RECORD, Stage, StageStore, code_version

log = logging.getLogger("esplade_eval.study.engine")


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
