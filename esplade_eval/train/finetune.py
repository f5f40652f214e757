"""Retrieval fine-tuning of SPLADE / ESPLADE models (contrastive loss + FLOPS).

Training pairs are ``(query, relevant title)``: by default every grade-2 (direct tag)
pair of the Semanlink **train** split, or a user TSV ``query<TAB>document`` per line.
A batch of ``B`` pairs scores every query against every document of the batch (in-batch
negatives) plus ``hard_negatives`` BM25 negatives per pair (Anserini over the corpus,
see :mod:`esplade_eval.train.negatives`). A batch document that is relevant to another
query of the batch is not used as that query's negative (its score is masked).

Loss, per step ``t``::

    InfoNCE(q . d) + lambda_q(t) * FLOPS(q) + lambda_d(t) * FLOPS(d)
    FLOPS(w) = sum_term (mean_batch w_term)^2
    lambda(t) = lambda * min(1, t / flops_warmup)^2        (SPLADE's quadratic warm-up)

Vectors are SPLADE max-pooled ``log(1 + ReLU(logits))``; ``train_topk_q`` /
``train_topk_d`` optionally keep only the top-k weights during training.

Validation: every ``eval_every`` steps and at the end, nDCG@10 on the Semanlink **dev**
split with the shared ``SpladeEncoder``, ``Quantizer`` (rint x100) and an exact sparse
dot product (:mod:`esplade_eval.train.validation`); the best validated weights are saved.
Step 0 (the initial model) is validated and recorded unless ``validate_init`` is off;
it is never a candidate. With ``progress`` on, a bar shows the dev documents and queries
being encoded.

Training vectors come from the same encoder that validates and exports
(:meth:`esplade_eval.model.encoder.SpladeEncoder.text_weights`), and the optimisation
(AdamW, warm-up and decay, autocast, clipping, records) is the loop shared with
pre-training (:mod:`esplade_eval.train.loop`).

Initialisation (``init``): an ESPLADE checkpoint (its ``output_vocab.txt`` is kept), a
plain SPLADE / BERT masked-LM checkpoint such as ``splade-tiny`` (the output vocabulary
is the WordPiece vocabulary; the head is kept), or ``random`` (an ESPLADE model of
``preset`` size over the vocabulary in ``vocab``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from esplade_eval.errors import EspladeError, InputError
from esplade_eval.train.loop import BestWeights, LoopConfig, TrainingLoop

log = logging.getLogger(__name__)


@dataclass
class FinetuneConfig:
    """Everything that defines a fine-tuning run (recorded in ``finetune_state.json``)."""

    init: str = "splade-tiny"
    preset: str = "tiny"  # for init="random"
    vocab: str | None = None  # for init="random": folder or file with output_vocab.txt
    train: str = "semanlink"  # or a TSV of query<TAB>document pairs
    collection: str = "artifacts/semanlink"  # the built Semanlink collection (built when missing)
    steps: int = 200
    batch_size: int = 32
    lr: float = 2e-4
    warmup: float = 0.1
    weight_decay: float = 0.01
    lambda_q: float = 3e-4
    lambda_d: float = 1e-4
    flops_warmup: int | None = None  # steps of quadratic lambda warm-up; None: half the steps
    hard_negatives: int = 0
    bm25_depth: int = 50
    train_topk_q: int | None = None
    train_topk_d: int | None = None
    max_query_length: int = 32
    max_doc_length: int = 64
    eval_every: int | None = None  # None: only at the end
    validate: bool = True
    validate_init: bool = True  # also validate (and record) the initial model at step 0
    seed: int = 0
    threads: int | None = None
    device: str | None = None
    log_every: int = 10
    progress: bool | None = None  # bars: None only on a terminal, True always, False never
    cpu_bf16: bool = False  # training steps under bf16 autocast on the CPU: faster, not bit-identical (off)
    freeze_head: bool = False  # the output rows (decoder weight, bias) stay as the start has them (freeze_output_rows)

    def __post_init__(self):
        import math

        for name in ("steps", "batch_size"):  # no steps would write an untrained copy as "fine-tuned"
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise EspladeError(f"fine-tuning: {name} must be a whole number >= 1, got {value!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise EspladeError(f"fine-tuning: lr must be a finite number > 0, got {self.lr!r}")


def load_init(cfg: FinetuneConfig, device: str = "cpu"):
    """``(encoder, output_vocab or None, description)`` for ``cfg.init``.

    ``encoder`` is a ``SpladeEncoder`` (queries and documents cut at ``max_doc_length``)
    around the model to train, on ``device``; ``output_vocab`` is the ESPLADE vocabulary
    to save with the model, None for a WordPiece (SPLADE) head.
    """
    from esplade_eval.model.checkpoint import OUTPUT_VOCAB, resolve_checkpoint
    from esplade_eval.model.encoder import SpladeEncoder
    from esplade_eval.model.esplade import EspladeForMaskedLM
    from esplade_eval.train import common
    from esplade_eval.train.vocab import read_vocab

    if cfg.init == "random":
        if not cfg.vocab:
            raise EspladeError("--init random needs --vocab (a folder or file with output_vocab.txt)")
        tokenizer = common.load_input_tokenizer()
        vocab = read_vocab(cfg.vocab)
        common.seed_everything(cfg.seed)
        model = EspladeForMaskedLM(common.model_config(cfg.preset, len(vocab), len(tokenizer))).to(device)
        encoder = SpladeEncoder.from_model(model, tokenizer, vocab, max_length=cfg.max_doc_length, device=device,
                                           batch_size=256, name="random")
        return encoder, vocab, f"random ESPLADE ({cfg.preset}, vocab {len(vocab)} from {cfg.vocab})"
    # the encoder loads the checkpoint, its output vocabulary (or the tokenizer's) and checks the head size
    encoder = SpladeEncoder.from_checkpoint(cfg.init, max_length=cfg.max_doc_length, device=device, batch_size=256)
    if encoder.info.vocab_source == OUTPUT_VOCAB:
        return encoder, read_vocab(resolve_checkpoint(cfg.init)), f"ESPLADE checkpoint {cfg.init}"
    return encoder, None, f"SPLADE (WordPiece output) checkpoint {cfg.init}"


def semanlink_pairs(collection, split: str = "train") -> tuple[list[tuple[str, str, str, str]], dict]:
    """``[(qid, query, docid, title)]`` for grade-2 judgments of non-empty titles, and the qrels."""
    from esplade_eval.data.trec import read_corpus, read_qrels, read_topics

    titles = dict(read_corpus(collection.corpus))
    topics = read_topics(collection.topics(split))
    qrels = read_qrels(collection.qrels(split))
    pairs = []
    for qid in sorted(qrels):
        for did in sorted(qrels[qid]):
            if qrels[qid][did] >= 2 and titles.get(did) and qid in topics:
                pairs.append((qid, topics[qid], did, titles[did]))
    return pairs, qrels


def tsv_pairs(path: str | os.PathLike) -> tuple[list[tuple[str, str, str, str]], dict]:
    """Pairs from ``query<TAB>document`` lines; ids are the texts themselves."""
    from esplade_eval._read import numbered_lines

    pairs, qrels = [], {}
    for lineno, line in numbered_lines(path):
        q, sep, d = line.partition("\t")
        if not sep or not q.strip() or not d.strip():
            raise InputError(path, "expected 'query<TAB>document'", line=lineno)
        q, d = " ".join(q.split()), " ".join(d.split())
        pairs.append((q, q, d, d))
        qrels.setdefault(q, {})[d] = 2
    return pairs, qrels


def encode_train(encoder, texts, max_length: int, topk: int | None = None):
    """Differentiable SPLADE vectors ``(len(texts), terms)``, optionally only the top-``k`` weights kept."""
    import torch

    weights = encoder.text_weights(texts, max_length)
    if topk:
        vals, idx = weights.topk(min(topk, weights.shape[1]), dim=1)
        weights = torch.zeros_like(weights).scatter(1, idx, vals)
    return weights


def flops(weights):
    """SPLADE's FLOPS regulariser: ``sum_t (mean_batch w_t)^2``."""
    return (weights.mean(0) ** 2).sum()


