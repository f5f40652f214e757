"""Connecting to Ray: a local instance sized to this machine, or a running cluster.

``address``:

* ``None``: ``$RAY_ADDRESS`` when set, else a new local instance;
* ``"local"``: always a new local instance (never attach to a cluster by surprise), with
  ``num_cpus`` logical CPUs (default: this machine's cores) and a small object store;
* anything else is handed to ``ray.init``: ``"auto"`` (the cluster ``ray start --head``
  started on this machine), ``"HOST:6379"``, ``"ray://HOST:10001"`` (Ray Client).

A process that is already connected (a test session, a notebook) is reused as it is.

A process that already runs a JVM (pyjnius: an in-process searcher, postings reader) must
not become a Ray driver: Ray's core worker then replaces the JVM's SIGSEGV handler with its
own failure handler, and the JVM, which uses that signal in normal operation, crashes the
process later (Ray's own Java worker turns the handler off for this reason). So
:func:`connect` refuses, and every Ray verb here keeps the JVM out of the driver: actors and
child processes start theirs after Ray's handler is in place, which is safe.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Iterator

from esplade_eval.errors import EspladeError, InputError

LOCAL = "local"
RAY_VERSION = "2.60.0"  # pinned in setup.cfg (extra "ray", installed by `make install`)
OBJECT_STORE_MB = 256  # a local instance's shared-memory object store: blocks of titles, not tensors


def ray_module():
    """``import ray``, or an error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise EspladeError(f"Ray is not installed: pip install 'ray=={RAY_VERSION}' "
                           "(or `pip install -e '.[ray]'`; `make install` does it)") from None
    return ray


def connect(address: str | None = None, num_cpus: int | None = None, object_store_mb: int = OBJECT_STORE_MB):
    """Initialise Ray (see the module doc for ``address``); returns ``(ray, started)``.

    ``started`` is True when this call started or attached, so the caller shuts it down.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report from an offline machine
    ray = ray_module()
    if ray.is_initialized():
        return ray, False
    if jvm_running():
        raise EspladeError("this process already runs a JVM (Lucene through pyjnius); Ray would replace the "
                           "signal handler the JVM relies on and crash it: start Ray in another process "
                           "(e.g. the esplade-eval verbs with --ray), before any Lucene call")
    address = address or os.environ.get("RAY_ADDRESS") or LOCAL
    options = {"include_dashboard": False, "logging_level": logging.WARNING}
    if address == LOCAL:
        ray.init(address=LOCAL, num_cpus=num_cpus or os.cpu_count() or 1,
                 object_store_memory=object_store_mb * 2 ** 20, **options)
    else:
        probe(address)
        with deadline(CONNECT_SECONDS, f"Ray cluster {address}: no answer within {CONNECT_SECONDS}s"):
            ray.init(address=address, **options)
    return ray, True


#: how long connecting to a Ray cluster may take before it is an error (Ray itself retries for minutes)
CONNECT_SECONDS = 25
PROBE_SECONDS = 10.0


def probe(address: str, timeout: float = PROBE_SECONDS) -> None:
    """An :class:`EspladeError` when ``HOST:PORT`` (or ``ray://HOST:PORT``) takes no TCP
    connection within ``timeout``: nothing listens there, so Ray would retry for minutes."""
    import socket

    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and other forms: Ray answers those at once
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as exc:
        raise EspladeError(f"Ray cluster {address}: no answer ({exc.strerror or exc or 'timed out'}); is a Ray "
                           "head running there? (ray start --head; or --ray alone for a local instance)") from None


@contextlib.contextmanager
def deadline(seconds: int, message: str) -> Iterator[None]:
    """Raise :class:`EspladeError` ``message`` when the block runs longer than ``seconds``
    (a SIGALRM timer: main thread only; elsewhere the block runs unbounded)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        raise EspladeError(message)

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def session(address: str | None = None, num_cpus: int | None = None) -> Iterator:
    """``with session(addr) as ray:`` connected for the block, shut down after it if this call connected."""
    ray, started = connect(address, num_cpus)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def jvm_running() -> bool:
    """Whether pyjnius has started a JVM in this process."""
    import sys

    config = sys.modules.get("jnius_config")
    return bool(config is not None and getattr(config, "vm_running", False))


def cluster_counts(ray) -> tuple[int, int]:
    """``(CPUs, GPUs)`` of the connected cluster (logical resources)."""
    res = ray.cluster_resources()
    return int(res.get("CPU", 0)), int(res.get("GPU", 0))


def unwrap(exc: BaseException) -> BaseException:
    """The user's exception inside a Ray task error (so ``path:line`` messages survive)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def task_error(exc: BaseException, what: str) -> BaseException:
    """What to raise for a failed Ray task: the task's own :class:`InputError` as it is (a
    corrupt shard or a bad collection line keeps its ``path:line: problem`` and exit status 2),
    else an :class:`EspladeError` saying ``what`` failed."""
    cause = unwrap(exc)
    return cause if isinstance(cause, InputError) else EspladeError(f"{what}: {cause}")
