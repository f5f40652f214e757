"""``pretrain``: MLM pre-training of one arm and seed (:mod:`esplade_eval.train.pretrain`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from esplade_eval.study.stages.base import Inputs, Record, eval_sources, pick

KIND = "pretrain"
VERSION = 2
#: the files whose content is this kind's results (with its record's outputs, timings aside)
RESULT_FILES = ("checkpoint/model.safetensors",)
#: result files only some of its stages have (a WordPiece arm saves no output vocabulary)
OPTIONAL_FILES = ("checkpoint/output_vocab.txt",)

#: the training state's keys a study reads (``training_state.json`` holds more)
SUMMARY = ("budget", "steps", "repeats", "passes_over_corpus", "passes_per_corpus", "tokens_seen", "train_examples",
           "train_tokens_per_pass", "predicted_words", "tokens_per_s", "train_wall_time_s", "wall_time_s",
           "heldout_mlm", "heldout_mlm_before", "output_vocab", "lr_schedule", "corpora", "eval_docs")


@dataclass(frozen=True)
class Params:
    """The arm's :class:`~esplade_eval.train.pretrain.PretrainConfig` fields (its config slice)."""

    settings: dict

    @classmethod
    def of(cls, params: dict) -> "Params":
        return cls(dict(params))


@dataclass
class Outputs(Record):
    checkpoint: str
    summary: dict  # SUMMARY's keys of training_state.json


def run(p: Params, inputs: Inputs) -> Outputs:
    from esplade_eval.train.pretrain import PretrainConfig, pretrain

    settings = dict(p.settings)
    settings["exclude_eval_docs"] = eval_sources(settings.get("exclude_eval_docs", []), inputs.collection)
    if settings.get("output_vocab") != "wordpiece":  # a WordPiece (SPLADE) arm keeps the tokenizer's vocabulary
        settings["vocab"] = str(inputs.dep("vocab")[0])
        if "start" in inputs.deps:  # the aligned start (built once) replaces the mapping and alignment
            folder, start = inputs.dep("start")
            settings.update(init_encoder=str(folder / start.checkpoint), align_steps=0)
    out = pretrain(PretrainConfig(**settings, progress=False), inputs.tmp / "checkpoint")
    state = json.loads((out / "training_state.json").read_text(encoding="utf-8"))
    return Outputs("checkpoint", pick(state, SUMMARY))
