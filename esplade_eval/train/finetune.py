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
dot product (:mod:`esplade_eval.train.evaluation`); the best validated weights are saved.
Step 0 (the initial model) is validated and recorded unless ``validate_init`` is off;
it is never a candidate.

Initialisation (``init``): an ESPLADE checkpoint (its ``output_vocab.txt`` is kept), a
plain SPLADE / BERT masked-LM checkpoint such as ``splade-tiny`` (the output vocabulary
is the WordPiece vocabulary; the head is kept), or ``random`` (an ESPLADE model of
``preset`` size over the vocabulary in ``vocab``).
"""

from __future__ import annotations

import logging
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from esplade_eval.errors import EspladeError, InputError

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
    progress: bool = True


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
    from esplade_eval.train.evaluation import in_memory_encoder
    from esplade_eval.train.vocab import read_vocab

    if cfg.init == "random":
        if not cfg.vocab:
            raise EspladeError("--init random needs --vocab (a folder or file with output_vocab.txt)")
        tokenizer = common.load_input_tokenizer()
        vocab = read_vocab(cfg.vocab)
        common.seed_everything(cfg.seed)
        model = EspladeForMaskedLM(common.model_config(cfg.preset, len(vocab), len(tokenizer))).to(device)
        encoder = in_memory_encoder(model, tokenizer, vocab, cfg.max_doc_length, device, name="random")
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
    from esplade_eval._io import open_text

    pairs, qrels = [], {}
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            q, sep, d = line.partition("\t")
            if not sep or not q.strip() or not d.strip():
                raise InputError(path, "expected 'query<TAB>document'", line=lineno)
            q, d = " ".join(q.split()), " ".join(d.split())
            pairs.append((q, q, d, d))
            qrels.setdefault(q, {})[d] = 2
    return pairs, qrels


def _tokenize(tokenizer, texts, max_length, device):
    enc = tokenizer(list(texts), max_length=max_length, truncation=True, padding=True, return_tensors="pt",
                    return_token_type_ids=False)
    return enc["input_ids"].to(device), enc["attention_mask"].to(device)


def encode_train(model, tokenizer, texts, max_length: int, device: str, topk: int | None = None):
    """Differentiable SPLADE vectors ``(len(texts), output vocab)``; head on real tokens only."""
    import torch

    from esplade_eval.model.encoder import _find_head
    from esplade_eval.model.pooling import splade_segment_pool

    parts = _find_head(model)
    if parts is None:
        raise EspladeError(f"{type(model).__name__}: cannot find the encoder and MLM head")
    base, head = parts
    ids, att = _tokenize(tokenizer, texts, max_length, device)
    hidden = base(input_ids=ids, attention_mask=att)[0]
    weights = splade_segment_pool(head(hidden[att.bool()]).float(), att.sum(1))
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


def finetune(cfg: FinetuneConfig, out: str | os.PathLike, overwrite: bool = False) -> Path:
    """Fine-tune ``cfg.init`` and write the best validated checkpoint to ``out``."""
    import torch
    from tqdm.auto import tqdm

    from esplade_eval.data.semanlink import ensure_semanlink
    from esplade_eval.train import common
    from esplade_eval.train.evaluation import evaluate_encoder, load_split

    if Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out}: already exists (pass --overwrite to replace it)")
    common.quiet_transformers()
    common.set_threads(cfg.threads)
    device = common.pick_device(cfg.device)
    timer = common.Timer()
    collection = ensure_semanlink(cfg.collection)
    if cfg.train == "semanlink":
        pairs, qrels = semanlink_pairs(collection, "train")
        train_source = f"semanlink train split ({cfg.collection})"
    else:
        pairs, qrels = tsv_pairs(cfg.train)
        train_source = str(cfg.train)
    if len(pairs) < 2:
        raise EspladeError(f"{cfg.train}: need at least 2 training pairs, found {len(pairs)}")

    negatives: dict[str, list[str]] = {}
    titles: dict[str, str] = {}
    if cfg.hard_negatives:
        if cfg.train != "semanlink":
            raise EspladeError("BM25 hard negatives are mined from the Semanlink corpus: use --train semanlink")
        from esplade_eval.data.trec import read_corpus
        from esplade_eval.train.negatives import bm25_negatives

        titles = dict(read_corpus(collection.corpus))
        queries = {qid: q for qid, q, _, _ in pairs}
        negatives = bm25_negatives(collection, queries, qrels, depth=cfg.bm25_depth)

    encoder, vocab, init_desc = load_init(cfg, device)
    model, tokenizer = encoder.model, encoder.tokenizer
    common.seed_everything(cfg.seed)
    model.to(device).train()
    dev = load_split(collection, "dev") if cfg.validate else None

    def validate() -> dict:
        model.eval()
        # queries are encoded at the document length limit too (titles and tags are short)
        res = evaluate_encoder(encoder, dev)
        model.train()
        return {"nDCG@10": res["aggregate"]["nDCG@10"], **res["stats"]}

    # a fixed probe (first 64 pairs, no FLOPS) shows whether the contrastive loss went down
    probe = pairs[:64]

    def probe_loss() -> float:
        model.eval()
        with torch.inference_mode():
            q = encode_train(model, tokenizer, [p[1] for p in probe], cfg.max_query_length, device)
            d = encode_train(model, tokenizer, [p[3] for p in probe], cfg.max_doc_length, device)
            loss = contrastive_loss(q, d, false_negative_mask(probe, [p[2] for p in probe], qrels, device))
        model.train()
        return float(loss)

    total = cfg.steps
    warm = int(cfg.warmup) if cfg.warmup >= 1 else int(round(cfg.warmup * total))
    flops_warm = cfg.flops_warmup if cfg.flops_warmup is not None else max(1, total // 2)
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    sched = common.linear_schedule(opt, warm, total)

    probe_before = probe_loss()
    dev_history = []
    if dev is not None and cfg.validate_init:
        dev_history.append({"step": 0, **validate()})
    best = {"step": None, "nDCG@10": -1.0}
    best_state = None
    rng = np.random.default_rng(cfg.seed)
    order: list[int] = []
    history = []
    running = None
    train_timer = common.Timer()
    texts_seen = 0
    val_seconds = 0.0  # validation inside the loop is not training time
    bar = tqdm(total=total, desc="finetune", unit="step", disable=not cfg.progress, dynamic_ncols=True)
    for step in range(1, total + 1):
        if len(order) < cfg.batch_size:
            order.extend(rng.permutation(len(pairs)).tolist())
        idx, order = order[:cfg.batch_size], order[cfg.batch_size:]
        batch = [pairs[i] for i in idx]
        doc_ids = [p[2] for p in batch]
        doc_texts = [p[3] for p in batch]
        for qid, _, _, _ in batch:
            cands = negatives.get(qid, [])
            for _ in range(cfg.hard_negatives if cands else 0):
                did = cands[int(rng.integers(len(cands)))]
                doc_ids.append(did)
                doc_texts.append(titles[did])
        lam = min(1.0, step / flops_warm) ** 2
        with common.autocast(device):
            q = encode_train(model, tokenizer, [p[1] for p in batch], cfg.max_query_length, device, cfg.train_topk_q)
            d = encode_train(model, tokenizer, doc_texts, cfg.max_doc_length, device, cfg.train_topk_d)
            rank_loss = contrastive_loss(q, d, false_negative_mask(batch, doc_ids, qrels, device))
            fq, fd = flops(q), flops(d)
            loss = rank_loss + cfg.lambda_q * lam * fq + cfg.lambda_d * lam * fd
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        texts_seen += len(batch) + len(doc_texts)
        value = loss.item()
        running = value if running is None else 0.9 * running + 0.1 * value
        if step % cfg.log_every == 0 or step == total:
            history.append({"step": step, "loss": value, "rank_loss": rank_loss.item(), "flops_q": fq.item(),
                            "flops_d": fd.item(), "lambda_factor": lam, "lr": sched.get_last_lr()[0],
                            "elapsed_s": round(train_timer.seconds, 3)})
        rate = texts_seen / max(train_timer.seconds - val_seconds, 1e-9)
        bar.set_postfix(loss=f"{running:.3f}", texts_s=f"{rate:,.0f}")
        bar.update(1)
        if dev is not None and ((cfg.eval_every and step % cfg.eval_every == 0) or step == total):
            val_timer = common.Timer()
            entry = {"step": step, **validate()}
            val_seconds += val_timer.seconds
            dev_history.append(entry)
            log.info("dev nDCG@10 at step %d: %.4f", step, entry["nDCG@10"])
            if entry["nDCG@10"] > best["nDCG@10"]:
                best = {"step": step, "nDCG@10": entry["nDCG@10"]}
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    bar.close()
    train_seconds = train_timer.seconds - val_seconds
    probe_after = probe_loss()
    if best_state is not None and best["step"] != total:
        model.load_state_dict(best_state)
    del best_state
    state = {
        "kind": "esplade-finetune",
        "config": asdict(cfg),
        "init": init_desc,
        "train_source": train_source,
        "train_pairs": len(pairs),
        "train_queries": len({p[0] for p in pairs}),
        "output_vocab_size": len(encoder.terms),
        "lr_schedule": common.schedule_record(cfg.lr, warm, total),
        "flops_schedule": {"lambda_q": cfg.lambda_q, "lambda_d": cfg.lambda_d, "warmup_steps": flops_warm,
                           "rule": "lambda * min(1, step / warmup_steps) ** 2"},
        "steps": total,
        "passes_over_pairs": total * cfg.batch_size / len(pairs),
        "probe_loss_before": probe_before,
        "probe_loss_after": probe_after,
        "dev": dev_history,
        "best": best,
        "train_wall_time_s": round(train_seconds, 2),
        "validation_wall_time_s": round(val_seconds, 2),
        "wall_time_s": round(timer.seconds, 2),
        "seed": cfg.seed,
        "device": device,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }
    model.to("cpu")
    return common.save_checkpoint(out, model, tokenizer, vocab,
                                  {"finetune_state.json": state, "trainer_log.json": {"history": history}},
                                  overwrite=overwrite)
