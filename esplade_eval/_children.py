"""Child processes (Anserini's JVM) that never outlive the command that started them.

A child runs in its own process group, so it can be stopped whole, and on Linux it is
also asked to receive SIGKILL when its parent dies (``PR_SET_PDEATHSIG``): even a parent
killed with SIGKILL leaves no JVM behind. When the block using the child ends with an
exception (an error, Ctrl-C, or a SIGTERM turned into :class:`~esplade_eval.errors.Interrupted`
by :func:`install_stop_handlers`), the group gets SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from typing import Iterator, Sequence

from esplade_eval.errors import Interrupted, stop_signals

GRACE_SECONDS = 5.0
_LIVE: set[subprocess.Popen] = set()  # children started here that have not been waited for
_LIVE_LOCK = threading.Lock()


def _death_signal_setter():
    """A function for the child (between fork and exec) that asks the kernel for SIGKILL when
    the parent dies; None off Linux. libc is looked up here, in the parent: the child only calls."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def set_death_signal() -> None:
        prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return set_death_signal


@contextlib.contextmanager
def child_process(cmd: Sequence[str], **popen) -> Iterator[subprocess.Popen]:
    """``subprocess.Popen(cmd, **popen)`` in its own process group, stopped with the block.

    On a normal exit of the block the child is waited for; on an exception it is stopped
    (SIGTERM to its group, SIGKILL after :data:`GRACE_SECONDS`) before the exception goes on.
    """
    setter = _death_signal_setter()
    extra = {"preexec_fn": setter} if setter is not None else {}
    proc = subprocess.Popen(list(cmd), start_new_session=True, **extra, **popen)
    with _LIVE_LOCK:
        _LIVE.add(proc)
    try:
        yield proc
        proc.wait()
    except BaseException:
        stop(proc)
        raise
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(proc)
        for stream in (proc.stdout, proc.stderr, proc.stdin):
            if stream is not None:
                stream.close()


def stop(proc: subprocess.Popen, grace: float = GRACE_SECONDS) -> None:
    """Stop ``proc``'s process group: SIGTERM, then SIGKILL when it lingers past ``grace``."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def stop_all() -> None:
    """Stop every child this process started through :func:`child_process` that still runs,
    whichever thread started it: a stop signal reaches the main thread only, while children
    started by worker threads (one JVM per shard being indexed) would run on to the end."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for proc in live:
        stop(proc)


def run_child(cmd: Sequence[str], **popen) -> subprocess.CompletedProcess:
    """Like ``subprocess.run(cmd, capture_output=True, text=True)``, in a stoppable group."""
    with child_process(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen) as proc:
        out, err = proc.communicate()
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def install_stop_handlers() -> None:
    """SIGTERM and SIGHUP raise :class:`Interrupted` (as SIGINT raises KeyboardInterrupt), so a
    stopped command cleans up like a failed one. Main thread only (else a no-op)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for sig in stop_signals():
        signal.signal(sig, _raise_interrupted)
