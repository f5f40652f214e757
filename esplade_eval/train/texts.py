"""Training texts: the named corpora, minus the evaluation documents.

Pre-training on the very titles a retriever is later evaluated on is a leak: the bundled
``titles`` arm holds the Semanlink titles, which are the documents of the bundled
evaluation collection. So by default (:data:`DEFAULT_EVAL_DOCS`) every training text
that equals an evaluation document *after normalisation* is dropped, and the count is
recorded. Normalisation is the word normalisation of :func:`esplade_eval.data.corpora.words`
(NFKC, lowercase, runs of letters/digits), so ``"Café: a study"`` and ``"cafe a study"``
differ but ``"Linked Data - the story"`` and ``"linked data: The Story"`` match.

An evaluation-document source is a corpus JSONL (``id``/``contents``, as written by the
collection builders), a collection folder holding ``corpus.jsonl``, or anything
:func:`esplade_eval.data.corpora.iter_texts` reads (a bundled corpus name such as
``semanlink``, or a text file with one text per line). Held-out texts (MLM accuracy) are
not filtered: they are never trained on.

>>> text_key("Linked Data - the story so far"), text_key("linked data: The Story so far!")
('linked data the story so far', 'linked data the story so far')
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from esplade_eval.data.corpora import Corpus, iter_texts, load_corpus, words
from esplade_eval.errors import EspladeError

#: the documents of the bundled evaluation collection (Semanlink titles)
DEFAULT_EVAL_DOCS = ("semanlink",)


def text_key(text: str) -> str:
    """The normalised form two texts are compared by."""
    return " ".join(words(text))


def _source_texts(source: str) -> Iterator[str]:
    path = Path(source)
    if path.is_dir() and (path / "corpus.jsonl").is_file():
        path = path / "corpus.jsonl"
    if path.is_file() and path.name.endswith((".jsonl", ".jsonl.gz")):
        from esplade_eval.data.trec import read_corpus

        yield from (text for _, text in read_corpus(path))
    else:
        yield from iter_texts(os.fspath(source))


@dataclass
class EvalDocs:
    """Normalised evaluation documents to keep out of training, with what was dropped."""

    sources: list[str] = field(default_factory=list)
    keys: frozenset[str] = frozenset()
    dropped: dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, sources: Sequence[str]) -> "EvalDocs":
        keys = {text_key(t) for s in sources for t in _source_texts(s)}
        keys.discard("")  # an empty title matches nothing
        return cls(sources=[os.fspath(s) for s in sources], keys=frozenset(keys))

    def filter(self, name: str, texts: Iterable[str]) -> list[str]:
        """The texts that are not evaluation documents; the count dropped is kept under ``name``."""
        texts = list(texts)
        kept = [t for t in texts if text_key(t) not in self.keys] if self.keys else texts
        self.dropped[name] = self.dropped.get(name, 0) + len(texts) - len(kept)
        return kept

    def record(self) -> dict:
        """What training records say about evaluation documents."""
        if not self.sources:
            return {"excluded": False, "note": "evaluation documents were allowed in the training texts"}
        return {"excluded": True, "sources": self.sources, "documents": len(self.keys),
                "dropped_texts": dict(self.dropped), "dropped_total": sum(self.dropped.values()),
                "rule": "a training text equal to an evaluation document after normalisation "
                        "(NFKC, lowercase, runs of letters/digits) is dropped"}


def eval_docs(exclude: Sequence[str], allow: bool) -> EvalDocs:
    """The :class:`EvalDocs` a run keeps out: none when ``allow``; naming none otherwise is an error."""
    if allow:
        return EvalDocs()
    if not exclude:
        raise EspladeError("name the evaluation documents to keep out of training (exclude_eval_docs / "
                           "--exclude-eval-docs), or allow them explicitly (allow_eval_docs / --allow-eval-docs)")
    return EvalDocs.read(exclude)


def training_corpora(names: Sequence[str], docs: EvalDocs) -> list[Corpus]:
    """The named corpora, their training parts without evaluation documents."""
    corpora = []
    for name in names:
        corpus = load_corpus(name)
        corpora.append(Corpus(corpus.name, docs.filter(name, corpus.train), corpus.heldout))
    return corpora
