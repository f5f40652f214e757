"""Stages run concurrently: ``jobs`` worker processes, each stage started once its dependencies are done.

The same records, keys, cache, resume and failure handling as the serial engine
(:func:`esplade_eval.study.engine.execute`): a worker runs
:func:`~esplade_eval.study.running.run_stage` exactly as the serial loop does, so a stage's
folder still appears only when complete (renamed from its temporary folder), a failure is
still recorded beside it, and a failed stage's dependants are skipped. What changes is
only the order in which independent stages finish; the outcome lists them in plan order.

Workers are spawned (never forked: torch and the JVM do not survive a fork), live for the
whole run (one JVM and one torch per worker, loaded once) and run each stage with its own
``threads`` as the serial engine does. A cached stage is recognised here, in the parent,
without a worker. On Ctrl-C or SIGTERM the workers are terminated (a worker turns SIGTERM
into :class:`~esplade_eval.errors.Interrupted`, so its temporary folder is removed and its
child JVMs stopped) and waited for before the exception goes on: the work folder's lock is
released only when no worker writes any more, and nothing half-written looks complete.

A stage whose kind times something (``EXCLUSIVE``: ``cost``, which measures search latency)
runs alone, with no other stage beside it, so that its latency is not measured against a
training run for the two cores.
"""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

log = logging.getLogger(__name__)

_WORKER: dict = {}  # in a worker process: the store and context every stage of the run shares
BLOCKING = ("failed", "skipped")
TERMINATE_GRACE_S = 10.0


def _start_worker(store, ctx, parent: int, log_level: int | None) -> None:
    """Worker initialiser: the shared store and context; the parent's log level (lines marked with
    the worker's name); SIGTERM/SIGHUP raise ``Interrupted``, and the parent's death (even by
    SIGKILL) sends SIGTERM (Linux), so no worker outlives its run."""
    import os
    import signal

    from esplade_eval._children import install_stop_handlers

    if log_level is not None:
        logging.basicConfig(level=log_level, datefmt="%H:%M:%S",
                            format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s")
    install_stop_handlers()
    setter = _death_signal(signal.SIGTERM)
    if setter is not None:
        setter()
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
    _WORKER.update(store=store, ctx=ctx)


def _death_signal(signum: int):
    """A function asking the kernel for ``signum`` when this process's parent dies; None off Linux."""
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, int(signum))  # PR_SET_PDEATHSIG


def _new_pool(jobs: int, store, ctx) -> ProcessPoolExecutor:
    import multiprocessing
    import os

    root = logging.getLogger()
    level = root.level if root.handlers else None  # the CLI's logging set-up, else none
    return ProcessPoolExecutor(jobs, multiprocessing.get_context("spawn"), _start_worker,
                               (store, ctx, os.getpid(), level))


def _run_in_worker(stage) -> tuple[str, float, str | None]:
    """One stage in a worker: its status, seconds and error (the parent keeps its own Stage objects)."""
    from esplade_eval.study.running import run_stage

    result = run_stage(stage, _WORKER["store"], _WORKER["ctx"])
    return result.status, result.seconds, result.error


def exclusive(stage) -> bool:
    """A stage that times something (``EXCLUSIVE`` in its kind: ``cost`` measures latency) runs alone."""
    from esplade_eval.study.stages import KINDS

    return bool(getattr(KINDS[stage.kind], "EXCLUSIVE", False))


class Scheduler:
    """Which stages are ready, running and done; stages in plan order, dependencies by identity."""

    def __init__(self, stages: list):
        self.pending = list(stages)
        self.planned = {id(s) for s in stages}
        self.status: dict[int, str] = {}
        self.uncached: set[int] = set()  # ready, not in the cache, waiting for a worker

    def blocked_by(self, stage) -> list[str]:
        return [d.label for d in stage.deps if self.status.get(id(d)) in BLOCKING]

    def ready(self, stage) -> bool:
        """Every dependency done (a dependency outside the plan counts as done, as in the serial loop)."""
        return all(id(d) not in self.planned or id(d) in self.status for d in stage.deps)


