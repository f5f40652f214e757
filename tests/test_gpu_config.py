"""The GPU config (configs/gpu.toml) plans without error: every arm and seed gets its stages.

Generic on purpose: the config's keys grow (vocabulary, budgets, WordPiece twins) and this
checks only that whatever it holds expands into a complete plan, on a machine without a GPU.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GPU = ROOT / "configs" / "gpu.toml"
PER_RUN = ("finetune", "flow", "evaluate")  # every fine-tuned system, per seed


def test_gpu_plan_gives_every_arm_and_seed_its_stages():
    from esplade_eval.study.config import load_config
    from esplade_eval.study.plan import build_plan

    cfg = load_config(GPU, work=ROOT / "artifacts" / "never-written")
    assert (cfg.device or "").startswith("cuda")
    plan = build_plan(cfg, None)
    assert len({s.key for s in plan.stages}) == len(plan.stages)  # no two stages share a key
    for arm in cfg.arms:
        for seed in cfg.seeds:
            pretrain = plan.find("pretrain", arm.name, seed)
            assert pretrain is not None and pretrain.params["device"] == cfg.device, (arm.name, seed)
            for kind in PER_RUN:
                assert plan.find(kind, arm.name, seed) is not None, (kind, arm.name, seed)
            assert plan.find("finetune", arm.name, seed).deps == (pretrain,)
            for level in cfg.evaluation.levels:
                assert plan.find("cost", arm.name, seed, level) is not None, (arm.name, seed, level)
    for name in cfg.reference_names:
        assert any(s.system == name and s.kind in ("flow", "bm25", "dense") for s in plan.stages), name


def test_gpu_dry_run_lists_the_stage_kinds(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "esplade_eval", "study", str(GPU), "--dry-run", "--work",
                           str(tmp_path / "work"), "--jobs", "2"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    kinds = {line.split()[0] for line in proc.stdout.splitlines()[3:] if line.strip() and "to run" in line}
    assert {"vocab", "pretrain", "finetune", "flow", "evaluate", "cost", "bm25"} <= kinds
    assert not (tmp_path / "work").exists()  # a dry run writes nothing