def contrastive_loss(q, d, positives_mask=None):
    """InfoNCE over dot products; query ``i``'s positive is document ``i``."""
    import torch
    import torch.nn.functional as F

    scores = q @ d.T
    if positives_mask is not None:
        scores = scores.masked_fill(positives_mask, float("-inf"))
    return F.cross_entropy(scores, torch.arange(len(q), device=q.device))


def false_negative_mask(batch, doc_ids, qrels, device):
    """True where a batch document (other than the pair's own) is relevant to the query."""
    import torch

    mask = torch.zeros((len(batch), len(doc_ids)), dtype=torch.bool)
    for i, (qid, _, _, _) in enumerate(batch):
        rel = qrels.get(qid, {})
        for j, did in enumerate(doc_ids):
            if j != i and rel.get(did, 0) > 0:
                mask[i, j] = True
    return mask.to(device)


@dataclass
class TrainPairs:
    """Training pairs, their judgments, and BM25 negatives (``{qid: [docid]}``, titles by docid)."""

    pairs: list[tuple[str, str, str, str]]
    qrels: dict[str, dict[str, int]]
    source: str
    negatives: dict[str, list[str]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)


def load_pairs(cfg: FinetuneConfig, collection) -> TrainPairs:
    """The training pairs of ``cfg.train`` and, with ``hard_negatives``, BM25 negatives from the corpus."""
    if cfg.train == "semanlink":
        data = TrainPairs(*semanlink_pairs(collection, "train"), f"semanlink train split ({cfg.collection})")
    else:
        data = TrainPairs(*tsv_pairs(cfg.train), str(cfg.train))
    if len(data.pairs) < 2:
        raise EspladeError(f"{cfg.train}: need at least 2 training pairs, found {len(data.pairs)}")
    if cfg.hard_negatives:
        if cfg.train != "semanlink":
            raise EspladeError("BM25 hard negatives are mined from the Semanlink corpus: use --train semanlink")
        from esplade_eval.data.trec import read_corpus
        from esplade_eval.train.negatives import bm25_negatives

        data.titles = dict(read_corpus(collection.corpus))
        queries = {qid: q for qid, q, _, _ in data.pairs}
        data.negatives = bm25_negatives(collection, queries, data.qrels, depth=cfg.bm25_depth)
    return data


