"""Outputs that never look complete before they are, inputs that fail with ``path:line: problem``.

**Atomic output.** Write under a temporary name beside the target, rename when complete: a
crash, a Ctrl-C, a SIGTERM or an input error part-way through leaves no file or folder under
the final name, so nothing half-written ever looks complete.

**Claims.** Every writer of a target first takes an exclusive claim on it: a ``flock`` on a
hidden ``.NAME.lock`` beside it, held until the output is renamed into place. A second
process writing the same target fails at once with :class:`OutputBusyError` naming the
holder, instead of both running and one silently replacing the other's work; with
``overwrite`` the complete output of the one writer replaces the old one whole, never a
mixture. The kernel drops a ``flock`` when its process dies, however it dies, so a claim
never outlives its writer; temporaries that a killed writer left (``.NAME.xxxxxxxx.tmp``)
are removed, and reported, by the next writer of the same target, which holds the claim and
so knows nobody is using them.

**Signals.** The rename that publishes an output (and moves an old one aside) runs with
SIGINT and SIGTERM deferred (:func:`deferred_signals`), so a signal never lands between
moving the old output away and putting the new one in place.

``tempfile`` creates its files 0600 and folders 0700 (private while being written); before
the rename they get the mode an ordinary ``open``/``mkdir`` would have given them under the
user's umask (0644 / 0755 under the usual 022), so collaborators and web servers can read
runs, manifests, plots and submissions.

**Reading.** :func:`open_text` is the one way text inputs are read: UTF-8 (a leading BOM
dropped), gzip recognised by its magic bytes whatever the name, and every fault of the
bytes (not UTF-8, UTF-16, a NUL, a byte-order mark inside the file, truncated or corrupt
gzip) an :class:`~esplade_eval.errors.InputError` naming the file and line.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import IO, Iterator

from esplade_eval.errors import InputError, OutputBusyError, stop_signals

log = logging.getLogger("esplade_eval")
_UMASK_LOCK = threading.Lock()
#: the signals whose delivery waits while an output is being published
DEFERRED_SIGNALS = stop_signals()


def current_umask() -> int:
    """The process umask (read by setting it and restoring it at once, under a lock)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _publish_mode(path: str | os.PathLike, directory: bool = False) -> None:
    """Give a temporary file (0600) or folder (0700) the mode ``open``/``mkdir`` would give."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


# --- signals --------------------------------------------------------------------------

@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP back for the duration of the block, then deliver them.

    Only the main thread can change handlers; elsewhere the block runs as is (a signal is
    handled in the main thread anyway). A signal that arrived is raised again, once, after
    the block, to whatever handler was in place before.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {s: signal.getsignal(s) for s in DEFERRED_SIGNALS}
    for s in DEFERRED_SIGNALS:
        signal.signal(s, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        if pending:
            signal.raise_signal(pending[0])


# --- claims ---------------------------------------------------------------------------

def _lock_path(path: Path) -> Path:
    return path.parent / f".{path.name}.lock"


def _temporaries(path: Path) -> list[Path]:
    """Temporaries of ``path`` that :func:`atomic_file`/:func:`atomic_dir` create (``.NAME.xxxxxxxx.tmp``,
    ``.NAME.xxxxxxxx.old``), matched exactly so that another target's never are."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.(tmp|old)")
    try:
        return sorted(p for p in path.parent.iterdir() if pattern.fullmatch(p.name))
    except FileNotFoundError:
        return []


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
    except OSError:
        text = []
    if len(text) >= 3:
        return f"process {text[0]} on {text[1]}, since {text[2]}"
    return "another process"


