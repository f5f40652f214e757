"""Validate a TREC run for submission, reporting every problem with its line; package it.

Unlike the strict reader (:func:`esplade_eval.data.trec.read_run`), which stops at the first
bad line, the checker reads the whole file and collects every problem, so one pass shows
everything to fix. Checked, per line or per query:

* six whitespace-separated columns ``qid Q0 docid rank score tag``; the second is ``Q0``;
* the rank is an integer, the score a finite number;
* one run tag for the whole file;
* a document at most once per query;
* ranks of a query ascend from 1 without gaps, scores do not increase with rank;
* the query id is known, when topics or qrels are given;
* at most ``max_hits`` hits per query, when given.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "run.txt")
>>> _ = open(path, "w").write("q1 Q0 d1 1 2.0 t\\nq1 Q0 d1 3 2.5 t\\n")
>>> for p in check_run(path).problems: print(p.line, p.message)
2 document 'd1' already listed for query 'q1' at line 1
2 rank 3 of query 'q1' should be 2 (ranks ascend from 1 without gaps)
2 score 2.5 is higher than 2.0 at line 1: scores must not increase with rank
"""

from __future__ import annotations

import gzip
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from esplade_eval._io import atomic_file
from esplade_eval._read import open_text
from esplade_eval.errors import EspladeError, InputError


@dataclass(frozen=True)
class Problem:
    """One problem: the 1-based line number (None: the whole file) and what is wrong there."""

    line: int | None
    message: str

    def format(self, path: str | os.PathLike) -> str:
        """``path:line: message``, the same shape as :class:`~esplade_eval.errors.InputError`."""
        where = os.fspath(path) if self.line is None else f"{os.fspath(path)}:{self.line}"
        return f"{where}: {self.message}"


@dataclass
class CheckResult:
    """Everything :func:`check_run` found.

    Attributes:
        path: the run checked.
        problems: every problem, in line order.
        lines: non-blank lines read.
        queries: query ids in order of first appearance.
        tag: the run tag (of the first line), or None for an empty run.
        missing: known queries (topics/qrels) the run has no line for: reported, not a problem.
    """

    path: str
    problems: list[Problem] = field(default_factory=list)
    lines: int = 0
    queries: list[str] = field(default_factory=list)
    tag: str | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def messages(self) -> list[str]:
        """Every problem as ``path:line: message``."""
        return [p.format(self.path) for p in self.problems]

    def summary(self) -> str:
        """One line: counts, tag, verdict."""
        what = f"{self.lines} lines, {len(self.queries)} queries, tag {self.tag!r}"
        if self.missing:
            what += f", {len(self.missing)} known queries without hits"
        verdict = "ok" if self.ok else f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        return f"{self.path}: {verdict} ({what})"


@dataclass
class _QueryState:
    first_line: int
    last_rank: int = 0
    last_score: float | None = None
    last_score_text: str = ""
    last_score_line: int = 0
    hits: int = 0
    docs: dict[str, int] = field(default_factory=dict)