class PairBatches:
    """Seeded batches: pairs in epochs of random order, plus ``hard_negatives`` per pair."""

    def __init__(self, data: TrainPairs, batch_size: int, hard_negatives: int, seed: int):
        self.data = data
        self.batch_size = batch_size
        self.hard_negatives = hard_negatives
        self.rng = np.random.default_rng(seed)
        self.order: list[int] = []

    def next(self) -> tuple[list, list[str], list[str]]:
        """``(pairs, document ids, document texts)``; the first ``len(pairs)`` documents are the positives."""
        if len(self.order) < self.batch_size:
            self.order.extend(self.rng.permutation(len(self.data.pairs)).tolist())
        idx, self.order = self.order[:self.batch_size], self.order[self.batch_size:]
        batch = [self.data.pairs[i] for i in idx]
        doc_ids = [p[2] for p in batch]
        doc_texts = [p[3] for p in batch]
        for qid, _, _, _ in batch:
            cands = self.data.negatives.get(qid, [])
            for _ in range(self.hard_negatives if cands else 0):
                did = cands[int(self.rng.integers(len(cands)))]
                doc_ids.append(did)
                doc_texts.append(self.data.titles[did])
        return batch, doc_ids, doc_texts


def ranking_loss(encoder, cfg: FinetuneConfig, batch, doc_ids, doc_texts, qrels, lam: float) -> tuple:
    """Contrastive loss plus the FLOPS terms at factor ``lam``; and the parts, for the records."""
    q = encode_train(encoder, [p[1] for p in batch], cfg.max_query_length, cfg.train_topk_q)
    d = encode_train(encoder, doc_texts, cfg.max_doc_length, cfg.train_topk_d)
    rank_loss = contrastive_loss(q, d, false_negative_mask(batch, doc_ids, qrels, encoder.device))
    fq, fd = flops(q), flops(d)
    loss = rank_loss + cfg.lambda_q * lam * fq + cfg.lambda_d * lam * fd
    return loss, {"rank_loss": rank_loss, "flops_q": fq, "flops_d": fd, "lambda_factor": lam}


def probe_loss(encoder, probe, qrels, cfg: FinetuneConfig) -> float:
    """Contrastive loss (no FLOPS) on a fixed probe: shows whether ranking improved."""
    import torch

    model = encoder.model
    model.eval()
    with torch.inference_mode():
        q = encode_train(encoder, [p[1] for p in probe], cfg.max_query_length)
        d = encode_train(encoder, [p[3] for p in probe], cfg.max_doc_length)
        loss = contrastive_loss(q, d, false_negative_mask(probe, [p[2] for p in probe], qrels, encoder.device))
    model.train()
    return float(loss)


class Validator:
    """nDCG@10 on the dev split with the model as it is now; keeps the history and its own time."""

    def __init__(self, encoder, dev, progress: bool):
        self.encoder = encoder
        self.dev = dev
        self.progress = progress
        self.history: list[dict] = []
        self.seconds = 0.0

    def __call__(self, step: int) -> dict:
        from esplade_eval.train.common import Timer
        from esplade_eval.train.validation import evaluate_encoder

        timer = Timer()
        self.encoder.model.eval()
        # queries are encoded at the document length limit too (titles and tags are short)
        res = evaluate_encoder(self.encoder, self.dev, progress=self.progress)
        self.encoder.model.train()
        entry = {"step": step, "nDCG@10": res["aggregate"]["nDCG@10"], **res["stats"]}
        self.history.append(entry)
        self.seconds += timer.seconds
        return entry


