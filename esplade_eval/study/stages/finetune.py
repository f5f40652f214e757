"""``finetune``: the fine-tuning recipe from a pre-trained arm or SPLADE-tiny (:mod:`esplade_eval.train.finetune`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from esplade_eval.study.stages.base import FromConfig, Inputs, Record, pick

KIND = "finetune"
VERSION = 1
#: the files whose content is this kind's results (with its record's outputs, timings aside)
RESULT_FILES = ("checkpoint/model.safetensors",)
#: result files only some of its stages have (a WordPiece model saves no output vocabulary)
OPTIONAL_FILES = ("checkpoint/output_vocab.txt",)

#: the fine-tuning state's keys a study reads (``finetune_state.json`` holds more)
SUMMARY = ("steps", "passes_over_pairs", "train_pairs", "best", "dev", "probe_loss_before", "probe_loss_after",
           "train_wall_time_s", "validation_wall_time_s", "wall_time_s", "output_vocab_size", "negatives")


@dataclass(frozen=True)
class Params(FromConfig):
    recipe: dict  # FinetuneConfig fields
    init: str  # "pretrained" (the pretrain dependency's checkpoint) or a checkpoint name
    seed: int
    threads: int
    device: str


@dataclass
class Outputs(Record):
    checkpoint: str
    summary: dict  # SUMMARY's keys of finetune_state.json


def run(p: Params, inputs: Inputs) -> Outputs:
    from esplade_eval.train.finetune import FinetuneConfig, finetune

    init = str(inputs.dep("pretrain")[0] / "checkpoint") if p.init == "pretrained" else p.init
    cfg = FinetuneConfig(**p.recipe, init=init, collection=str(inputs.collection.root), seed=p.seed,
                         threads=p.threads, device=p.device, progress=False)
    out = finetune(cfg, inputs.tmp / "checkpoint")
    state = json.loads((out / "finetune_state.json").read_text(encoding="utf-8"))
    return Outputs("checkpoint", pick(state, SUMMARY))
