"""The training loop both trainers share: schedule, decay groups, records, best weights."""

import pytest
import torch
from torch import nn

from esplade_eval.train.loop import BestWeights, LoopConfig, TrainingLoop, adamw, linear_schedule

torch.set_num_threads(2)


class Net(nn.Module):
    """Named like BERT's parts, so the decay split has something to split."""

    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(4, 8)
        self.LayerNorm = nn.LayerNorm(8)
        self.out = nn.Linear(8, 1)

    def forward(self, x):
        return self.out(self.LayerNorm(torch.relu(self.dense(x))))


def test_linear_schedule_warms_up_then_decays_to_zero():
    model = Net()
    opt = adamw(model, lr=1.0, weight_decay=0.0)
    sched = linear_schedule(opt, 4, 20)
    lrs = []
    for _ in range(20):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:5] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert lrs[-1] == pytest.approx(1 / 16) and opt.param_groups[0]["lr"] == 0.0
    assert all(a >= b for a, b in zip(lrs[3:], lrs[4:]))


def test_weight_decay_spares_biases_and_layernorm():
    model = Net()
    decay, no_decay = adamw(model, lr=1e-3, weight_decay=0.1).param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert sorted(names[id(p)] for p in decay["params"]) == ["dense.weight", "out.weight"]
    assert sorted(names[id(p)] for p in no_decay["params"]) == ["LayerNorm.bias", "LayerNorm.weight", "dense.bias",
                                                                 "out.bias"]


def _mse(model, x, y):
    loss = ((model(x).squeeze(1) - y) ** 2).mean()
    return loss, {"half": loss / 2, "note": 7}


def test_loop_steps_records_and_learns():
    torch.manual_seed(0)
    model = Net()
    x = torch.randn(64, 4)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    cfg = LoopConfig(total_steps=20, lr=1e-2, warmup=0.2, weight_decay=0.01, log_every=5, progress=False, unit="rows")
    with TrainingLoop(model, cfg) as loop:
        while not loop.done:
            loop.step(_mse, model, x, y, units=len(x))
    assert loop.step_count == 20 and loop.units_seen == 20 * 64
    assert [h["step"] for h in loop.history] == [5, 10, 15, 20]
    first, last = loop.history[0], loop.history[-1]
    assert list(last) == ["step", "loss", "loss_ema", "half", "note", "lr", "rows_seen", "elapsed_s"]
    assert last["half"] == pytest.approx(last["loss"] / 2) and last["note"] == 7 and last["rows_seen"] == 1280
    assert first["lr"] == pytest.approx(1e-2 * 15 / 16) and last["lr"] == 0.0
    assert last["loss"] < first["loss"] and loop.loss_ema < first["loss_ema"]
    assert loop.schedule_record() == {"type": "linear warmup + linear decay to 0", "peak_lr": 1e-2,
                                      "warmup_steps": 4, "total_steps": 20}
    assert all(p.grad is None for p in model.parameters())  # zeroed after every step


def test_best_weights_keeps_the_best_and_restores_it():
    model = Net()
    best = BestWeights("nDCG@10")
    assert best.record() == {"step": None, "nDCG@10": None}  # nothing validated yet
    assert best.offer(1, 0.5, model)
    kept = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.out.weight.add_(1.0)
    assert not best.offer(2, 0.4, model)  # worse: not kept
    assert not best.offer(3, 0.5, model)  # a tie keeps the earlier step
    assert best.record() == {"step": 1, "nDCG@10": 0.5}
    best.restore(model, last_step=3)
    assert all(torch.equal(v, kept[k]) for k, v in model.state_dict().items())
    # the best being the last step: the model keeps its weights
    other = BestWeights("m")
    other.offer(5, 0.1, model)
    with torch.no_grad():
        model.out.weight.add_(1.0)
    changed = model.out.weight.clone()
    other.restore(model, last_step=5)
    assert torch.equal(model.out.weight, changed)
