"""Atomic output: write under a temporary name beside the target, rename when complete.

A crash, a Ctrl-C or an input error part-way through leaves no file or folder under
the final name, so nothing half-written ever looks complete.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it to ``path`` only on success.

    A ``.gz`` suffix writes gzip (text or binary following ``mode``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    binary = "b" in mode
    try:
        if path.suffix == ".gz":
            fh = gzip.open(tmp, mode if binary else mode.replace("t", "") + "t", encoding=None if binary else encoding)
        else:
            fh = open(tmp, mode, encoding=None if binary else encoding)
        with fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; it becomes ``path`` only on success.

    With ``overwrite`` an existing ``path`` is replaced after the new one is complete;
    without it an existing ``path`` is an error before any work is done.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists (pass overwrite to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.rmdir(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def open_text(path: str | os.PathLike) -> IO[str]:
    """Open a text file for reading, transparently gunzipping ``.gz``."""
    path = os.fspath(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def write_json(path: str | os.PathLike, obj, indent: int = 2) -> None:
    """Write ``obj`` as indented JSON with a final newline, atomically."""
    import json

    with atomic_file(path) as fh:
        json.dump(obj, fh, indent=indent)
        fh.write("\n")
