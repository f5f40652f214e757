"""``parity``: is the arms' starting point a fair one? Checked before any arm runs.

The no-MLM ESPLADE start (SPLADE-tiny's encoder, its head mapped to whole words; the
pre-training stage of ``esplade-no-mlm`` with no step) is set beside SPLADE-tiny, zero-shot
and after the shared fine-tuning, on ``measure`` at the ``level`` the config calls
unpruned. The start's held-out MLM accuracy is recorded beside the unigram baseline's
(always predicting the most frequent training word).

**Judgement.** ``shortfall = SPLADE-tiny fine-tuned - esplade-no-mlm`` (each the mean over
the seeds); the check passes when ``shortfall <= tolerance`` (an ESPLADE start above
SPLADE-tiny passes). A failure is recorded and reported loudly in the summary; it does not
stop the study (the arms still run, so the failure can be read beside them).

>>> judge({"esplade-no-mlm": 0.49, "splade-tiny-ft": 0.50}, 0.02)["passed"]
True
>>> judge({"esplade-no-mlm": 0.41, "splade-tiny-ft": 0.50}, 0.02)["passed"]
False
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from esplade_eval.study.stages.base import FromConfig, Inputs, Record

log = logging.getLogger(__name__)

KIND = "parity"
VERSION = 1
#: the files whose content is this kind's results (the record's outputs hold them all)
RESULT_FILES = ()

#: the systems compared: the start zero-shot, the start fine-tuned (no MLM), SPLADE-tiny both ways
START, NO_MLM, TINY_ZS, TINY_FT = "esplade-start", "esplade-no-mlm", "splade-tiny-zs", "splade-tiny-ft"
SYSTEMS = (START, NO_MLM, TINY_ZS, TINY_FT)


@dataclass(frozen=True)
class Params(FromConfig):
    tolerance: float
    measure: str
    level: str  # the unpruned level


@dataclass
class Outputs(Record):
    measure: str
    level: str
    scores: dict  # {system: mean over its seeds}
    per_seed: dict  # {system: {seed: score}}
    zero_shot_gap: float | None  # SPLADE-tiny zero-shot - ESPLADE start
    shortfall: float | None  # SPLADE-tiny fine-tuned - esplade-no-mlm
    tolerance: float
    passed: bool | None  # None: a score is missing
    start: dict  # the start's head transfer record
    mlm: dict  # {arm: {accuracy, unigram_baseline}} of the start on held-out text
    rule: str


def rule(tolerance: float, measure: str, level: str) -> str:
    return (f"passes when SPLADE-tiny fine-tuned - esplade-no-mlm <= {tolerance:g} {measure} at `{level}` "
            "(means over seeds); a failure is reported and does not stop the study")


def judge(scores: dict, tolerance: float) -> dict:
    """Shortfall of the fine-tuned no-MLM start behind SPLADE-tiny fine-tuned, and the verdict."""
    def gap(a, b):
        return None if scores.get(a) is None or scores.get(b) is None else float(scores[a] - scores[b])

    shortfall = gap(TINY_FT, NO_MLM)
    return {"zero_shot_gap": gap(TINY_ZS, START), "shortfall": shortfall,
            "passed": None if shortfall is None else bool(shortfall <= tolerance + 1e-12)}


def mlm_of(summary: dict) -> dict:
    """``{arm: {accuracy, unigram_baseline}}`` from a pre-training stage's held-out MLM record."""
    held = summary.get("heldout_mlm") or {}
    return {arm: {"accuracy": r.get("accuracy"), "unigram_baseline": r.get("frequency_baseline_accuracy")}
            for arm, r in held.items()}


def head_transfer(checkpoint: Path) -> dict:
    """How the start's head was made (``training_state.json``'s ``model.head_transfer``), or {}."""
    state = checkpoint / "training_state.json"
    if not state.is_file():
        return {}
    return json.loads(state.read_text(encoding="utf-8")).get("model", {}).get("head_transfer") or {}


def run(p: Params, inputs: Inputs) -> Outputs:
    per_seed: dict = {}
    start, mlm = {}, {}
    for src in inputs.sources:
        if src.kind == "evaluate" and src.system in SYSTEMS:
            per_seed.setdefault(src.system, {})[str(src.seed)] = float(src.outputs.mean[p.level][p.measure])
        elif src.kind == "pretrain":
            mlm = mlm_of(src.outputs.summary)
            start = head_transfer(src.folder / src.outputs.checkpoint)
    scores = {s: sum(v.values()) / len(v) for s, v in per_seed.items() if v}
    verdict = judge(scores, p.tolerance)
    if verdict["passed"] is False:
        log.warning("PARITY FAILED: esplade-no-mlm is %.4f %s below SPLADE-tiny fine-tuned at %s (tolerance %g)",
                    verdict["shortfall"], p.measure, p.level, p.tolerance)
    return Outputs(p.measure, p.level, scores, per_seed, verdict["zero_shot_gap"], verdict["shortfall"],
                   p.tolerance, verdict["passed"], start, mlm, rule(p.tolerance, p.measure, p.level))


def config_table(tbl, ev, problems) -> dict:
    """``[parity]`` checked: the tolerance, the measure (one of the evaluation's), on or off."""
    from esplade_eval.study.checks import get

    if not isinstance(tbl, dict):
        problems.add("parity", f"expected a table, got {tbl!r}")
        tbl = {}
    problems.unknown(tbl, ("enabled", "tolerance", "measure"), "parity")
    out = {"enabled": get(tbl, "enabled", bool, problems, "parity", default=True),
           "tolerance": get(tbl, "tolerance", float, problems, "parity", default=0.02, minimum=0.0),
           "measure": get(tbl, "measure", str, problems, "parity", default="nDCG@10")}
    if out["measure"] not in ev.measures:
        problems.add("parity.measure", f"{out['measure']!r} is not one of the evaluation measures {list(ev.measures)}")
    return out
