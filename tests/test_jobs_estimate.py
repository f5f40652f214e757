"""The dry run's wall time with ``jobs`` workers: the pool's scheduling simulated on the estimates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from esplade_eval.study.cache import Stage
from esplade_eval.study.estimate import makespan

ROOT = Path(__file__).resolve().parent.parent


def chains(n: int, length: int) -> list[Stage]:
    """``n`` independent chains of ``length`` stages each, in plan order chain after chain."""
    stages = []
    for c in range(n):
        prev = ()
        for i in range(length):
            stage = Stage("evaluate", f"c{c}.{i}", {}, prev)
            stages.append(stage)
            prev = (stage,)
    return stages


def test_independent_chains_share_the_workers():
    stages = chains(2, 3)
    assert makespan(stages, [1.0] * 6, 1) == 6.0
    assert makespan(stages, [1.0] * 6, 2) == 3.0
    assert makespan(stages, [1.0] * 6, 4) == 3.0  # never shorter than the longest chain


def test_a_long_stage_holds_its_dependants_back():
    stages = chains(1, 2) + chains(1, 1)  # a -> b, and c
    assert makespan(stages, [5.0, 1.0, 2.0], 2) == 6.0  # c beside a; b after a


def test_dry_run_prints_the_wall_time_with_jobs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "esplade_eval", "study", str(ROOT / "configs" / "semanlink-cpu.toml"),
                           "--dry-run", "--work", str(tmp_path / "w"), "--jobs", "2"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "with --jobs 2: about" in proc.stdout


def test_a_stage_that_times_something_runs_alone():
    """``cost`` measures latency: no other stage runs beside it, even with a worker free."""
    stages = chains(2, 1) + [Stage("cost", "c", {}), Stage("evaluate", "e", {})]
    assert makespan(stages, [1.0, 1.0, 1.0, 1.0], 2) == 3.0  # [a b] [cost] [e]
    assert makespan(stages[:2] + stages[3:], [1.0, 1.0, 1.0], 2) == 2.0


def test_the_pool_starts_nothing_beside_a_cost_stage():
    from esplade_eval.study.pool import _Run

    run = _Run(pool=None, store=None, ctx=None, jobs=2, results={}, bar=None)
    cost, ev = Stage("cost", "c", {}), Stage("evaluate", "e", {})
    assert run.free_for(ev) and run.free_for(cost)  # nothing runs
    run.running = {"f1": ev}
    assert run.free_for(Stage("evaluate", "e2", {})) and not run.free_for(cost)
    run.running = {"f1": cost}
    assert not run.free_for(ev)