@contextlib.contextmanager
def claim(path: str | os.PathLike) -> Iterator[list[Path]]:
    """Hold the exclusive claim on writing ``path``; yields the stale temporaries removed.

    Raises :class:`OutputBusyError` at once when another process holds it. The claim is a
    ``flock`` on ``.NAME.lock`` beside ``path`` (the file is removed on release; the lock
    itself dies with its process, so a killed writer never blocks the next one).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = _lock_path(path)
    fd = _acquire(lock, path)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode(), 0)
        stale = _temporaries(path)
        for leftover in stale:
            log.warning("%s: removing %s, left by an interrupted run", path, leftover.name)
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        yield stale
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
        os.close(fd)


def check_unclaimed(path: str | os.PathLike) -> None:
    """:class:`OutputBusyError` when another process holds the claim on ``path`` now.

    A cheap early check (nothing is taken or created), so a command fails before its slow
    part (loading a model, starting a JVM); the claim itself is taken when the output is written.
    """
    import fcntl

    lock = _lock_path(Path(path))
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OutputBusyError(path, f"being written by {_holder(fd)}; wait for it to finish, or write elsewhere "
                                    f"(lock: {lock.name})") from None
    finally:
        os.close(fd)


def _acquire(lock: Path, path: Path) -> int:
    import fcntl

    patience = time.monotonic() + 0.25  # a check_unclaimed elsewhere holds a shared lock for microseconds
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            if time.monotonic() < patience:
                time.sleep(0.01)
                continue
            raise OutputBusyError(path, f"being written by {holder}; wait for it to finish, or write elsewhere "
                                        f"(lock: {lock.name})") from None
        # the holder before us removes the lock file on release: make sure ours is still it
        try:
            current = os.stat(lock)
        except FileNotFoundError:
            os.close(fd)
            continue
        mine = os.fstat(fd)
        if (mine.st_dev, mine.st_ino) == (current.st_dev, current.st_ino):
            return fd
        os.close(fd)


# --- atomic outputs -------------------------------------------------------------------

@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8",
                overwrite: bool = True) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it to ``path`` only on success.

    The writer holds the claim on ``path`` throughout (:func:`claim`). ``overwrite=False``
    refuses an existing ``path`` before anything is written. A ``.gz`` suffix writes gzip
    (text or binary following ``mode``).
    """
    path = Path(path)
    with claim(path):
        if not overwrite and path.exists():
            raise FileExistsError(f"{path}: already exists (pass --overwrite to replace it)")
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
            with deferred_signals():
                if not overwrite and path.exists():
                    raise FileExistsError(f"{path}: appeared while this run was writing it; not replaced")
                os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; it becomes ``path`` only on success.

    The writer holds the claim on ``path`` throughout (:func:`claim`): a concurrent writer
    fails at once. With ``overwrite`` an existing ``path`` is replaced after the new one is
    complete; without it an existing ``path`` is an error before any work is done (and
    still at the end, should another program have created it meanwhile).
    """
    path = Path(path)
    with claim(path):
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path}: already exists (pass --overwrite to replace it)")
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        try:
            yield tmp
            _publish_mode(tmp, directory=True)
            with deferred_signals():
                _publish_dir(tmp, path, overwrite)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


@contextlib.contextmanager
def no_empty_folder_left(folder: str | os.PathLike) -> Iterator[Path]:
    """Run the block; when it fails and ``folder``, absent before it, is left empty, remove it:
    an output folder that a failed command created (to hold claims and levels) leaves nothing."""
    folder = Path(folder)
    created = not folder.exists()
    try:
        yield folder
    except BaseException:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        raise


def _publish_dir(tmp: Path, path: Path, overwrite: bool) -> None:
    """Rename ``tmp`` to ``path``; an existing ``path`` is moved aside first and removed after."""
    if not (path.exists() or path.is_symlink()):
        os.replace(tmp, path)
        return
    if not overwrite:
        raise FileExistsError(f"{path}: appeared while this run was writing it (by a program that takes no "
                              "claim); not replaced")
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
    os.rmdir(old)
    os.replace(path, old)
    os.replace(tmp, path)
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()


class Closing:
    """A resource used as ``with Resource(...) as r:``: entering gives itself, leaving calls
    its ``close()`` (searchers, readers, writers)."""

    def close(self) -> None:  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- reading --------------------------------------------------------------------------

def is_gzip(path: str | os.PathLike) -> bool:
    """True when the file starts with gzip's magic bytes (whatever its name)."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def link_or_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Hard-link ``src`` to ``dst`` (no copy of the data); copy where linking fails (another filesystem)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class TextReader(Closing):
    """Lines of a UTF-8 text file, plain or gzip, with every fault of the bytes an
    :class:`~esplade_eval.errors.InputError` naming the line (see :func:`open_text`).

    Lines are split on ``\\n`` only (``\\r\\n`` becomes ``\\n``) and decoded one at a time,
    so an undecodable byte is reported on its own line, not somewhere in an 8 KiB block.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self.line = 0
        if os.path.isdir(self.path):
            raise InputError(self.path, "is a folder, expected a file")
        raw = open(self.path, "rb")
        try:
            head = raw.peek(4)[:4]
        except OSError:
            raw.close()
            raise
        self.gzip = head[:2] == b"\x1f\x8b"
        self._fh = gzip.GzipFile(fileobj=raw, mode="rb") if self.gzip else raw
        self._raw = raw
        if head[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff") or head[:2] in _UTF16_BOMS:
            self.close()
            raise InputError(self.path, "UTF-16/32 text (byte-order mark): convert the file to UTF-8", line=1)

    def __iter__(self) -> Iterator[str]:
        lines = iter(self._fh)
        while True:
            try:
                raw = next(lines)
            except StopIteration:
                return
            except (EOFError, zlib.error, OSError) as exc:  # gzip.BadGzipFile is an OSError
                raise InputError(self.path, f"truncated or corrupt gzip data: {exc}", line=self.line + 1) from None
            self.line += 1
            yield self._decode(raw)

    def _decode(self, raw: bytes) -> str:
        if self.line == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            column = len(raw[:exc.start].decode("utf-8", "replace")) + 1
            raise InputError(self.path, f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {column} "
                                        "(convert the file to UTF-8)", line=self.line) from None
        if "\x00" in text:
            raise InputError(self.path, f"NUL byte at column {text.index(chr(0)) + 1} (a binary file, or "
                                        "UTF-16 text?)", line=self.line)
        if text.startswith("\ufeff"):
            raise InputError(self.path, "byte-order mark inside the file (files joined together?)", line=self.line)
        return text[:-2] + "\n" if text.endswith("\r\n") else text

    def read(self) -> str:
        """The rest of the file as one string (checked line by line)."""
        return "".join(self)

    def close(self) -> None:
        self._fh.close()
        self._raw.close()


def open_text(path: str | os.PathLike) -> TextReader:
    """Open a UTF-8 text file for reading line by line (a leading BOM dropped), gunzipping it
    when it is gzip (detected from its magic bytes, not its name); see :class:`TextReader`.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.tsv")
    >>> _ = open(p, "wb").write(b"q1\\tok\\nq2\\tcaf\\xe9\\n")
    >>> [line for line in open_text(p)]
    Traceback (most recent call last):
    ...
    esplade_eval.errors.InputError: ...t.tsv:2: not UTF-8: byte 0xe9 at column 7 (convert the file to UTF-8)
    """
    return TextReader(path)


def read_json(path: str | os.PathLike, what: str = "JSON file") -> dict:
    """A JSON object from ``path`` (plain or gzip), every fault an :class:`InputError`:
    missing, empty, not UTF-8, malformed (with its line), not an object."""
    try:
        with open_text(path) as fh:
            text = fh.read()
    except FileNotFoundError:
        raise InputError(path, f"{what} not found") from None
    if not text.strip():
        raise InputError(path, f"empty {what}")
    import json

    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"malformed JSON in the {what}: {exc.msg} (column {exc.colno})", line=exc.lineno) from None
    if not isinstance(obj, dict):
        raise InputError(path, f"the {what} must hold a JSON object, found {type(obj).__name__}")
    return obj


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