def train_ranking(encoder, data: TrainPairs, cfg: FinetuneConfig, validator: Validator | None):
    """The shared loop over seeded batches, validating every ``eval_every`` steps and at the end."""
    total = cfg.steps
    flops_warm = cfg.flops_warmup if cfg.flops_warmup is not None else max(1, total // 2)
    batches = PairBatches(data, cfg.batch_size, cfg.hard_negatives, cfg.seed)
    best = BestWeights("nDCG@10")
    loop_cfg = LoopConfig(total_steps=total, lr=cfg.lr, warmup=cfg.warmup, weight_decay=cfg.weight_decay,
                          device=encoder.device, log_every=cfg.log_every, progress=cfg.progress, desc="finetune",
                          unit="texts", cpu_bf16=cfg.cpu_bf16)
    with TrainingLoop(encoder.model, loop_cfg) as loop:
        while not loop.done:
            batch, doc_ids, doc_texts = batches.next()
            lam = min(1.0, (loop.step_count + 1) / flops_warm) ** 2
            loop.step(ranking_loss, encoder, cfg, batch, doc_ids, doc_texts, data.qrels, lam,
                      units=len(batch) + len(doc_texts))
            step = loop.step_count
            if validator is not None and ((cfg.eval_every and step % cfg.eval_every == 0) or step == total):
                with loop.paused():
                    entry = validator(step)
                log.info("dev nDCG@10 at step %d: %.4f", step, entry["nDCG@10"])
                best.offer(step, entry["nDCG@10"], encoder.model)
    return loop, best, flops_warm


def freeze_output_rows(model) -> int:
    """Stop training the output layer's rows (weight and bias); returns the parameters frozen.

    Fine-tuning on a small training set moves only the rows of the words its queries and
    documents use; frozen rows keep what the start (its mapping, alignment or MLM pre-training)
    gave every word, and the encoder adapts to them. With tied embeddings (BERT, SPLADE) the
    output weight *is* the input embedding matrix, so that freezes too.
    """
    params = list(model.get_output_embeddings().parameters())
    for param in params:
        param.requires_grad_(False)
    return sum(param.numel() for param in params)


def finetune(cfg: FinetuneConfig, out: str | os.PathLike, overwrite: bool = False) -> Path:
    """Fine-tune ``cfg.init`` and write the best validated checkpoint to ``out``."""
    from esplade_eval.data.semanlink import ensure_semanlink
    from esplade_eval.train import common
    from esplade_eval.train.validation import load_split

    device = common.start_run(out, overwrite, cfg.threads, cfg.device)
    timer = common.Timer()
    collection = ensure_semanlink(cfg.collection)
    data = load_pairs(cfg, collection)
    encoder, vocab, init_desc = load_init(cfg, device)
    model = encoder.model
    frozen = freeze_output_rows(model) if cfg.freeze_head else 0
    common.seed_everything(cfg.seed)
    model.to(device).train()
    validator = Validator(encoder, load_split(collection, "dev"), cfg.progress) if cfg.validate else None
    probe = data.pairs[:64]  # a fixed probe (no FLOPS) shows whether the contrastive loss went down
    probe_before = probe_loss(encoder, probe, data.qrels, cfg)
    if validator is not None and cfg.validate_init:
        validator(0)
    loop, best, flops_warm = train_ranking(encoder, data, cfg, validator)
    probe_after = probe_loss(encoder, probe, data.qrels, cfg)
    best.restore(model, cfg.steps)
    state = {
        "kind": "esplade-finetune",
        "config": asdict(cfg),
        "init": init_desc,
        "train_source": data.source,
        "train_pairs": len(data.pairs),
        "train_queries": len({p[0] for p in data.pairs}),
        "output_vocab_size": len(encoder.terms),
        "frozen_head_parameters": frozen,
        "lr_schedule": loop.schedule_record(),
        "flops_schedule": {"lambda_q": cfg.lambda_q, "lambda_d": cfg.lambda_d, "warmup_steps": flops_warm,
                           "rule": "lambda * min(1, step / warmup_steps) ** 2"},
        "steps": loop.step_count,
        "passes_over_pairs": loop.step_count * cfg.batch_size / len(data.pairs),
        "probe_loss_before": probe_before,
        "probe_loss_after": probe_after,
        "dev": validator.history if validator is not None else [],
        "best": best.record(),
        "train_wall_time_s": round(loop.train_seconds, 2),
        "validation_wall_time_s": round(validator.seconds if validator is not None else 0.0, 2),
        "wall_time_s": round(timer.seconds, 2),
        **common.environment(cfg.seed, device),
    }
    model.to("cpu")
    return common.save_checkpoint(out, model, encoder.tokenizer, vocab,
                                  {"finetune_state.json": state, "trainer_log.json": {"history": loop.history}},
                                  overwrite=overwrite)
