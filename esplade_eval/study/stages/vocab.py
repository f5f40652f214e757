"""``vocab``: one output vocabulary for every arm, from the training parts of the named corpora
(evaluation documents kept out unless the pre-training settings allow them)."""

from __future__ import annotations

from dataclasses import dataclass

from esplade_eval.study.stages.base import FromConfig, Inputs, Record, eval_sources

KIND = "vocab"
VERSION = 1
#: the files whose content is this kind's results (with its record's outputs, timings aside)
RESULT_FILES = ("output_vocab.txt",)


@dataclass(frozen=True)
class Params(FromConfig):
    corpora: list
    size: int
    min_count: int
    exclude_eval_docs: list
    allow_eval_docs: object = None


@dataclass
class Outputs(Record):
    vocab: str  # output_vocab.txt, relative to the stage folder
    size: int
    corpora: list
    min_count: int
    eval_docs: dict
    distinct_words: int
    tokens: int


def run(p: Params, inputs: Inputs) -> Outputs:
    from collections import Counter

    from esplade_eval.errors import EspladeError
    from esplade_eval.train.texts import eval_docs, training_corpora
    from esplade_eval.train.vocab import count_words, top_words, write_vocab

    docs = eval_docs(eval_sources(p.exclude_eval_docs, inputs.collection), p.allow_eval_docs)
    counts: Counter = Counter()
    for corpus in training_corpora(p.corpora, docs):
        counts += count_words(corpus.train)
    if not counts:
        raise EspladeError(f"{'+'.join(p.corpora)}: no words to count for the output vocabulary")
    vocab = top_words(counts, p.size, p.min_count)
    meta = {"corpora": p.corpora, "min_count": p.min_count, "eval_docs": docs.record(),
            "distinct_words": len(counts), "tokens": sum(counts.values())}
    write_vocab(inputs.tmp, vocab, meta)
    return Outputs(vocab="output_vocab.txt", size=len(vocab), **meta)
