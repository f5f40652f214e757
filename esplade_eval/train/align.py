"""Align a mapped ESPLADE start to its WordPiece source's scores on unlabelled text.

A word head mapped from WordPiece rows (:mod:`esplade_eval.train.headinit`) scores text
unlike its source: a word of several pieces gets one term where SPLADE matched several, so
the mapped start loses most on queries with such words. Alignment trains the mapped model
(encoder and head) so that its query-document scores match the source's on pseudo-queries
made from the pre-training texts, with no labels: each step samples ``batch`` texts (first
``doc_words`` words), cuts a 1- to 3-word span from each as its query, and minimises the mean
squared difference between the student's and the source's ``batch x batch`` dot-product
matrices of pooled SPLADE weights (AdamW, constant ``lr``, gradients clipped to norm 1).

Measured on Semanlink test (issue 21; nDCG@10, exact search, seed 0; SPLADE-tiny fine-tuned
0.503): the mean-mapped start scores 0.336 zero-shot; after 100 alignment steps 0.403. After
the CPU study's fine-tuning with the output rows frozen (``[finetune] freeze_head``), the
mean-mapped start reaches 0.467 and the aligned one 0.485 (fine-tuning every weight: 0.452
and 0.455). A head-only regression onto the source's pooled weights mapped to words (min over
pieces x sqrt(pieces)) reached 0.368 zero-shot and 0.445 fine-tuned, so the encoder is trained
too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from esplade_eval.errors import EspladeError


@dataclass(frozen=True)
class AlignConfig:
    steps: int = 100
    lr: float = 1e-4
    batch: int = 32
    doc_words: int = 40  # words kept of each text (the pseudo-document)
    max_query_words: int = 3  # a pseudo-query is a span of 1..max_query_words words
    doc_length: int = 48  # WordPiece tokens of a pseudo-document
    query_length: int = 16
    seed: int = 0


def pseudo_pairs(texts: list[str], rng: np.random.Generator, cfg: AlignConfig) -> tuple[list[str], list[str]]:
    """``batch`` pseudo-documents and, for each, a random span of its words as the pseudo-query.

    >>> docs, qs = pseudo_pairs(["a b c d", "e f g h"], np.random.default_rng(0), AlignConfig(batch=2))
    >>> all(q in d for q, d in zip(qs, docs)) and sorted(docs) == ["a b c d", "e f g h"]
    True
    """
    docs = [" ".join(texts[i].split()[:cfg.doc_words]) for i in rng.choice(len(texts), cfg.batch, replace=False)]
    queries = []
    for doc in docs:
        words = doc.split()
        n = int(rng.integers(1, cfg.max_query_words + 1))
        start = int(rng.integers(0, max(1, len(words) - n + 1)))
        queries.append(" ".join(words[start:start + n]))
    return docs, queries


def _pooled(model, enc):
    from esplade_eval.model.pooling import splade_max_pool

    return splade_max_pool(model(**enc).logits, enc["attention_mask"])


def align(model, teacher, tokenizer, texts: list[str], cfg: AlignConfig) -> dict:
    """Train ``model`` (in place) to score like ``teacher`` on pseudo-pairs of ``texts``; returns a record."""
    import torch

    texts = [t for t in texts if len(t.split()) >= 2]
    if len(texts) < cfg.batch:
        raise EspladeError(f"alignment needs at least {cfg.batch} texts of two words or more, got {len(texts)}")
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    teacher.eval()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    losses, t0 = [], time.perf_counter()
    for _ in range(cfg.steps):
        docs, queries = pseudo_pairs(texts, rng, cfg)
        ed = tokenizer(docs, truncation=True, max_length=cfg.doc_length, padding=True, return_tensors="pt")
        eq = tokenizer(queries, truncation=True, max_length=cfg.query_length, padding=True, return_tensors="pt")
        with torch.no_grad():
            target = _pooled(teacher, eq) @ _pooled(teacher, ed).T
        loss = ((_pooled(model, eq) @ _pooled(model, ed).T - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    tail = losses[-10:] or [float("nan")]
    return {"steps": cfg.steps, "lr": cfg.lr, "batch": cfg.batch, "texts": len(texts), "seed": cfg.seed,
            "loss_first": losses[0] if losses else None, "loss_last10": float(np.mean(tail)),
            "wall_time_s": round(time.perf_counter() - t0, 1),
            "rule": "MSE between the model's and the source's query x document SPLADE scores on pseudo-queries "
                    "(1-3-word spans) of the pre-training texts"}


def align_to_source(model, transfer: dict, source: str, tokenizer, texts: list[str], cfg: AlignConfig) -> dict:
    """Align ``model`` (a start mapped from WordPiece ``source``) to the source's scores on ``texts``
    for ``cfg.steps`` steps (none: unchanged); returns ``transfer`` with the ``alignment`` record."""
    from transformers import AutoModelForMaskedLM

    from esplade_eval.model.checkpoint import resolve_checkpoint

    if cfg.steps:
        teacher = AutoModelForMaskedLM.from_pretrained(resolve_checkpoint(source))
        transfer = {**transfer, "alignment": align(model, teacher, tokenizer, texts, cfg)}
    return transfer
