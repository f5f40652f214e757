"""Outputs that never look complete before they are.

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

Reading inputs is :mod:`esplade_eval._read`'s.
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
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Iterator

from esplade_eval.errors import OutputBusyError, stop_signals

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


# --- files ----------------------------------------------------------------------------

def link_or_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Hard-link ``src`` to ``dst`` (no copy of the data); copy where linking fails (another filesystem)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def write_json(path: str | os.PathLike, obj, indent: int = 2, ensure_ascii: bool = True, default=None) -> None:
    """Write ``obj`` as indented JSON with a final newline, atomically: every JSON file the
    toolkit writes goes through here (manifests, records, statistics, training states)."""
    import json

    with atomic_file(path) as fh:
        json.dump(obj, fh, indent=indent, ensure_ascii=ensure_ascii, default=default)
        fh.write("\n")


def write_page(text: str, path: str | os.PathLike | None = None) -> None:
    """A generated page (the CLI or config reference) written atomically to ``path``, or to stdout."""
    if path is None:
        sys.stdout.write(text)
        return
    with atomic_file(path) as fh:
        fh.write(text)
