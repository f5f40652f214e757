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
        ray.init(address=address, **options)
    return ray, True


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
