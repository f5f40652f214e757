"""MLM pre-training of ESPLADE models with whole-word masking over the output vocabulary.

Inputs are WordPiece (bert-base-uncased); a *word* is one pre-token of the BERT tokenizer
(whitespace and punctuation split), i.e. all the pieces ``em ##bed ##ding ##s`` of
"embeddings". Per text, ``max(1, round(rate * n_words))`` words are chosen among the words
that hold letters or digits; every piece of a chosen word is replaced by ``[MASK]`` (80%),
by random WordPiece ids (10%, drawn from ids >= 1996, the first real word of the vocabulary)
or kept (10%), as in BERT.

**Target and position.** The target of a masked word is its normalised form
(:func:`esplade_eval.data.corpora.words` of the word's original characters, which must
give exactly one word) looked up in the output vocabulary. The whole word is predicted
once, from the hidden state of its *first* piece: the loss is the cross-entropy over the
output vocabulary at those positions only. Masked words outside the vocabulary carry no
loss (they still act as noise the model must read through). Running the head only on the
predicted positions (about 15% of the tokens) is what makes a large output vocabulary
cheap; see ``benchmarks/pretrain.py``.

**Held-out accuracy** is top-1 accuracy at masked in-vocabulary words of held-out texts
(:func:`esplade_eval.data.corpora.is_heldout`), for both the ``general`` and the ``titles``
arm, with a fixed masking seed and every chosen piece set to ``[MASK]``. The frequency
baseline always predicts the most frequent target of the training texts.

Long texts are cut into chunks of at most ``max_words`` whitespace words before
tokenisation, so truncation at ``max_length`` wastes little text. Batches are built from
length-sorted windows (little padding), in a seeded random order.

>>> from esplade_eval.train.pretrain import PretrainConfig
>>> PretrainConfig(steps=10).total_steps(n_examples=1000)
10
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from esplade_eval.data.corpora import ARMS, load_corpus, words
from esplade_eval.errors import EspladeError

log = logging.getLogger(__name__)

FIRST_WORD_ID = 1996  # "the" in bert-base-uncased: ids below are [unused*], specials and single chars
NOT_A_WORD = -2  # a pre-token without letters/digits (punctuation): never masked
OUT_OF_VOCAB = -1


@dataclass
class PretrainConfig:
    """Everything that defines a pre-training run (recorded in ``training_state.json``)."""

    corpora: list[str] = field(default_factory=lambda: ["general", "titles"])
    vocab: str | None = None  # folder or file with output_vocab.txt; None: build from the corpora
    vocab_size: int = 10000
    vocab_min_count: int = 2
    preset: str = "tiny"  # or a JSON file of BertConfig fields
    lr: float = 5e-4
    repeats: int = 1  # passes over the corpus in the training stream
    epochs: float = 1.0  # passes over the stream (ignored when steps is given)
    steps: int | None = None
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
    eval_texts: int = 1000  # held-out texts per arm
    log_every: int = 10
    progress: bool = True

    def total_steps(self, n_examples: int) -> int:
        if self.steps is not None:
            return int(self.steps)
        return max(1, math.ceil(self.epochs * self.repeats * n_examples / self.batch_size))

    def warmup_steps(self, total: int) -> int:
        return int(self.warmup) if self.warmup >= 1 else int(round(self.warmup * total))


@dataclass
class Example:
    """One tokenised text: ``ids`` (WordPiece ids), ``word`` (word index per token, -1 for
    specials) and ``target`` (output-vocabulary id per word, or OUT_OF_VOCAB / NOT_A_WORD)."""

    ids: np.ndarray
    word: np.ndarray
    target: np.ndarray


def chunk_text(text: str, max_words: int) -> list[str]:
    toks = text.split()
    return [" ".join(toks[i:i + max_words]) for i in range(0, len(toks), max_words)] or []


def tokenize_examples(tokenizer, texts: Sequence[str], vocab_index: dict[str, int], max_length: int,
                      batch: int = 2048) -> list[Example]:
    """Tokenise texts and resolve each BERT word to its output-vocabulary target."""
    out: list[Example] = []
    for s in range(0, len(texts), batch):
        part = list(texts[s:s + batch])
        enc = tokenizer(part, truncation=True, max_length=max_length, return_offsets_mapping=True,
                        return_attention_mask=False, return_token_type_ids=False)
        for i, text in enumerate(part):
            wids = enc.word_ids(i)
            offs = enc["offset_mapping"][i]
            spans: dict[int, list[int]] = {}
            for t, w in enumerate(wids):
                if w is None:
                    continue
                if w in spans:
                    spans[w][1] = offs[t][1]
                else:
                    spans[w] = [offs[t][0], offs[t][1]]
            order = sorted(spans)
            remap = {w: j for j, w in enumerate(order)}
            word = np.array([-1 if w is None else remap[w] for w in wids], dtype=np.int32)
            target = np.empty(len(order), dtype=np.int64)
            for j, w in enumerate(order):
                ws = words(text[spans[w][0]:spans[w][1]])
                target[j] = NOT_A_WORD if len(ws) != 1 else vocab_index.get(ws[0], OUT_OF_VOCAB)
            out.append(Example(np.asarray(enc["input_ids"][i], dtype=np.int64), word, target))
    return out


def mask_batch(batch: Sequence[Example], rng: np.random.Generator, rate: float, mask_id: int, pad_id: int,
               input_vocab_size: int, always_mask: bool = False):
    """Whole-word masking: ``(input_ids, attention_mask, rows, cols, labels)`` tensors.

    ``rows, cols`` index the first piece of each masked in-vocabulary word; ``labels`` its
    output-vocabulary id.
    """
    import torch

    width = max(len(ex.ids) for ex in batch)
    ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    att = np.zeros((len(batch), width), dtype=np.int64)
    rows, cols, labels = [], [], []
    for r, ex in enumerate(batch):
        row = ex.ids.copy()
        cand = np.flatnonzero(ex.target != NOT_A_WORD)
        if len(cand):
            k = max(1, int(round(rate * len(cand))))
            for w in np.sort(rng.choice(cand, size=k, replace=False)):
                toks = np.flatnonzero(ex.word == w)
                if not len(toks):
                    continue
                u = 0.0 if always_mask else rng.random()
                if u < 0.8:
                    row[toks] = mask_id
                elif u < 0.9:
                    row[toks] = rng.integers(FIRST_WORD_ID, input_vocab_size, size=len(toks))
                if ex.target[w] >= 0:
                    rows.append(r)
                    cols.append(int(toks[0]))
                    labels.append(int(ex.target[w]))
        ids[r, :len(row)] = row
        att[r, :len(row)] = 1
    as_t = torch.from_numpy
    return (as_t(ids), as_t(att), torch.tensor(rows, dtype=torch.long), torch.tensor(cols, dtype=torch.long),
            torch.tensor(labels, dtype=torch.long))


def batch_order(lengths: np.ndarray, batch_size: int, rng: np.random.Generator, window: int = 50) -> list[np.ndarray]:
    """One pass: shuffle, sort windows of ``window`` batches by length, shuffle the batches."""
    perm = rng.permutation(len(lengths))
    batches = []
    span = batch_size * window
    for s in range(0, len(perm), span):
        part = perm[s:s + span]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def stream(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    while True:
        yield from batch_order(lengths, batch_size, rng)


def mlm_forward(model, ids, att, rows, cols, labels):
    """Cross-entropy at the predicted positions and the logits there."""
    import torch.nn.functional as F

    hidden = model.base_model(input_ids=ids, attention_mask=att)[0]
    logits = model.mlm_head(hidden[rows, cols])
    return F.cross_entropy(logits.float(), labels), logits


def evaluate_mlm(model, examples: list[Example], tokenizer, rate: float, batch_size: int, device: str,
                 seed: int = 12345, baseline_id: int | None = None) -> dict:
    """Top-1 accuracy at masked in-vocabulary words (fixed masking, every piece [MASK])."""
    import torch

    if not examples:
        return {"accuracy": None, "masked_words": 0}
    rng = np.random.default_rng(seed)
    order = np.argsort([len(e.ids) for e in examples], kind="stable")
    correct = total = base_hits = 0
    loss_sum = 0.0
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            batch = [examples[i] for i in order[s:s + batch_size]]
            ids, att, rows, cols, labels = mask_batch(batch, rng, rate, tokenizer.mask_token_id,
                                                      tokenizer.pad_token_id, len(tokenizer), always_mask=True)
            if not len(labels):
                continue
            loss, logits = mlm_forward(model, ids.to(device), att.to(device), rows.to(device), cols.to(device),
                                       labels.to(device))
            pred = logits.argmax(-1).cpu()
            correct += int((pred == labels).sum())
            total += len(labels)
            loss_sum += float(loss) * len(labels)
            if baseline_id is not None:
                base_hits += int((labels == baseline_id).sum())
    model.train(was_training)
    out = {"accuracy": correct / total if total else None, "loss": loss_sum / total if total else None,
           "masked_words": total, "texts": len(examples)}
    if baseline_id is not None:
        out["frequency_baseline_accuracy"] = base_hits / total if total else None
    return out


def _chunks(texts: Sequence[str], max_words: int) -> list[str]:
    return [c for t in texts for c in chunk_text(t, max_words)]


def init_from_wordpiece(checkpoint: str, vocab: list[str], tokenizer):
    """An ESPLADE model whose encoder is copied from a BERT/SPLADE masked-LM checkpoint.

    The head is *mapped*, not random: its transform (dense + LayerNorm) is the source
    head's, and the output row (weight and bias) of each word is the mean of the source
    rows of the word's WordPiece pieces. The source checkpoint must use the same input
    tokenizer. Returns the model and a record of the mapping.
    """
    import torch
    from transformers import AutoModelForMaskedLM

    from esplade_eval.model.checkpoint import resolve_checkpoint
    from esplade_eval.model.esplade import EspladeConfig, EspladeForMaskedLM

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
            for i, word in enumerate(vocab):
                ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(word)) or [tokenizer.unk_token_id]
                single += len(ids) == 1
                model.mlm_head.decoder.weight[i] = w_src[ids].mean(0)
                model.mlm_head.decoder.bias[i] = b_src[ids].mean(0)
    record = {"source": str(checkpoint), "encoder_missing_keys": list(missing.missing_keys),
              "head": "mean of source WordPiece rows per word" if src_head is not None else "random",
              "single_piece_words": single}
    return model, record


def pretrain(cfg: PretrainConfig, out: str | os.PathLike, overwrite: bool = False) -> Path:
    """Run pre-training and write the checkpoint folder ``out`` (atomically).

    Returns the folder; its ``training_state.json`` holds the records listed in the
    module docstring.
    """
    import torch
    from tqdm.auto import tqdm

    from esplade_eval.model.esplade import EspladeForMaskedLM
    from esplade_eval.train import common
    from esplade_eval.train.vocab import build_vocab, read_vocab

    if Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out}: already exists (pass --overwrite to replace it)")
    if not cfg.corpora:
        raise EspladeError("pre-training needs at least one corpus")
    common.quiet_transformers()
    common.set_threads(cfg.threads)
    device = common.pick_device(cfg.device)
    timer = common.Timer()

    corpora = [load_corpus(name) for name in cfg.corpora]
    train_texts = [t for c in corpora for t in c.train]
    if cfg.vocab:
        vocab = read_vocab(cfg.vocab)
        vocab_source = str(cfg.vocab)
    else:
        vocab = build_vocab(train_texts, cfg.vocab_size, cfg.vocab_min_count)
        vocab_source = f"built from the training texts of {'+'.join(cfg.corpora)}"
    vocab_index = {w: i for i, w in enumerate(vocab)}

    tokenizer = common.load_input_tokenizer()
    examples = tokenize_examples(tokenizer, _chunks(train_texts, cfg.max_words), vocab_index, cfg.max_length)
    if not examples:
        raise EspladeError("the training corpora hold no text")
    heldout = {}
    for arm in ARMS:
        texts = _chunks(load_corpus(arm).heldout, cfg.max_words)[:cfg.eval_texts] if cfg.eval_texts > 0 else []
        heldout[arm] = tokenize_examples(tokenizer, texts, vocab_index, cfg.max_length)
    target_counts = np.bincount(np.concatenate([e.target[e.target >= 0] for e in examples]),
                                minlength=len(vocab))
    baseline_id = int(target_counts.argmax())

    common.seed_everything(cfg.seed)
    transfer = None
    if cfg.init_encoder:
        model, transfer = init_from_wordpiece(cfg.init_encoder, vocab, tokenizer)
        model_cfg = model.config
    else:
        model_cfg = common.model_config(cfg.preset, len(vocab), len(tokenizer))
        model = EspladeForMaskedLM(model_cfg)
    model.to(device)
    model.train()
    total = cfg.total_steps(len(examples))
    warm = cfg.warmup_steps(total)
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    sched = common.linear_schedule(opt, warm, total)

    def run_eval() -> dict:
        return {arm: evaluate_mlm(model, ex, tokenizer, cfg.mask_rate, 128, device, baseline_id=baseline_id)
                for arm, ex in heldout.items()}

    eval_before = run_eval()
    rng = np.random.default_rng(cfg.seed)
    lengths = np.array([len(e.ids) for e in examples])
    batches = stream(lengths, cfg.batch_size, rng)
    history, tokens_seen, examples_seen, predicted = [], 0, 0, 0
    train_timer = common.Timer()
    bar = tqdm(total=total, desc="pretrain", unit="step", disable=not cfg.progress, dynamic_ncols=True)
    step, running = 0, None
    while step < total:
        idx = next(batches)
        batch = [examples[i] for i in idx]
        ids, att, rows, cols, labels = mask_batch(batch, rng, cfg.mask_rate, tokenizer.mask_token_id,
                                                  tokenizer.pad_token_id, len(tokenizer))
        examples_seen += len(batch)
        if not len(labels):
            continue
        with common.autocast(device):
            loss, _ = mlm_forward(model, ids.to(device), att.to(device), rows.to(device), cols.to(device),
                                  labels.to(device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        tokens_seen += int(att.sum())
        predicted += len(labels)
        value = loss.item()
        running = value if running is None else 0.9 * running + 0.1 * value
        if step % cfg.log_every == 0 or step == total:
            history.append({"step": step, "loss": value, "loss_ema": running, "lr": sched.get_last_lr()[0],
                            "tokens_seen": tokens_seen, "elapsed_s": round(train_timer.seconds, 3)})
        bar.set_postfix(loss=f"{running:.3f}", tok_s=f"{tokens_seen / max(train_timer.seconds, 1e-9):,.0f}")
        bar.update(1)
    bar.close()
    train_seconds = train_timer.seconds
    eval_after = run_eval()

    n_params = sum(p.numel() for p in model.parameters())
    state = {
        "kind": "esplade-pretrain",
        "config": asdict(cfg),
        "corpora": [c.describe() for c in corpora],
        "train_examples": len(examples),
        "train_tokens_per_pass": int(lengths.sum()),
        "output_vocab": {"size": len(vocab), "source": vocab_source, "min_count": cfg.vocab_min_count},
        "model": {"preset": None if cfg.init_encoder else cfg.preset, "init_encoder": cfg.init_encoder,
                  "head_transfer": transfer, "parameters": n_params, "config": model_cfg.to_diff_dict()},
        "lr_schedule": common.schedule_record(cfg.lr, warm, total),
        "steps": step,
        "passes_over_corpus": examples_seen / len(examples),
        "repeats": cfg.repeats,
        "tokens_seen": tokens_seen,
        "predicted_words": predicted,
        "train_wall_time_s": round(train_seconds, 2),
        "wall_time_s": round(timer.seconds, 2),
        "tokens_per_s": round(tokens_seen / train_seconds, 1) if train_seconds else None,
        "seed": cfg.seed,
        "device": device,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "frequency_baseline_word": vocab[baseline_id],
        "heldout_mlm_before": eval_before,
        "heldout_mlm": eval_after,
        "final_loss_ema": running,
    }
    log.info("pre-training done: %s", json.dumps({k: state[k] for k in ("steps", "tokens_seen", "heldout_mlm")}))
    return common.save_checkpoint(out, model, tokenizer, vocab,
                                  {"training_state.json": state, "trainer_log.json": {"history": history}},
                                  overwrite=overwrite)
