"""Strict readers and atomic writers for the standard IR file formats.

* runs: ``qid Q0 docid rank score tag`` (TREC), ranked by (-score, docid);
* written by this toolkit (the canonical forms): topics ``qid<TAB>text``, TREC qrels
  ``qid iter docid grade``, corpus JSON lines ``{"id", "contents"}``;
* read in every format users hold (TSV, TREC topics, JSON lines, BEIR qrels, gzipped or
  not, detected from the content): :func:`read_topics`, :func:`read_qrels` and
  :func:`read_corpus`, from :mod:`esplade_eval.data.formats`.

Every reader raises :class:`~esplade_eval.errors.InputError` naming the file and line
of the first problem. Duplicates are errors, never silently overwritten.

>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> write_run(os.path.join(d, "r.txt"), {"q1": {"b": 2.0, "a": 2.0, "c": 1.0}}, tag="demo")
>>> open(os.path.join(d, "r.txt")).read().splitlines()[0]
'q1 Q0 a 1 2 demo'
"""

from __future__ import annotations

import json
import math
import os
from itertools import chain
from typing import Iterable, Iterator, Mapping, Sequence

from esplade_eval._io import atomic_file
from esplade_eval._read import numbered_lines
from esplade_eval.data.formats import read_corpus, read_qrels, read_topics
from esplade_eval.errors import InputError

__all__ = ["Qrels", "Run", "corpus_line", "format_run_lines", "ranked", "read_corpus", "read_qrels", "read_run",
           "read_topics", "write_qrels", "write_run", "write_topics"]

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]


def write_topics(path: str | os.PathLike, topics: Mapping[str, str]) -> None:
    """Write ``qid<TAB>text`` topics atomically (tabs and newlines in text become spaces)."""
    with atomic_file(path) as fh:
        for qid, text in topics.items():
            clean = " ".join(str(text).split())
            fh.write(f"{qid}\t{clean}\n")


def write_qrels(path: str | os.PathLike, qrels: Mapping[str, Mapping[str, int]]) -> None:
    """Write TREC qrels atomically, queries and documents in the given order."""
    with atomic_file(path) as fh:
        for qid, docs in qrels.items():
            for docid, grade in docs.items():
                fh.write(f"{qid} 0 {docid} {int(grade)}\n")


def read_run(path: str | os.PathLike) -> Run:
    """Read a TREC run into ``{qid: {docid: score}}``.

    Six whitespace-separated columns are required; a non-numeric or non-finite score, or
    a document listed twice for one query, is an error (ranx's loader would silently keep
    the last), and so is a run without a single line (evaluating it would report zeros as
    if a system had answered). The rank column is read but not trusted: ranking is by score.
    """
    run: Run = {}
    for lineno, line in numbered_lines(path):
        parts = line.split()
        if len(parts) != 6:
            raise InputError(path, f"expected 6 columns 'qid Q0 docid rank score tag', found {len(parts)}", line=lineno)
        qid, _, docid, _rank, score, _tag = parts
        try:
            value = float(score)
        except ValueError:
            raise InputError(path, f"score is not a number: {score!r}", line=lineno) from None
        if not math.isfinite(value):
            raise InputError(path, f"score is not finite: {score!r}", line=lineno)
        docs = run.setdefault(qid, {})
        if docid in docs:
            raise InputError(path, f"document {docid!r} appears twice for query {qid!r}", line=lineno)
        docs[docid] = value
    if not run:
        raise InputError(path, "empty run: no result lines")
    return run


def ranked(docs: Mapping[str, float], k: int | None = None) -> list[tuple[str, float]]:
    """Documents ordered by (-score, docid): the deterministic tie-break Pyserini uses."""
    items = sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))
    return items if k is None else items[:k]


def format_run_lines(qid: str, hits: Iterable[tuple[str, float]], tag: str, score_format: str = "{:.6f}") -> Iterator[str]:
    """TREC lines for one query's already-ranked hits."""
    for rank, (docid, score) in enumerate(hits, 1):
        yield f"{qid} Q0 {docid} {rank} {score_format.format(score)} {tag}\n"


def check_run_tag(tag: str) -> str:
    """``tag`` when it can be a TREC run tag (non-empty, no whitespace); ValueError otherwise."""
    if not tag or any(ch.isspace() for ch in tag):
        raise ValueError(f"run tag must be a non-empty string without whitespace: {tag!r}")
    return tag


def run_text(qid: str, docids: Sequence[str], scores: Sequence[float], tag: str) -> str:
    """TREC lines of one query's already-ranked hits, as one string.

    Scores are written without a fractional part when all of them are integers (impact
    search), else with six decimals. One ``%`` formatting for all lines (a search writes
    about a million of them; a line at a time costs half as much again).
    """
    if not docids:
        return ""
    fmt = "%.0f" if all(map(float.is_integer, map(float, scores))) else "%.6f"
    line = qid.replace("%", "%%") + " Q0 %s %d " + fmt + " " + tag.replace("%", "%%") + "\n"
    return (line * len(docids)) % tuple(chain.from_iterable(zip(docids, range(1, len(docids) + 1), scores)))


def write_run(path: str | os.PathLike, run: Mapping[str, Mapping[str, float]], tag: str = "esplade_eval", k: int | None = None) -> None:
    """Write a TREC run atomically, each query's hits ranked by (-score, docid).

    Integer scores (impact search) are written without a fractional part.
    """
    check_run_tag(tag)
    with atomic_file(path) as fh:
        for qid, docs in run.items():
            hits = ranked(docs, k)
            fh.write(run_text(qid, [d for d, _ in hits], [s for _, s in hits], tag))


def corpus_line(docid: str, text: str) -> str:
    """One line of the canonical corpus: ``{"id", "contents"}``, whitespace runs made one space."""
    return json.dumps({"id": docid, "contents": " ".join(text.split())}, ensure_ascii=False) + "\n"