def execute_concurrently(stages: list, store, ctx, jobs: int, progress: bool = True):
    """Every stage of ``stages`` (keys assigned) on ``jobs`` spawned workers; the
    :class:`~esplade_eval.study.running.Outcome`, its results in plan order."""
    import time

    from tqdm.auto import tqdm

    from esplade_eval.study.running import Outcome

    started = time.perf_counter()
    results: dict[int, object] = {}
    bar = tqdm(total=len(stages), unit="stage", disable=not progress, dynamic_ncols=True, desc="study")
    pool = _new_pool(jobs, store, ctx)
    run = _Run(pool, store, ctx, jobs, results, bar)
    try:
        _drive(Scheduler(stages), run)
    except BaseException:
        _terminate(run.pool)
        raise
    finally:
        bar.close()
    run.pool.shutdown(wait=True)
    outcome = Outcome([results[id(s)] for s in stages])
    outcome.wall_s = time.perf_counter() - started
    return outcome


class _Run:
    """The state of one concurrent run: its pool, running futures, results and bar."""

    def __init__(self, pool, store, ctx, jobs, results, bar):
        self.pool, self.store, self.ctx, self.jobs, self.results, self.bar = pool, store, ctx, jobs, results, bar
        self.running: dict[Future, object] = {}

    def finish(self, sched: Scheduler, result) -> None:
        sched.status[id(result.stage)] = result.status
        self.results[id(result.stage)] = result
        statuses = [r.status for r in self.results.values()]
        self.bar.set_postfix(ran=statuses.count("ran"), cached=statuses.count("cached"),
                             failed=sum(s in BLOCKING for s in statuses))
        self.bar.update(1)

    def free_for(self, stage) -> bool:
        """A worker is free, and neither ``stage`` nor a running stage must run alone."""
        if len(self.running) >= self.jobs or any(exclusive(s) for s in self.running.values()):
            return False
        return not (self.running and exclusive(stage))

    def describe(self) -> None:
        labels = sorted(s.label for s in self.running.values())
        self.bar.set_description(" | ".join(labels) if labels else "study")


def _drive(sched: Scheduler, run: _Run) -> None:
    """Start what is ready (plan order first), wait for one stage to finish, repeat."""
    from esplade_eval.study.running import StageResult

    while sched.pending or run.running:
        for stage in list(sched.pending):
            if not sched.ready(stage):
                continue
            blocked = sched.blocked_by(stage)
            if blocked:
                result = StageResult(stage, "skipped", error=f"needs {', '.join(blocked)}")
            elif id(stage) not in sched.uncached and run.store.record(stage) is not None:
                result = StageResult(stage, "cached")
            elif run.free_for(stage):
                result = None
                run.running[run.pool.submit(_run_in_worker, stage)] = stage
            else:
                sched.uncached.add(id(stage))  # checked once; it waits for a free worker
                continue
            sched.pending.remove(stage)
            if result is not None:
                run.finish(sched, result)
        if not run.running:
            if sched.pending and not any(sched.ready(s) for s in sched.pending):
                raise RuntimeError(f"{sched.pending[0].label}: its dependencies never complete (a cycle?)")
            continue
        run.describe()
        done, _ = wait(run.running, return_when=FIRST_COMPLETED)
        for future in done:
            run.finish(sched, _result(run.running.pop(future), future))
        _replace_if_broken(run)


def _result(stage, future: Future):
    """The stage's result from its future; a worker that died (killed, out of memory) fails the stage."""
    from esplade_eval.study.running import StageResult

    try:
        status, seconds, error = future.result()
    except BrokenProcessPool as exc:
        log.error("%s failed: its worker process died (%s)", stage.label, exc)
        return StageResult(stage, "failed", error=f"worker process died: {exc}")
    return StageResult(stage, status, seconds, error)


def _replace_if_broken(run: _Run) -> None:
    """A pool whose worker died refuses new work: the stages it still ran have failed; start a fresh pool."""
    if not getattr(run.pool, "_broken", False):
        return
    run.pool.shutdown(wait=True, cancel_futures=True)
    run.pool = _new_pool(run.jobs, run.store, run.ctx)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop every worker (SIGTERM, then SIGKILL after a grace) and wait for each to exit."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    for proc in processes:
        proc.join(TERMINATE_GRACE_S)
        if proc.is_alive():
            proc.kill()
            proc.join()
    pool.shutdown(wait=False, cancel_futures=True)
