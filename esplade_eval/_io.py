"""Atomic output: write under a temporary name beside the target, rename when complete.

A crash, a Ctrl-C or an input error part-way through leaves no file or folder under
the final name, so nothing half-written ever looks complete.

``tempfile`` creates its files 0600 and folders 0700 (private while being written); before
the rename they get the mode an ordinary ``open``/``mkdir`` would have given them under the
user's umask (0644 / 0755 under the usual 022), so collaborators and web servers can read
runs, manifests, plots and submissions.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import IO, Iterator

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask (read by setting it and restoring it at once, under a lock)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _publish_mode(path: str | os.PathLike, directory: bool = False) -> None:
    """Give a temporary file (0600) or folder (0700) the mode ``open``/``mkdir`` would give."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


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
        _publish_mode(tmp)
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
        _publish_mode(tmp, directory=True)
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


class Closing:
    """A resource used as ``with Resource(...) as r:``: entering gives itself, leaving calls
    its ``close()`` (searchers, readers, writers)."""

    def close(self) -> None:  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def is_gzip(path: str | os.PathLike) -> bool:
    """True when the file starts with gzip's magic bytes (whatever its name)."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_text(path: str | os.PathLike) -> IO[str]:
    """Open a UTF-8 text file for reading (a leading BOM dropped), gunzipping it when it is
    gzip (detected from its magic bytes, not its name)."""
    if is_gzip(path):
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig")


def numbered_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """``(1-based line number, line without its end-of-line)`` for every non-blank line of a
    text file (:func:`open_text`: gzip and a BOM handled): what every line reader loops over,
    so its messages can name ``path:line``."""
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield lineno, line


def json_line(path: str | os.PathLike, lineno: int, line: str) -> dict:
    """One JSON-lines record as a dict; an error naming ``path:lineno`` when it is not one."""
    import json

    from esplade_eval.errors import InputError

    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"malformed JSON: {exc.msg} (column {exc.colno})", line=lineno) from None
    if not isinstance(obj, dict):
        raise InputError(path, f"expected a JSON object, found {type(obj).__name__}", line=lineno)
    return obj


def write_json(path: str | os.PathLike, obj, indent: int = 2, ensure_ascii: bool = True, default=None) -> None:
    """Write ``obj`` as indented JSON with a final newline, atomically: every JSON file the
    toolkit writes goes through here (manifests, records, statistics, training states)."""
    import json

    with atomic_file(path) as fh:
        json.dump(obj, fh, indent=indent, ensure_ascii=ensure_ascii, default=default)
        fh.write("\n")
