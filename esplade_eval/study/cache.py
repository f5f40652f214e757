"""Stage artifacts keyed by what produced them: complete or absent, never half-written.

A stage's **key** is the SHA-256 of its kind, its config slice (its ``Params``), the keys of
the stages it reads, the fingerprints of its input files, its kind's explicit ``VERSION``
and the package version (:func:`code_version`; the kinds are
:data:`esplade_eval.study.stages.KINDS`). Its folder is ``<work>/stages/<kind>/<name>-<key prefix>``, written
under a temporary name and renamed when complete, with ``record.json`` (key, inputs,
timings, outputs) inside: a folder that exists is a complete artifact, so a study killed
at any point (SIGKILL included) leaves either nothing or a complete stage, and the next
run resumes. A failure is recorded beside it (``<name>-<key prefix>.failed.json``) and
retried by the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from esplade_eval.errors import EspladeError
from esplade_eval.study.stages.base import RECORD


def code_version(kind: str) -> dict:
    """What stands for a stage's code in its key: its kind's explicit ``VERSION`` (bumped when its
    results change) and the package version. No source is hashed: editing a message, a comment or a
    docstring re-plans nothing."""
    from esplade_eval import __version__
    from esplade_eval.study.stages import KINDS


    return {"version": KINDS[kind].VERSION, "package": __version__}


@lru_cache(maxsize=None)
def _file_sha(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_fingerprint(path: str | os.PathLike) -> str:
    """SHA-256 of a file's content (memoised per size and modification time)."""
    st = os.stat(path)
    return _file_sha(os.fspath(path), st.st_size, st.st_mtime_ns)


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(eq=False)
class Stage:
    """One unit of work of the plan; ``key`` is set by :func:`assign_keys`."""

    kind: str
    name: str
    params: dict
    deps: tuple["Stage", ...] = ()
    inputs: dict = field(default_factory=dict)
    system: str | None = None
    seed: int | None = None
    level: str | None = None
    key: str = ""

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


def stage_key(stage: Stage) -> str:
    names = [d.name for d in stage.deps]  # two dependencies of one name (a parity stage's) are told apart by kind
    deps = {d.name if names.count(d.name) == 1 else f"{d.kind} {d.name}": d.key for d in stage.deps}
    return digest({"kind": stage.kind, "params": stage.params, "deps": deps,
                   "inputs": stage.inputs, "code": code_version(stage.kind)})


def assign_keys(stages: list[Stage]) -> None:
    """Keys in plan order (a stage's dependencies come before it)."""
    for stage in stages:
        missing = [d.label for d in stage.deps if not d.key]
        if missing:
            raise EspladeError(f"{stage.label}: dependencies {missing} come later in the plan")
        stage.key = stage_key(stage)


class StageStore:
    """The stage folders of one study's work directory."""

    def __init__(self, work: str | os.PathLike, folder: str = "stages"):
        self.work = Path(work)
        self.root = self.work / folder  # a study's stages/, a flow folder's flow-stages/

    def folder(self, stage: Stage) -> Path:
        return self.root / stage.kind / f"{stage.name}-{stage.key[:16]}"

    def _failure(self, stage: Stage) -> Path:
        return self.root / stage.kind / f"{stage.name}-{stage.key[:16]}.failed.json"

    def record(self, stage: Stage) -> dict | None:
        """The complete record of ``stage`` under its current key, or None."""
        path = self.folder(stage) / RECORD
        if not path.is_file():
            return None
        record = json.loads(path.read_text(encoding="utf-8"))
        return record if record.get("key") == stage.key and record.get("status") == "complete" else None

    def failure(self, stage: Stage) -> dict | None:
        path = self._failure(stage)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    @contextlib.contextmanager
    def writing(self, stage: Stage) -> Iterator[Path]:
        """A temporary folder that becomes the stage's folder when the block succeeds."""
        from esplade_eval._io import atomic_dir

        with atomic_dir(self.folder(stage), overwrite=True) as tmp:
            yield tmp

    def write_failure(self, stage: Stage, record: dict) -> None:
        from esplade_eval._io import write_json

        write_json(self._failure(stage), record)

    def clear_failure(self, stage: Stage) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._failure(stage).unlink()

    def sweep(self) -> list[Path]:
        """Remove temporary folders and files a killed run left (call under :meth:`locked`)."""
        removed = []
        if not self.root.is_dir():
            return removed
        for kind in self.root.iterdir():
            for path in kind.glob(".*.tmp") if kind.is_dir() else []:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def history(self, kind: str) -> list[dict]:
        """Every complete record of ``kind`` in this work folder (any key): measured throughputs."""
        folder = self.root / kind
        out = []
        for path in sorted(folder.glob(f"*/{RECORD}")) if folder.is_dir() else []:
            with contextlib.suppress(OSError, json.JSONDecodeError):
                out.append(json.loads(path.read_text(encoding="utf-8")))
        return out

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One study process per work folder at a time."""
        self.work.mkdir(parents=True, exist_ok=True)
        with open(self.work / ".lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise EspladeError(f"{self.work}: another study is running in this work folder") from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
