"""The one training loop that pre-training and fine-tuning share.

What it owns, so the two trainers only say how to compute a loss:

* **optimizer**: AdamW with weight decay on weights and none on biases and LayerNorm
  parameters (BERT's split);
* **schedule**: linear warm-up from 0 to the peak learning rate over ``warmup`` (a
  fraction of the steps when < 1, else a number of steps), then linear decay to 0 at the
  last step;
* **step**: the loss under the device's autocast policy (bf16 on CUDA devices that support
  it; CPU stays float32, so a seeded CPU run is bit-for-bit reproducible), backward,
  gradient clipping to norm 1, optimizer and schedule steps;
* **records**: an exponential moving average of the loss, a history entry every
  ``log_every`` steps and at the last one, throughput in the caller's unit, and training
  time that excludes whatever runs inside :meth:`TrainingLoop.paused` (validation);
* **best weights**: :class:`BestWeights` keeps a CPU copy of the best validated state.

>>> warmup_steps(0.1, 200), warmup_steps(25, 200)
(20, 25)
"""

from __future__ import annotations

import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Callable


def warmup_steps(warmup: float, total: int) -> int:
    """Warm-up steps: ``warmup`` is a fraction of ``total`` when < 1, else a step count."""
    return int(warmup) if warmup >= 1 else int(round(warmup * total))


def autocast(device: str, bf16: bool | None = None, cpu_bf16: bool = False):
    """bf16 autocast on CUDA devices that support it; the CPU stays fp32 (exact reproducibility)
    unless ``cpu_bf16`` asks for bf16 there too (an explicit option: it changes the numbers)."""
    import torch

    if device.startswith("cuda") and (bf16 is None or bf16) and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if cpu_bf16 and device.startswith("cpu"):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


def adamw(model, lr: float, weight_decay: float):
    """AdamW; biases and LayerNorm parameters are not decayed."""
    import torch

    def no_decay(name: str) -> bool:
        return name.endswith("bias") or "LayerNorm" in name

    named = list(model.named_parameters())
    groups = [{"params": [p for n, p in named if not no_decay(n)], "weight_decay": weight_decay},
              {"params": [p for n, p in named if no_decay(n)], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr)


def linear_schedule(optimizer, warmup: int, total_steps: int):
    """Linear warm-up from 0 to the peak LR, then linear decay to 0 at ``total_steps``."""
    import torch

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@dataclass
class LoopConfig:
    """How a run optimises (the trainers fill it from their own configs)."""

    total_steps: int
    lr: float
    warmup: float = 0.1  # fraction of the steps (< 1) or a number of steps
    weight_decay: float = 0.01
    device: str = "cpu"
    clip_norm: float = 1.0
    log_every: int = 10
    progress: bool | None = None  # a bar of steps: None only on a terminal (esplade_eval._progress)
    desc: str = "train"  # progress bar label
    unit: str = "tokens"  # what the throughput counts; history records ``<unit>_seen``
    cpu_bf16: bool = False  # bf16 autocast on the CPU too (changes the numbers; off by default)


class TrainingLoop:
    """Optimizer, schedule, step, autocast and records for one run (a context manager).

    ``compute_loss`` given to :meth:`step` returns ``(loss, extras)``: the scalar loss
    tensor to minimise and a dict of numbers (or scalar tensors) recorded beside it.
    """

    def __init__(self, model, cfg: LoopConfig):
        self.model = model
        self.cfg = cfg
        self.warmup_steps = warmup_steps(cfg.warmup, cfg.total_steps)
        self.optimizer = adamw(model, cfg.lr, cfg.weight_decay)
        self.scheduler = linear_schedule(self.optimizer, self.warmup_steps, cfg.total_steps)
        self.step_count = 0
        self.units_seen = 0
        self.loss_ema: float | None = None
        self.history: list[dict] = []
        self._started: float | None = None
        self._ended: float | None = None
        self._paused = 0.0
        self._bar = None

    def __enter__(self) -> "TrainingLoop":
        from esplade_eval._progress import bar

        self._started = time.perf_counter()
        self._bar = bar(total=self.cfg.total_steps, desc=self.cfg.desc, unit="step", enabled=self.cfg.progress)
        return self

    def __exit__(self, *exc) -> None:
        self._ended = time.perf_counter()
        self._bar.close()

    @property
    def done(self) -> bool:
        return self.step_count >= self.cfg.total_steps

    @property
    def train_seconds(self) -> float:
        """Seconds inside the loop, time spent in :meth:`paused` left out."""
        if self._started is None:
            return 0.0
        end = self._ended if self._ended is not None else time.perf_counter()
        return end - self._started - self._paused

    @contextmanager
    def paused(self):
        """Time spent inside (validation, probes) is not training time."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self._paused += time.perf_counter() - start

    def step(self, compute_loss: Callable[..., tuple], *args, units: int = 0) -> float:
        """One optimisation step on ``compute_loss(*args)``; ``units`` counts toward throughput.

        Returns the loss value.
        """
        import torch

        with autocast(self.cfg.device, cpu_bf16=self.cfg.cpu_bf16):
            loss, extras = compute_loss(*args)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step_count += 1
        self.units_seen += units
        value = loss.item()
        self.loss_ema = value if self.loss_ema is None else 0.9 * self.loss_ema + 0.1 * value
        if self.step_count % self.cfg.log_every == 0 or self.step_count == self.cfg.total_steps:
            self._record(value, extras)
        rate = self.units_seen / max(self.train_seconds, 1e-9)
        self._bar.set_postfix({"loss": f"{self.loss_ema:.3f}", f"{self.cfg.unit}_s": f"{rate:,.0f}"})
        self._bar.update(1)
        return value

    def _record(self, value: float, extras: dict) -> None:
        entry = {"step": self.step_count, "loss": value, "loss_ema": self.loss_ema}
        entry.update({k: v.item() if hasattr(v, "item") else v for k, v in extras.items()})
        entry.update({"lr": self.scheduler.get_last_lr()[0], f"{self.cfg.unit}_seen": self.units_seen,
                      "elapsed_s": round(self.train_seconds, 3)})
        self.history.append(entry)

    def schedule_record(self) -> dict:
        return {"type": "linear warmup + linear decay to 0", "peak_lr": self.cfg.lr,
                "warmup_steps": self.warmup_steps, "total_steps": self.cfg.total_steps}


class BestWeights:
    """The best validated weights so far (a CPU copy), by a higher-is-better ``metric``.

    >>> best = BestWeights("nDCG@10")
    >>> best.record()  # nothing validated (fine-tuning with validation off): no value, not a sentinel
    {'step': None, 'nDCG@10': None}
    """

    def __init__(self, metric: str):
        self.metric = metric
        self.step: int | None = None
        self.value = -1.0
        self._state = None

    def offer(self, step: int, value: float, model) -> bool:
        """Keep ``model``'s weights when ``value`` beats the best so far."""
        if value <= self.value:
            return False
        self.step, self.value = step, value
        self._state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        return True

    def restore(self, model, last_step: int) -> None:
        """Load the best weights into ``model`` unless they are the last step's; free the copy."""
        if self._state is not None and self.step != last_step:
            model.load_state_dict(self._state)
        self._state = None

    def record(self) -> dict:
        return {"step": self.step, self.metric: self.value if self.step is not None else None}
