"""``vocab``: one output vocabulary for every arm, from its ``sources``: the training parts of the
named corpora (evaluation documents kept out unless the pre-training settings allow them) and,
with ``"collection"``, the study collection's unlabelled document text
(:mod:`esplade_eval.data.collection_text`: no queries, no judgments). Its outputs hold the
coverage of every split's queries (:mod:`esplade_eval.train.coverage`); a split under 90% is
logged as a warning."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from esplade_eval.study.stages.base import FromConfig, Inputs, Record, eval_sources

KIND = "vocab"
VERSION = 2
#: the files whose content is this kind's results (with its record's outputs, timings aside)
RESULT_FILES = ("output_vocab.txt",)
#: what a vocabulary may be built from
SOURCES = ("corpora", "collection")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Params(FromConfig):
    corpora: list
    size: int
    min_count: int
    exclude_eval_docs: list
    allow_eval_docs: object = None
    sources: tuple = ("corpora",)


@dataclass
class Outputs(Record):
    vocab: str  # output_vocab.txt, relative to the stage folder
    size: int
    corpora: list
    min_count: int
    eval_docs: dict
    distinct_words: int
    tokens: int
    sources: list = None  # SOURCES present ("corpora", "collection")
    collection_text: dict = None  # how the collection's text was read, its texts and words (None: not a source)
    coverage: dict = None  # split -> train.coverage.Coverage.to_dict()


def _counts(p: Params, inputs: Inputs):
    """Word counts of every source, the eval-docs record, the collection text's record."""
    from collections import Counter

    from esplade_eval.data import collection_text
    from esplade_eval.train.texts import EvalDocs, eval_docs, training_corpora
    from esplade_eval.train.vocab import count_words

    counts: Counter = Counter()
    docs = EvalDocs()
    if "corpora" in p.sources:
        docs = eval_docs(eval_sources(p.exclude_eval_docs, inputs.collection), p.allow_eval_docs)
        for corpus in training_corpora(p.corpora, docs):
            counts += count_words(corpus.train)
    text = None
    if "collection" in p.sources:
        texts = list(collection_text.document_texts(inputs.collection))
        found = count_words(texts)
        text = {**collection_text.describe(inputs.collection), "texts": len(texts), "tokens": sum(found.values()),
                "distinct_words": len(found)}
        counts += found
    return counts, docs.record(), text


def run(p: Params, inputs: Inputs) -> Outputs:
    from esplade_eval.errors import EspladeError
    from esplade_eval.train.coverage import collection_coverage
    from esplade_eval.train.vocab import top_words, write_vocab

    counts, docs, text = _counts(p, inputs)
    if not counts:
        raise EspladeError(f"{'+'.join(p.sources)}: no words to count for the output vocabulary")
    vocab = top_words(counts, p.size, p.min_count)
    coverage = collection_coverage(vocab, inputs.collection)
    for cov in coverage.values():
        if cov.warning:
            log.warning("output vocabulary: %s", cov.warning)
    meta = {"corpora": p.corpora if "corpora" in p.sources else [], "min_count": p.min_count, "eval_docs": docs,
            "distinct_words": len(counts), "tokens": sum(counts.values()), "sources": list(p.sources),
            "collection_text": text}
    write_vocab(inputs.tmp, vocab, meta)
    return Outputs(vocab="output_vocab.txt", size=len(vocab), **meta,
                   coverage={split: cov.to_dict() for split, cov in coverage.items()})
