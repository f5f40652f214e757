"""MLM pre-training of ESPLADE models with whole-word masking over the output vocabulary,
or of plain SPLADE models (``output_vocab="wordpiece"``: BERT's own WordPiece head).

**Output vocabulary.** ``"expanded"`` (ESPLADE) predicts whole words of the output
vocabulary; ``"wordpiece"`` keeps the checkpoint's ``BertForMaskedLM`` (SPLADE-tiny's
30,522-row head) and predicts every piece of the same masked words at the same rate
(whole-word masking), so the two kinds of arm differ in their output vocabulary only. A
WordPiece run builds no vocabulary and saves no ``output_vocab.txt``.

The masking, the targets, the batches and the held-out accuracy are :mod:`esplade_eval.train.mlm`'s.

**Budget.** By default the budget is in passes over the named corpora:
``repeats x epochs`` passes, i.e. ``repeats x epochs x ceil(texts / batch_size)`` steps,
so ``repeats=3`` trains on every text three times (and takes three times the steps and
tokens of ``repeats=1``). A fixed ``steps`` overrides that; ``steps`` with ``repeats != 1``
is refused, since the repeats would silently change nothing. ``training_state.json``
records the budget, the steps taken, tokens seen, passes over each named corpus and the
repeats that really happened. ``budget = "tokens"`` gives every arm of a grid the same tokens
per repeat, a larger corpus subsampled per seed (:mod:`esplade_eval.train.budget`).

**Evaluation documents** (:mod:`esplade_eval.train.texts`) are kept out of the training
texts, and so out of a vocabulary built here, unless ``allow_eval_docs``; the default
``exclude_eval_docs`` names the bundled Semanlink titles. The count dropped per corpus is
recorded. A prebuilt ``vocab`` is used exactly as given.

>>> from esplade_eval.train.pretrain import PretrainConfig
>>> PretrainConfig(steps=10).total_steps(n_examples=1000)
10
>>> [PretrainConfig(batch_size=64, repeats=r).total_steps(n_examples=1000) for r in (1, 3)]
[16, 48]
>>> PretrainConfig(steps=10, repeats=3)
Traceback (most recent call last):
...
esplade_eval.errors.EspladeError: steps=10 with repeats=3: a fixed step budget ignores repeats; give the budget in passes (epochs) or set repeats=1
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from esplade_eval.data.corpora import ARMS, load_corpus
from esplade_eval.errors import EspladeError
from esplade_eval.train.loop import LoopConfig, TrainingLoop, warmup_steps
from esplade_eval.train.mlm import (
    Example,
    chunk_texts,
    evaluate_mlm,
    mask_batch,
    mlm_forward,
    stream,
    tokenize_examples,
)
from esplade_eval.train.texts import DEFAULT_EVAL_DOCS

log = logging.getLogger(__name__)

#: the kinds of output vocabulary: ESPLADE's whole words, or the input tokenizer's WordPiece (plain SPLADE)
OUTPUT_VOCABS = ("expanded", "wordpiece")

@dataclass
class PretrainConfig:
    """Everything that defines a pre-training run (recorded in ``training_state.json``)."""

    corpora: list[str] = field(default_factory=lambda: ["general", "titles"])
    vocab: str | None = None  # folder or file with output_vocab.txt, used as is; None: build from the corpora
    vocab_size: int = 10000
    vocab_min_count: int = 2
    preset: str = "tiny"  # or a JSON file of BertConfig fields
    lr: float = 5e-4
    repeats: int = 1  # times every training text is in the stream (passes = repeats x epochs)
    epochs: float = 1.0  # passes over the stream (ignored when steps is given)
    steps: int | None = None  # a fixed step budget instead of passes (only with repeats=1)
    batch_size: int = 64
    max_length: int = 64
    max_words: int = 40
    mask_rate: float = 0.15
    warmup: float = 0.1  # fraction of the steps (< 1) or a number of steps
    weight_decay: float = 0.01
    seed: int = 0
    threads: int | None = None
    device: str | None = None
    init_encoder: str | None = None  # BERT/SPLADE checkpoint whose encoder (and head, mapped) start the model
    head_init: str = "mean"  # how a word's row comes from its pieces' rows (esplade_eval.train.headinit)
    align_steps: int = 0  # then align the mapped start to init_encoder's scores (esplade_eval.train.align)
    align_lr: float = 1e-4  # its learning rate (AdamW, constant, gradients clipped to norm 1)
    eval_texts: int = 1000  # held-out texts per arm
    log_every: int = 10
    progress: bool | None = None  # bars: None only on a terminal, True always, False never
    exclude_eval_docs: list[str] = field(default_factory=lambda: list(DEFAULT_EVAL_DOCS))  # see train.texts
    allow_eval_docs: bool = False  # train on evaluation documents too (recorded)
    output_vocab: str = "expanded"  # "expanded" (ESPLADE word head) or "wordpiece" (plain SPLADE head)
    budget: str = "passes"  # or "tokens": the same tokens per repeat for every arm (train.budget)
    budget_corpora: list | None = None  # corpus lists whose smallest token count is a repeat (None: this run's)
    budget_tokens: int | None = None  # tokens per repeat, given (overrides budget_corpora)

    def __post_init__(self):
        from esplade_eval.train.budget import BUDGETS

        if self.output_vocab not in OUTPUT_VOCABS:
            raise EspladeError(f"output_vocab must be one of {', '.join(OUTPUT_VOCABS)}, got {self.output_vocab!r}")
        if self.budget not in BUDGETS:
            raise EspladeError(f"budget must be one of {', '.join(BUDGETS)}, got {self.budget!r}")
        if self.budget == "tokens" and self.steps is not None:
            raise EspladeError(f"steps={self.steps} with budget='tokens': a fixed step budget ignores the token budget")
        if self.steps is not None and self.repeats != 1:
            raise EspladeError(f"steps={self.steps} with repeats={self.repeats}: a fixed step budget ignores "
                               "repeats; give the budget in passes (epochs) or set repeats=1")
        if not isinstance(self.repeats, int) or self.repeats < 1:
            raise EspladeError(f"repeats must be a whole number >= 1, got {self.repeats!r}")
        if self.steps is None and not self.epochs > 0:
            raise EspladeError(f"epochs must be > 0, got {self.epochs!r}")
        from esplade_eval.train.headinit import check_start

        check_start(self.head_init, self.align_steps, self.init_encoder, self.output_vocab)
        if self.steps is not None and self.steps < 0:
            raise EspladeError(f"steps must be >= 0, got {self.steps!r}")
        from esplade_eval.train.common import PRESETS

        positions = (PRESETS.get(self.preset) or {}).get("max_position_embeddings")
        if not self.init_encoder and isinstance(positions, int) and self.max_length > positions:
            raise EspladeError(f"max_length {self.max_length}: more than the {positions} positions of preset "
                               f"{self.preset!r}")

    @property
    def passes(self) -> float | None:
        """Passes over the training texts the budget asks for (None with a fixed ``steps``)."""
        return None if self.steps is not None else self.repeats * self.epochs

    def total_steps(self, n_examples: int) -> int:
        if self.steps is not None:
            return int(self.steps)
        per_pass = math.ceil(n_examples / self.batch_size)
        whole = int(self.passes)
        part = math.ceil(round((self.passes - whole) * per_pass, 9))  # a fraction of the last pass
        return max(1, whole * per_pass + part)

    def warmup_steps(self, total: int) -> int:
        return warmup_steps(self.warmup, total)


def init_from_wordpiece(checkpoint: str, vocab: list[str], tokenizer, head: str = "mean"):
    """An ESPLADE model whose encoder is copied from a BERT/SPLADE masked-LM checkpoint.

    The head is *mapped*, not random: its transform (dense + LayerNorm) is the source
    head's, and the output row (weight and bias) of each word combines the source rows of
    the word's WordPiece pieces by ``head`` (:mod:`esplade_eval.train.headinit`: the mean by
    default). The source checkpoint must use the same input tokenizer. Returns the model
    and a record of the mapping.
    """
    import torch
    from transformers import AutoModelForMaskedLM

    from esplade_eval.model.checkpoint import resolve_checkpoint
    from esplade_eval.model.esplade import EspladeConfig, EspladeForMaskedLM
    from esplade_eval.train import headinit

    path = resolve_checkpoint(checkpoint)
    src = AutoModelForMaskedLM.from_pretrained(path)
    if src.config.vocab_size != len(tokenizer):
        raise EspladeError(f"{checkpoint}: input vocabulary {src.config.vocab_size} differs from the tokenizer's "
                           f"{len(tokenizer)}")
    fields = {k: v for k, v in src.config.to_dict().items() if k in EspladeConfig().to_dict()
              and k not in ("model_type", "architectures", "tie_word_embeddings", "transformers_version")}
    model = EspladeForMaskedLM(EspladeConfig(output_vocab_size=len(vocab), **fields))
    missing = model.bert.load_state_dict(src.base_model.state_dict(), strict=False)
    src_head = getattr(src, "cls", None)
    single = 0
    if src_head is not None and hasattr(src_head, "predictions"):
        pred = src_head.predictions
        with torch.no_grad():
            model.mlm_head.dense.load_state_dict(pred.transform.dense.state_dict())
            model.mlm_head.LayerNorm.load_state_dict(pred.transform.LayerNorm.state_dict())
            w_src = src.get_output_embeddings().weight
            b_src = src.get_output_embeddings().bias if src.get_output_embeddings().bias is not None else pred.bias
        single = headinit.map_head(model.mlm_head.decoder, w_src, b_src, headinit.piece_ids(vocab, tokenizer), head)
    record = {"source": str(checkpoint), "encoder_missing_keys": list(missing.missing_keys),
              "head": headinit.describe(head) if src_head is not None else "random",
              "head_init": head if src_head is not None else None, "single_piece_words": single}
    return model, record




@dataclass
class PretrainData:
    """What a run trains and evaluates on, prepared before the model exists."""

    corpora: list  # the named corpora (training parts without evaluation documents)
    eval_docs: object  # the train.texts.EvalDocs kept out
    vocab: list[str]
    vocab_record: dict
    tokenizer: object
    examples: list[Example]
    origin: np.ndarray  # index into ``corpora`` of each example
    heldout: dict[str, list[Example]]  # arm -> held-out examples
    baseline_id: int  # the most frequent training target (the frequency baseline)
    subsample: dict | None = None  # budget = "tokens": what one repeat keeps (train.budget)


def _vocabulary(cfg: PretrainConfig, train_texts: list[str], eval_record: dict) -> tuple[list[str], dict]:
    """The output vocabulary: ``cfg.vocab`` as is, or built from the (filtered) training texts."""
    from esplade_eval.train.vocab import build_vocab, read_vocab, read_vocab_meta

    if cfg.output_vocab == "wordpiece":
        raise EspladeError("a WordPiece run has no output vocabulary to build")
    if cfg.vocab:
        vocab = read_vocab(cfg.vocab)
        return vocab, {"size": len(vocab), "source": str(cfg.vocab), "built_with": read_vocab_meta(cfg.vocab)}
    vocab = build_vocab(train_texts, cfg.vocab_size, cfg.vocab_min_count)
    return vocab, {"size": len(vocab), "source": f"built from the training texts of {'+'.join(cfg.corpora)}",
                   "min_count": cfg.vocab_min_count, "eval_docs": eval_record}


def prepare_data(cfg: PretrainConfig) -> PretrainData:
    """Corpora minus evaluation documents, vocabulary, tokenised training and held-out examples."""
    from esplade_eval.train import common
    from esplade_eval.train.texts import eval_docs, training_corpora

    if not cfg.corpora:
        raise EspladeError("pre-training needs at least one corpus")
    docs = eval_docs(cfg.exclude_eval_docs, cfg.allow_eval_docs)
    corpora = training_corpora(cfg.corpora, docs)
    train_texts = [t for c in corpora for t in c.train]
    tokenizer = common.load_input_tokenizer()
    wordpiece = cfg.output_vocab == "wordpiece"
    if wordpiece:
        vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        vocab_record = {"size": len(vocab), "kind": "wordpiece", "eval_docs": docs.record(),
                        "source": f"the input tokenizer's WordPiece vocabulary ({common.INPUT_TOKENIZER})"}
    else:
        vocab, vocab_record = _vocabulary(cfg, train_texts, docs.record())
    vocab_index = None if wordpiece else {w: i for i, w in enumerate(vocab)}
    chunks = [chunk_texts(c.train, cfg.max_words) for c in corpora]
    examples = tokenize_examples(tokenizer, [t for part in chunks for t in part], vocab_index, cfg.max_length)
    if not examples:
        dropped = sum(docs.dropped.values())
        raise EspladeError("the training corpora hold no text" + (
            f" once {dropped} evaluation documents are dropped (allow_eval_docs / --allow-eval-docs keeps them)"
            if dropped else ""))
    origin = np.repeat(np.arange(len(corpora)), [len(part) for part in chunks])
    subsample = None
    if cfg.budget == "tokens":
        from esplade_eval.train.budget import apply_token_budget

        examples, origin, subsample = apply_token_budget(cfg, docs, tokenizer, examples, origin)
    heldout = {}
    for arm in ARMS:
        texts = chunk_texts(load_corpus(arm).heldout, cfg.max_words)[:cfg.eval_texts] if cfg.eval_texts > 0 else []
        heldout[arm] = tokenize_examples(tokenizer, texts, vocab_index, cfg.max_length)
    target_counts = np.bincount(np.concatenate([_targets(e, wordpiece) for e in examples]), minlength=len(vocab))
    return PretrainData(corpora, docs, vocab, vocab_record, tokenizer, examples, origin, heldout,
                        int(target_counts.argmax()), subsample)


def _targets(example: Example, wordpiece: bool) -> np.ndarray:
    """The labels a text can give: in-vocabulary word targets, or the pieces of its words (WordPiece)."""
    if not wordpiece:
        return example.target[example.target >= 0]
    return example.ids[(example.word >= 0) & (example.target[np.maximum(example.word, 0)] >= 0)]


def build_model(cfg: PretrainConfig, data: PretrainData, device: str):
    """The model to pre-train (seeded): from ``init_encoder`` or a random ``preset``; and the head transfer record."""
    from esplade_eval.model.esplade import EspladeForMaskedLM
    from esplade_eval.train import common, headinit
    from esplade_eval.train.align import AlignConfig, align_to_source

    common.seed_everything(cfg.seed)
    transfer = None
    if cfg.output_vocab == "wordpiece":
        model, transfer = common.wordpiece_model(cfg.init_encoder, cfg.preset, data.tokenizer)
    elif cfg.init_encoder and headinit.is_expanded_start(cfg.init_encoder):  # a start already mapped (and aligned)
        model, transfer = headinit.load_expanded_start(cfg.init_encoder, data.vocab)
    elif cfg.init_encoder:
        model, transfer = init_from_wordpiece(cfg.init_encoder, data.vocab, data.tokenizer, cfg.head_init)
        texts = [t for corpus in data.corpora for t in corpus.train]
        transfer = align_to_source(model, transfer, cfg.init_encoder, data.tokenizer, texts,
                                   AlignConfig(steps=cfg.align_steps, lr=cfg.align_lr, seed=cfg.seed))
    else:
        model = EspladeForMaskedLM(common.model_config(cfg.preset, len(data.vocab), len(data.tokenizer)))
    model.to(device)
    model.train()
    return model, transfer


@dataclass
class Consumed:
    """What the training stream consumed, per named corpus (index as in ``PretrainData.corpora``)."""

    examples: np.ndarray
    tokens: np.ndarray
    predicted: int = 0


def _mlm_loss(model, tensors) -> tuple:
    return mlm_forward(model, *tensors)[0], {}


def train_mlm(model, data: PretrainData, cfg: PretrainConfig, device: str) -> tuple[TrainingLoop, Consumed]:
    """The training loop over the (seeded) stream of masked batches."""
    tok = data.tokenizer
    total = cfg.total_steps(len(data.examples))
    rng = np.random.default_rng(cfg.seed)
    batches = stream(np.array([len(e.ids) for e in data.examples]), cfg.batch_size, rng)
    used = Consumed(np.zeros(len(data.corpora), dtype=np.int64), np.zeros(len(data.corpora), dtype=np.int64))
    loop_cfg = LoopConfig(total_steps=total, lr=cfg.lr, warmup=cfg.warmup, weight_decay=cfg.weight_decay,
                          device=device, log_every=cfg.log_every, progress=cfg.progress, desc="pretrain",
                          unit="tokens")
    with TrainingLoop(model, loop_cfg) as loop:
        while not loop.done:
            idx = next(batches)
            ids, att, rows, cols, labels = mask_batch([data.examples[i] for i in idx], rng, cfg.mask_rate,
                                                      tok.mask_token_id, tok.pad_token_id, len(tok),
                                                      pieces=cfg.output_vocab == "wordpiece")
            np.add.at(used.examples, data.origin[idx], 1)
            if not len(labels):  # no maskable in-vocabulary word in the whole batch: no step
                continue
            loop.step(_mlm_loss, model, [t.to(device) for t in (ids, att, rows, cols, labels)], units=int(att.sum()))
            np.add.at(used.tokens, data.origin[idx], att.sum(1).numpy())
            used.predicted += len(labels)
    return loop, used


def budget_record(cfg: PretrainConfig, data: PretrainData, loop: TrainingLoop, used: Consumed) -> dict:
    """Budget asked for and what happened: steps, tokens, passes per named corpus, repeats done."""
    sizes = np.bincount(data.origin, minlength=len(data.corpora))
    passes = float(used.examples.sum() / len(data.examples))
    names = [c.name for c in data.corpora]
    return {
        "budget": {"unit": "steps" if cfg.steps is not None else cfg.budget, "passes": cfg.passes,
                   "subsample": data.subsample,
                   "repeats": cfg.repeats, "epochs": None if cfg.steps is not None else cfg.epochs,
                   "steps": loop.cfg.total_steps, "batches_per_pass": math.ceil(len(data.examples) / cfg.batch_size)},
        "steps": loop.step_count,
        "passes_over_corpus": passes,
        "passes_per_corpus": {n: float(used.examples[i] / sizes[i]) if sizes[i] else 0.0 for i, n in enumerate(names)},
        "repeats": cfg.repeats,
        "repeats_done": passes / cfg.epochs if cfg.steps is None else passes,
        "tokens_seen": int(loop.units_seen),
        "tokens_per_corpus": {n: int(used.tokens[i]) for i, n in enumerate(names)},
        "predicted_words": used.predicted,
    }


def pretrain(cfg: PretrainConfig, out: str | os.PathLike, overwrite: bool = False) -> Path:
    """Run pre-training and write the checkpoint folder ``out`` (atomically).

    Returns the folder; its ``training_state.json`` holds the records listed in the
    module docstring.
    """
    from esplade_eval.train import common

    device = common.start_run(out, overwrite, cfg.threads, cfg.device)
    timer = common.Timer()
    data = prepare_data(cfg)
    model, transfer = build_model(cfg, data, device)

    def run_eval() -> dict:
        return {arm: evaluate_mlm(model, ex, data.tokenizer, cfg.mask_rate, 128, device, baseline_id=data.baseline_id)
                for arm, ex in data.heldout.items()}

    eval_before = run_eval()
    loop, used = train_mlm(model, data, cfg, device)
    eval_after = run_eval()
    train_seconds = loop.train_seconds
    wordpiece = cfg.output_vocab == "wordpiece"
    state = {
        "kind": "splade-pretrain" if wordpiece else "esplade-pretrain",
        "config": asdict(cfg),
        "corpora": [c.describe() for c in data.corpora],
        "eval_docs": data.eval_docs.record(),
        "train_examples": len(data.examples),
        "train_tokens_per_pass": int(sum(len(e.ids) for e in data.examples)),
        "output_vocab": data.vocab_record,
        "model": {"preset": None if cfg.init_encoder else cfg.preset, "init_encoder": cfg.init_encoder,
                  "head_transfer": transfer, "parameters": sum(p.numel() for p in model.parameters()),
                  "config": model.config.to_diff_dict()},
        "lr_schedule": loop.schedule_record(),
        **budget_record(cfg, data, loop, used),
        "train_wall_time_s": round(train_seconds, 2),
        "wall_time_s": round(timer.seconds, 2),
        "tokens_per_s": round(loop.units_seen / train_seconds, 1) if train_seconds else None,
        **common.environment(cfg.seed, device),
        "frequency_baseline_word": data.vocab[data.baseline_id],
        "heldout_mlm_before": eval_before,
        "heldout_mlm": eval_after,
        "final_loss_ema": loop.loss_ema,
    }
    log.info("pre-training done: %s", json.dumps({k: state[k] for k in ("steps", "tokens_seen", "heldout_mlm")}))
    return common.save_checkpoint(out, model, data.tokenizer, None if wordpiece else data.vocab,
                                  {"training_state.json": state, "trainer_log.json": {"history": loop.history}},
                                  overwrite=overwrite, vocab_meta=data.vocab_record)
