"""Token budgets: every arm of a grid sees the same number of tokens per repeat.

With ``budget = "passes"`` (the default) an arm trains ``repeats x epochs`` passes over its
whole corpus, so a larger corpus sees more tokens (the general corpus about 4x the
Semanlink titles). With ``budget = "tokens"`` the tokens of one repeat are the smallest
token count among ``budget_corpora`` (every arm's corpus list; the arm's own when unset), or
``budget_tokens`` when given. A larger corpus is **subsampled** to that count: its training
examples are shuffled with a generator seeded by the run's seed and the longest prefix within
the budget is kept (at least one example), so the subsample is the same for every repeat and
every run of that seed. ``repeats = N`` then means that same subsample seen N times.

Tokens are WordPiece input tokens of the training examples (``[CLS]``/``[SEP]`` included,
texts cut at ``max_words`` words and truncated at ``max_length``), the unit of
``tokens_seen``; evaluation documents are kept out as for training.

>>> import numpy as np
>>> idx = subsample(np.array([10, 10, 10, 10]), target=25, seed=0)
>>> len(idx), bool(np.all(np.diff(idx) > 0))
(2, True)
>>> subsample(np.array([10, 10]), target=100, seed=0).tolist()
[0, 1]
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from esplade_eval.errors import EspladeError

BUDGETS = ("passes", "tokens")


def subsample(lengths: np.ndarray, target: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded shuffle's longest prefix whose lengths sum to at most ``target``."""
    if target < 1:
        raise EspladeError(f"a token budget must be >= 1, got {target}")
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.sum() <= target:
        return np.arange(len(lengths))
    order = np.random.default_rng([seed, 21]).permutation(len(lengths))
    keep = max(1, int(np.searchsorted(np.cumsum(lengths[order]), target, side="right")))
    return np.sort(order[:keep])


def count_tokens(tokenizer, texts: Sequence[str], max_length: int, batch: int = 2048) -> int:
    """WordPiece tokens of ``texts`` as training examples (truncated at ``max_length``)."""
    total = 0
    for s in range(0, len(texts), batch):
        enc = tokenizer(list(texts[s:s + batch]), truncation=True, max_length=max_length,
                        return_attention_mask=False, return_token_type_ids=False)
        total += sum(len(ids) for ids in enc["input_ids"])
    return total


def corpora_tokens(names: Sequence[str], docs, tokenizer, max_words: int, max_length: int) -> int:
    """Tokens per pass of the training parts of ``names`` without the evaluation documents ``docs``."""
    from esplade_eval.train.mlm import chunk_texts
    from esplade_eval.train.texts import EvalDocs, training_corpora

    fresh = EvalDocs(docs.sources, docs.keys)  # counting here records no drops
    texts = [t for c in training_corpora(list(names), fresh) for t in c.train]
    return count_tokens(tokenizer, chunk_texts(texts, max_words), max_length)


def token_target(cfg, docs, tokenizer, own_tokens: int) -> tuple[int, dict]:
    """Tokens per repeat for ``cfg`` (a PretrainConfig) and the count of every corpus list compared."""
    if cfg.budget_tokens is not None:
        return int(cfg.budget_tokens), {}
    own = "+".join(cfg.corpora)
    counts = {own: own_tokens}
    for names in cfg.budget_corpora or []:
        key = "+".join(names)
        if key not in counts:
            counts[key] = corpora_tokens(names, docs, tokenizer, cfg.max_words, cfg.max_length)
    return min(counts.values()), counts


def apply_token_budget(cfg, docs, tokenizer, examples: list, origin: np.ndarray) -> tuple[list, np.ndarray, dict]:
    """The examples one repeat trains on under ``budget = "tokens"``, and the record of the subsample."""
    lengths = np.array([len(e.ids) for e in examples], dtype=np.int64)
    target, counts = token_target(cfg, docs, tokenizer, int(lengths.sum()))
    idx = subsample(lengths, target, cfg.seed)
    record = {"tokens_per_repeat": target, "corpus_tokens": int(lengths.sum()), "compared": counts,
              "examples": len(examples), "examples_kept": len(idx), "tokens_kept": int(lengths[idx].sum()),
              "share_of_corpus": float(lengths[idx].sum() / lengths.sum()) if lengths.sum() else 0.0,
              "rule": "seeded shuffle of the training examples, longest prefix within the tokens per repeat"}
    return [examples[i] for i in idx], origin[idx], record
