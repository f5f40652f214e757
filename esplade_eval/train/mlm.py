"""Whole-word masking over the output vocabulary: tokenised examples, masked batches, the
MLM forward pass and the held-out accuracy (:mod:`esplade_eval.train.pretrain` trains with them).

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

**WordPiece outputs** (plain SPLADE, ``vocab_index=None``): the same words are chosen at the
same rate and masked the same way (whole-word masking), but every piece of a chosen word is
predicted, its target being its own WordPiece id (BERT's whole-word masking). Every word
with letters or digits is a candidate, so both kinds mask the same words of a text.

Long texts are cut into chunks of at most ``max_words`` whitespace words before
tokenisation, so truncation at ``max_length`` wastes little text. Batches are built from
length-sorted windows (little padding), in a seeded random order; one *pass* is one
batch of every training text, ``ceil(texts / batch_size)`` batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from esplade_eval.data.corpora import words

FIRST_WORD_ID = 1996  # "the" in bert-base-uncased: ids below are [unused*], specials and single chars
NOT_A_WORD = -2  # a pre-token without letters/digits (punctuation): never masked
OUT_OF_VOCAB = -1


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
    """Tokenise texts and resolve each BERT word to its output-vocabulary target.

    ``vocab_index=None`` (WordPiece outputs): every word is a target (0); its pieces are the labels.
    """
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
                if len(ws) != 1:
                    target[j] = NOT_A_WORD
                else:
                    target[j] = 0 if vocab_index is None else vocab_index.get(ws[0], OUT_OF_VOCAB)
            out.append(Example(np.asarray(enc["input_ids"][i], dtype=np.int64), word, target))
    return out


def mask_batch(batch: Sequence[Example], rng: np.random.Generator, rate: float, mask_id: int, pad_id: int,
               input_vocab_size: int, always_mask: bool = False, pieces: bool = False):
    """Whole-word masking: ``(input_ids, attention_mask, rows, cols, labels)`` tensors.

    ``rows, cols`` index the first piece of each masked in-vocabulary word; ``labels`` its
    output-vocabulary id. With ``pieces`` (WordPiece outputs) every piece of a masked word is
    a position and its original WordPiece id the label.
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
                if pieces:
                    rows += [r] * len(toks)
                    cols += toks.tolist()
                    labels += ex.ids[toks].tolist()
                elif ex.target[w] >= 0:
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
    head = model.mlm_head if hasattr(model, "mlm_head") else model.cls  # ESPLADE, or BertForMaskedLM
    logits = head(hidden[rows, cols])
    return F.cross_entropy(logits.float(), labels), logits


def evaluate_mlm(model, examples: list[Example], tokenizer, rate: float, batch_size: int, device: str,
                 seed: int = 12345, baseline_id: int | None = None) -> dict:
    """Top-1 accuracy at masked in-vocabulary words (fixed masking, every piece [MASK]); for a
    WordPiece head (no ``mlm_head``) at every masked piece."""
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
                                                      tokenizer.pad_token_id, len(tokenizer), always_mask=True,
                                                      pieces=not hasattr(model, "mlm_head"))
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


def chunk_texts(texts: Sequence[str], max_words: int) -> list[str]:
    """Every text cut into chunks of at most ``max_words`` whitespace words."""
    return [c for t in texts for c in chunk_text(t, max_words)]
