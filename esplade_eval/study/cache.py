"""Stage artifacts keyed by what produced them: complete or absent, never half-written.

A stage's **key** is the SHA-256 of its kind, its config slice, the keys of the stages it
reads, the fingerprints of its input files and the **code version** of what it runs: the
``.py`` sources of every package module reachable through imports (lazy ones included)
from the modules the stage calls, plus its runner's source. A change to ``cost/``
re-measures cost but retrains no model; a change to anything training imports does. Its folder is ``<work>/stages/<kind>/<name>-<key prefix>``, written
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

PACKAGE = Path(__file__).resolve().parent.parent
RECORD = "record.json"

#: the modules each kind of stage calls; its code version covers everything they import
ENTRY = {
    "vocab": ("esplade_eval.train.texts", "esplade_eval.train.vocab"),
    "pretrain": ("esplade_eval.train.pretrain",),
    "finetune": ("esplade_eval.train.finetune",),
    "flow": ("esplade_eval.study.flow",),
    "bm25": ("esplade_eval.lucene.bm25", "esplade_eval.data.trec"),
    "dense": ("esplade_eval.study.references",),
    "evaluate": ("esplade_eval.evaluate.metrics",),
    "cost": ("esplade_eval.cost.report",),
}


def _module_file(name: str) -> Path | None:
    parts = name.split(".")[1:]
    base = PACKAGE.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=None)
def _imports(name: str) -> frozenset[str]:
    """Modules of the package that ``name`` imports, at module level or inside a function."""
    import ast

    path = _module_file(name)
    if path is None:
        return frozenset()
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {f"{node.module}.{a.name}" if _module_file(f"{node.module}.{a.name}") else node.module
                      for a in node.names}
    return frozenset(m for m in found if m.startswith("esplade_eval.") and _module_file(m))


def closure(entries) -> list[str]:
    """Every package module reachable from ``entries`` through imports (lazy ones included)."""
    seen, todo = set(), list(entries)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_imports(name))
    return sorted(seen)


@lru_cache(maxsize=None)
def code_version(kind: str) -> str:
    """SHA-256 over the sources of every module a stage of ``kind`` runs, and its runner."""
    import inspect

    from esplade_eval.study import runners

    h = hashlib.sha256()
    for name in closure(ENTRY[kind]):
        path = _module_file(name)
        h.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(inspect.getsource(runners.RUNNERS[kind]).encode())
    return h.hexdigest()


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
    return digest({"kind": stage.kind, "params": stage.params, "deps": {d.name: d.key for d in stage.deps},
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

    def __init__(self, work: str | os.PathLike):
        self.work = Path(work)
        self.root = self.work / "stages"

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
