"""The expanded output vocabulary: the ``N`` most frequent normalised whole words.

* **Normalisation** is :func:`esplade_eval.data.corpora.words`: Unicode NFKC, lowercase,
  then maximal runs of Unicode letters/digits (punctuation, symbols, ``_`` and spaces
  separate words). Accents are kept (``café``); numbers are words (``2024``).
* **Order**: frequency descending, then the word ascending (Python string order), so the
  same texts always give the same file, whatever the reading order.
* **Special entries**: none. Every line is a real word; the head has no ``[UNK]``/``[PAD]``
  row. Masked words outside the vocabulary simply carry no MLM loss.

Stored as ``output_vocab.txt`` (one term per line, UTF-8) plus ``output_vocab.json``
(counts and provenance) in a checkpoint folder.

>>> build_vocab(["the cat", "The dog!", "a cat"], size=3)
['cat', 'the', 'a']
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Iterable

from esplade_eval._io import atomic_file, write_json
from esplade_eval.data.corpora import words
from esplade_eval.errors import EspladeError
from esplade_eval.model.checkpoint import OUTPUT_VOCAB

VOCAB_META = "output_vocab.json"


def count_words(texts: Iterable[str]) -> Counter:
    counts: Counter = Counter()
    for t in texts:
        counts.update(words(t))
    return counts


def top_words(counts: Counter, size: int, min_count: int = 1) -> list[str]:
    """The ``size`` most frequent words with at least ``min_count`` occurrences."""
    if size < 1:
        raise EspladeError(f"vocabulary size must be >= 1, got {size}")
    ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return ranked[:size]


def build_vocab(texts: Iterable[str], size: int, min_count: int = 1) -> list[str]:
    return top_words(count_words(texts), size, min_count)


def write_vocab(folder: str | os.PathLike, vocab: list[str], meta: dict | None = None) -> Path:
    """Write ``output_vocab.txt`` (and ``output_vocab.json`` with ``meta``) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for w in vocab:
        if not w or any(c.isspace() for c in w):
            raise EspladeError(f"output vocabulary term {w!r} is empty or holds whitespace")
    if len(set(vocab)) != len(vocab):
        raise EspladeError("output vocabulary has duplicate terms")
    with atomic_file(folder / OUTPUT_VOCAB) as fh:
        fh.write("".join(w + "\n" for w in vocab))
    info = {"size": len(vocab), "normalisation": "NFKC, lowercase, runs of [^\\W_] (Unicode letters/digits)",
            "order": "count desc, word asc", "special_entries": []}
    info.update(meta or {})
    write_json(folder / VOCAB_META, info, ensure_ascii=False)
    return folder / OUTPUT_VOCAB


def read_vocab(path: str | os.PathLike) -> list[str]:
    """Read a vocabulary file, or ``output_vocab.txt`` inside a folder (as the encoder reads it)."""
    from esplade_eval.model.encoder import read_output_vocab

    path = Path(path)
    if path.is_dir():
        path = path / OUTPUT_VOCAB
    if not path.is_file():
        raise EspladeError(f"{path}: no output vocabulary file")
    return read_output_vocab(path)


def read_vocab_meta(vocab: str | os.PathLike) -> dict | None:
    """``output_vocab.json`` beside a vocabulary file or in its folder (None when absent)."""
    import json

    folder = Path(vocab) if Path(vocab).is_dir() else Path(vocab).parent
    path = folder / VOCAB_META
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def vocab_from_corpora(corpora: list[str], size: int, min_count: int = 1, include_heldout: bool = False,
                       exclude_eval_docs=("semanlink",), allow_eval_docs: bool = False) -> tuple[list[str], dict]:
    """``esplade-eval vocab``: the vocabulary of the named corpora (their training parts, unless
    ``include_heldout``) without the evaluation documents, and its record."""
    from esplade_eval.data.corpora import iter_texts, load_corpus
    from esplade_eval.train.texts import eval_docs

    docs = eval_docs(list(exclude_eval_docs), allow_eval_docs)
    counts = None
    for name in corpora:
        c = count_words(docs.filter(name, iter_texts(name) if include_heldout else load_corpus(name).train))
        counts = c if counts is None else counts + c
    if not counts:
        dropped = sum(docs.dropped.values())
        raise EspladeError(f"{' '.join(corpora)}: no words to count" + (
            f" once {dropped} evaluation documents are dropped (--allow-eval-docs keeps them)" if dropped else ""))
    meta = {"corpora": list(corpora), "min_count": min_count, "include_heldout": include_heldout,
            "eval_docs": docs.record(), "distinct_words": len(counts), "tokens": sum(counts.values())}
    return top_words(counts, size, min_count), meta
