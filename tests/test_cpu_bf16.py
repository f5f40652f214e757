"""``[finetune] cpu_bf16 = true``: training steps under bf16 autocast on the CPU, an explicit option
(it changes the numbers), off by default, and part of the fine-tuning stages' keys."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from esplade_eval.train.loop import LoopConfig, autocast

ROOT = Path(__file__).resolve().parent.parent


def test_cpu_stays_fp32_unless_asked():
    layer = torch.nn.Linear(4, 3)
    x = torch.randn(2, 4)
    assert LoopConfig(total_steps=1, lr=1e-3).cpu_bf16 is False
    with autocast("cpu"):
        assert layer(x).dtype == torch.float32
    with autocast("cpu", cpu_bf16=True):
        assert layer(x).dtype == torch.bfloat16


def test_the_option_rekeys_the_fine_tuning_stages_only(tmp_path):
    from esplade_eval.study.config import load_config
    from esplade_eval.study.plan import build_plan

    text = (ROOT / "configs" / "smoke.toml").read_text(encoding="utf-8")
    path = tmp_path / "smoke-bf16.toml"
    path.write_text(re.sub(r"^(\[finetune\].*)$", r"\1\ncpu_bf16 = true", text, count=1, flags=re.M), encoding="utf-8")
    base, bf16 = (build_plan(load_config(p, work=tmp_path / "w"), None) for p in (ROOT / "configs" / "smoke.toml", path))
    assert all(s.params["recipe"]["cpu_bf16"] is True for s in bf16.of_kind("finetune"))
    changed = {s.kind for s, t in zip(base.stages, bf16.stages) if s.key != t.key}
    assert "finetune" in changed and not changed & {"vocab", "pretrain", "bm25"}
