"""What each artifact is called: file names, run names and tags, and the ``NAME=PATH`` rule
of the command line (:func:`split_named`, :func:`named`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

from esplade_eval.errors import EspladeError

EXPORT_MANIFEST = "manifest.json"
INDEX_MANIFEST = "esplade_eval.json"
COLLECTION_DIR = "collection"
RUN_SUFFIXES = (".gz", ".txt", ".trec", ".run")


def _name_between(path: str | os.PathLike, prefix: str, suffixes: tuple[str, ...], default: str) -> str:
    """A file name without ``suffixes`` (removed right to left) and ``prefix``; ``default`` if nothing is left."""
    stem = Path(path).name
    for suffix in suffixes:
        stem = stem.removesuffix(suffix)
    return stem.removeprefix(prefix) or default


def topics_name(topics: str | os.PathLike) -> str:
    """The name a topics file gives its queries and runs: ``topics.test.tsv`` -> ``test``."""
    return _name_between(topics, "topics.", (".gz", ".tsv", ".txt"), "topics")


def queries_file(name: str) -> str:
    """``queries.<name>.jsonl``: the pre-encoded queries of topics ``name`` in a level folder."""
    return f"queries.{name}.jsonl"


def queries_name(path: str | os.PathLike) -> str:
    """Inverse of :func:`queries_file` (``queries.test.jsonl`` -> ``test``; another file: its stem)."""
    return _name_between(path, "queries.", (".gz", ".jsonl", ".json"), "queries")


def shard_file_name(shard: int) -> str:
    """``docs00000.jsonl``: collection file ``shard`` of a level's ``collection/`` (one per
    ``--shard-size`` documents)."""
    return f"docs{shard:05d}.jsonl"


def shard_name(i: int) -> str:
    """``shard-000``: the folder of shard ``i`` inside a sharded index."""
    return f"shard-{i:03d}"


def run_file(name: str, level: str) -> str:
    """``run.<name>.<level>.txt``: the run of queries ``name`` on the index of ``level``."""
    return f"run.{name}.{level}.txt"


def run_tag(level: str) -> str:
    """The TREC run tag of a search on the index of ``level`` (whitespace-free)."""
    return "esplade_" + "_".join(str(level).split())


def default_run(source: str | os.PathLike, index: str | os.PathLike, folder: str | os.PathLike = "runs") -> Path:
    """Where a search writes its run when not told: ``runs/run.<name>.<index folder>.txt``,
    ``<name>`` the topics' or queries' name (``queries.test.jsonl``, ``topics.test.tsv``:
    ``test``), so ``esplade-eval search`` names a run as the flow does."""
    name = queries_name(source) if Path(source).name.startswith("queries.") else topics_name(source)
    return Path(folder) / run_file(name, Path(index).resolve().name)


def run_name(path: str | os.PathLike) -> str:
    """A run's short name: its file name without ``.txt``/``.gz``/``.trec``/``.run``."""
    stem = Path(path).name
    for suffix in RUN_SUFFIXES:
        stem = stem.removesuffix(suffix)
    return stem or os.fspath(path)


def split_named(text: str | os.PathLike) -> tuple[str | None, str]:
    """``NAME=VALUE`` -> ``(NAME, VALUE)``; anything else (a path may hold ``=``) -> ``(None, text)``."""
    text = os.fspath(text)
    name, sep, value = text.partition("=")
    if sep and name and value and not Path(text).exists():
        return name, value
    return None, text


def named(items: Iterable[str | os.PathLike], default: Callable[[str], str] = run_name,
          what: str = "run") -> dict[str, str]:
    """``{name: value}`` for ``NAME=VALUE`` or plain values, the one rule of every verb that
    names its inputs (runs, checkpoints, levels).

    A plain value is named by ``default`` (a run: its file name); when two plain values get
    the same name, each is named by its text as given. Two inputs with one name are an error.

    >>> named(["runs/bm25.txt", "full=runs/a.txt", "x/run.txt", "y/run.txt"])
    {'bm25': 'runs/bm25.txt', 'full': 'runs/a.txt', 'x/run.txt': 'x/run.txt', 'y/run.txt': 'y/run.txt'}
    """
    pairs = [split_named(item) for item in items]
    defaults = [default(value) for name, value in pairs if name is None]
    out: dict[str, str] = {}
    for name, value in pairs:
        if name is None:
            name = default(value)
            name = name if defaults.count(name) == 1 else value
        if name in out:
            raise EspladeError(f"two {what}s have the same name {name!r} ({out[name]}, {value}): "
                               f"give each a unique name as NAME={what.upper()}")
        out[name] = value
    return out