def check_run(path: str | os.PathLike, known_qids: Iterable[str] | None = None, max_hits: int | None = None) -> CheckResult:
    """Check a TREC run file; never raises on content, only on an unreadable file.

    Args:
        path: the run (``.gz`` is read transparently).
        known_qids: the topics' (or qrels') query ids; other ids are problems.
        max_hits: the most hits a query may have.
    """
    if max_hits is not None and max_hits < 1:
        raise EspladeError(f"max_hits must be at least 1, got {max_hits}")
    checker = _Checker(CheckResult(path=os.fspath(path)), None if known_qids is None else set(known_qids), max_hits)
    with open_text(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            parts = raw.split()
            if parts:
                checker.line(lineno, parts)
    result = checker.result
    if result.lines == 0:
        result.problems.append(Problem(None, "empty run: no result lines"))
    if checker.known is not None:
        result.missing = sorted(checker.known - set(checker.state))
    return result


@dataclass
class _Checker:
    """What :func:`check_run` knows while it reads: the result so far and each query's state."""

    result: CheckResult
    known: set[str] | None
    max_hits: int | None
    state: dict[str, _QueryState] = field(default_factory=dict)
    unknown_reported: set[str] = field(default_factory=set)

    def add(self, lineno: int, message: str) -> None:
        self.result.problems.append(Problem(lineno, message))

    def line(self, lineno: int, parts: list[str]) -> None:
        self.result.lines += 1
        if len(parts) != 6:
            self.add(lineno, f"expected 6 columns 'qid Q0 docid rank score tag', found {len(parts)}")
            return
        qid, q0, docid, rank_text, score_text, tag = parts
        if q0 != "Q0":
            self.add(lineno, f"second column must be 'Q0', found {q0!r}")
        if self.result.tag is None:
            self.result.tag = tag
        elif tag != self.result.tag:
            self.add(lineno, f"run tag {tag!r} differs from {self.result.tag!r} (line 1 of the run): one tag per run")
        q = self.query(lineno, qid, docid)
        self.rank(lineno, q, qid, rank_text)
        self.score(lineno, q, score_text)

    def query(self, lineno: int, qid: str, docid: str) -> _QueryState:
        if self.known is not None and qid not in self.known and qid not in self.unknown_reported:
            self.unknown_reported.add(qid)
            self.add(lineno, f"unknown query id {qid!r} (not in the topics/qrels given)")
        q = self.state.get(qid)
        if q is None:
            q = self.state[qid] = _QueryState(first_line=lineno)
            self.result.queries.append(qid)
        q.hits += 1
        if self.max_hits is not None and q.hits == self.max_hits + 1:
            self.add(lineno, f"query {qid!r} has more than {self.max_hits} hits (this is hit {self.max_hits + 1})")
        if docid in q.docs:
            self.add(lineno, f"document {docid!r} already listed for query {qid!r} at line {q.docs[docid]}")
        else:
            q.docs[docid] = lineno
        return q

    def rank(self, lineno: int, q: _QueryState, qid: str, rank_text: str) -> None:
        try:
            rank = int(rank_text)
        except ValueError:
            self.add(lineno, f"rank is not an integer: {rank_text!r}")
            q.last_rank += 1
            return
        if rank != q.last_rank + 1:
            self.add(lineno, f"rank {rank} of query {qid!r} should be {q.last_rank + 1} (ranks ascend from 1 without gaps)")
        # continue from what the line says, so one gap is one problem, not one per later line
        q.last_rank = rank

    def score(self, lineno: int, q: _QueryState, score_text: str) -> None:
        try:
            score = float(score_text)
            if not math.isfinite(score):
                raise ValueError
        except ValueError:
            self.add(lineno, f"score is not a finite number: {score_text!r}")
            return
        if q.last_score is not None and score > q.last_score:
            self.add(lineno, f"score {score_text} is higher than {q.last_score_text} at line {q.last_score_line}: "
                             "scores must not increase with rank")
        q.last_score, q.last_score_text, q.last_score_line = score, score_text, lineno


def known_queries(topics: str | os.PathLike | None = None, qrels: str | os.PathLike | None = None) -> set[str] | None:
    """The query ids a run may answer: the topics' (or the qrels') ids; None when neither is given."""
    if topics:
        from esplade_eval.data.trec import read_topics

        return set(read_topics(topics))
    if qrels:
        from esplade_eval.data.trec import read_qrels

        return set(read_qrels(qrels))
    return None


def package_run(path: str | os.PathLike, out: str | os.PathLike, known_qids: Iterable[str] | None = None,
                max_hits: int | None = None, overwrite: bool = False) -> CheckResult:
    """Check a run and, only if it passes, write it gzipped to ``out`` atomically.

    The bytes are copied unchanged (a gzipped input is decompressed first); an existing
    ``out`` is replaced only with ``overwrite``. A failed check raises :class:`InputError`
    with every problem, and nothing is written.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); src = os.path.join(d, "run.txt")
    >>> _ = open(src, "w").write("q1 Q0 d1 1 2.0 t\\n")
    >>> package_run(src, os.path.join(d, "run.txt.gz")).ok
    True
    """
    out = Path(out)
    if not out.name.endswith(".gz"):
        raise EspladeError(f"{out}: the packaged run must end in .gz")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: already exists (pass overwrite / --overwrite to replace it)")
    if Path(path).resolve() == out.resolve():
        raise EspladeError(f"{out}: output would replace the input")
    result = check_run(path, known_qids, max_hits)
    if not result.ok:
        first = result.problems[0]
        more = f" (and {len(result.problems) - 1} more problems)" if len(result.problems) > 1 else ""
        raise InputError(path, first.message + more, line=first.line)
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "rb") as src, atomic_file(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return result
