"""Corpora, topics, qrels and TREC formats; the bundled collection builders."""

from esplade_eval.data.trec import (
    read_corpus,
    read_qrels,
    read_run,
    read_topics,
    write_qrels,
    write_run,
    write_topics,
)

__all__ = [
    "read_corpus",
    "read_qrels",
    "read_run",
    "read_topics",
    "write_qrels",
    "write_run",
    "write_topics",
]
