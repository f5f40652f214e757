"""``start``: the ESPLADE starting point every expanded arm and ``esplade-no-mlm`` begin from, built
once: the WordPiece source's encoder with its head mapped to the study's words
(:func:`esplade_eval.train.pretrain.init_from_wordpiece`, ``[pretrain] head_init``), then aligned
to the source's scores on the pre-training corpora for ``[pretrain] align_steps`` steps
(:mod:`esplade_eval.train.align`; unlabelled text, evaluation documents as the pre-training
settings allow). Planned only when ``align_steps`` > 0; otherwise every pre-training stage maps
the head itself, as before."""

from __future__ import annotations

from dataclasses import dataclass

from esplade_eval.study.stages.base import FromConfig, Inputs, Record, eval_sources

KIND = "start"
VERSION = 1
#: the files whose content is this kind's results (with its record's outputs, timings aside)
RESULT_FILES = ("checkpoint/model.safetensors", "checkpoint/output_vocab.txt")


@dataclass(frozen=True)
class Params(FromConfig):
    source: str  # the WordPiece checkpoint (``[pretrain] init_encoder``)
    head_init: str
    corpora: list  # the pre-training corpora (``[vocab] corpora``): the alignment's texts
    exclude_eval_docs: list
    allow_eval_docs: object
    align_steps: int
    align_lr: float
    threads: int
    device: str


@dataclass
class Outputs(Record):
    checkpoint: str
    transfer: dict  # how the head was mapped (init_from_wordpiece's record)
    alignment: dict  # train.align.align's record


def run(p: Params, inputs: Inputs) -> Outputs:
    import torch

    from esplade_eval.train import common
    from esplade_eval.train.align import AlignConfig, align_to_source
    from esplade_eval.train.pretrain import init_from_wordpiece
    from esplade_eval.train.texts import eval_docs, training_corpora
    from esplade_eval.train.vocab import read_vocab

    if p.threads:
        torch.set_num_threads(p.threads)
    vocab = read_vocab(inputs.dep("vocab")[0])
    tokenizer = common.load_input_tokenizer()
    docs = eval_docs(eval_sources(p.exclude_eval_docs, inputs.collection), p.allow_eval_docs)
    texts = [t for corpus in training_corpora(p.corpora, docs) for t in corpus.train]
    common.seed_everything(0)
    model, transfer = init_from_wordpiece(p.source, vocab, tokenizer, p.head_init)
    transfer = align_to_source(model, transfer, p.source, tokenizer, texts, AlignConfig(steps=p.align_steps, lr=p.align_lr))
    transfer["alignment"]["eval_docs"] = docs.record()
    common.save_checkpoint(inputs.tmp / "checkpoint", model, tokenizer, vocab, {"init.json": transfer})
    alignment = transfer.pop("alignment")
    return Outputs("checkpoint", transfer, alignment)
