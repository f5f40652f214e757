"""Anserini ``JsonVectorCollection`` files and Pyserini pre-encoded query files.

One JSON object per line::

    {"id": "d1", "contents": "title text", "vector": {"term": 37, "other": 5}}

A pre-encoded query line adds its encoding (:mod:`esplade_eval.artifacts`), which readers
that know only ``id``, ``contents`` and ``vector`` (Pyserini's ``--encoder queries.jsonl``)
pass over::

    {"id": "q1", "contents": "web", "vector": {"web": 212}, "encoding": {"checkpoint_hash": "...", ...}}

Anserini repeats each term ``weight`` times when it builds an impact index, so a weight
must be a positive integer, at most :data:`~esplade_eval.sparse.quantize.MAX_IMPACT`
(2**24, the largest Lucene scores exactly), and a term must not contain whitespace (the
pretokenized analyzer splits on it). :func:`validate_collection` checks exactly that, naming the file
and line of every problem; :class:`CollectionWriter` writes shards atomically.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator, Mapping, Sequence

import numpy as np

from esplade_eval._io import Closing
from esplade_eval._read import json_line, numbered_lines
from esplade_eval.artifacts import shard_file_name
from esplade_eval.errors import InputError
from esplade_eval.sparse.quantize import MAX_IMPACT
from esplade_eval.sparse.vectors import SparseBatch

COLLECTION_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz")


class VectorLineWriter:
    """Formats rows of an integer :class:`SparseBatch` as JSON lines, fast.

    Term strings are JSON-escaped once per vocabulary entry, not once per posting.
    """

    def __init__(self, terms: Sequence[str]):
        self._quoted = np.array([json.dumps(t, ensure_ascii=False) for t in terms], dtype=object)

    def lines(self, ids: Sequence[str], texts: Sequence[str], batch: SparseBatch,
              extra: Mapping | None = None) -> Iterator[str]:
        """One line per row; ``extra`` keys (e.g. a query's encoding) follow the vector."""
        quoted, indptr, indices, data = self._quoted, batch.indptr, batch.indices, batch.data
        tail = "".join(f",{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in (extra or {}).items())
        # term order within a vector: by term id (deterministic, diff-friendly)
        for i, (docid, text) in enumerate(zip(ids, texts)):
            s, e = indptr[i], indptr[i + 1]
            idx = indices[s:e]
            order = np.argsort(idx, kind="stable")
            pairs = ",".join(f"{q}:{w}" for q, w in zip(quoted[idx[order]], data[s:e][order].tolist()))
            yield (f'{{"id":{json.dumps(docid, ensure_ascii=False)},'
                   f'"contents":{json.dumps(text, ensure_ascii=False)},"vector":{{{pairs}}}{tail}}}\n')


class CollectionWriter(Closing):
    """Write a sharded JsonVectorCollection into ``folder`` (``docs00000.jsonl`` ...).

    The caller provides ``folder`` (normally a temporary one, renamed when complete).
    ``first_shard`` numbers the first file: a distributed export writes shard ``i`` of a
    collection on its own as ``docs{i:05d}.jsonl``.
    """

    def __init__(self, folder: str | os.PathLike, terms: Sequence[str], shard_size: int = 100_000,
                 first_shard: int = 0):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shard_size = shard_size
        self.formatter = VectorLineWriter(terms)
        self._fh: IO[str] | None = None
        self._in_shard = 0
        self._shard = first_shard
        self.files: list[Path] = []
        self.documents = 0
        self.empty = 0
        self.postings = 0
        self.term_max = np.zeros(len(terms), dtype=np.int64)  # highest impact of each term

    def write(self, ids: Sequence[str], texts: Sequence[str], batch: SparseBatch) -> None:
        lengths = batch.lengths()
        self.empty += int(np.count_nonzero(lengths == 0))
        self.postings += int(batch.nnz)
        if batch.nnz:
            np.maximum.at(self.term_max, batch.indices, batch.data.astype(np.int64))
        for line in self.formatter.lines(ids, texts, batch):
            if self._fh is None or self._in_shard == self.shard_size:
                self._next_shard()
            self._fh.write(line)
            self._in_shard += 1
            self.documents += 1

    def _next_shard(self) -> None:
        if self._fh is not None:
            self._fh.close()
        path = self.folder / shard_file_name(self._shard)
        self._fh = open(path, "w", encoding="utf-8")
        self.files.append(path)
        self._shard += 1
        self._in_shard = 0

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def collection_files(folder: str | os.PathLike) -> list[Path]:
    """The JSONL files of a collection folder, sorted (what Anserini will read)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "collection folder not found")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(COLLECTION_SUFFIXES))
    if not files:
        raise InputError(folder, f"no collection files ({', '.join(COLLECTION_SUFFIXES)}) in this folder")
    return files


def parse_vector_line(path, lineno: int, line: str) -> tuple[str, str, dict[str, int]]:
    """Parse and check one line; raises :class:`InputError` naming ``path:lineno``."""
    return _checked_vector(path, lineno, json_line(path, lineno, line))


def _checked_vector(path, lineno: int, obj: dict) -> tuple[str, str, dict[str, int]]:
    if "id" not in obj:
        raise InputError(path, "missing 'id'", line=lineno)
    docid = obj["id"]
    if not isinstance(docid, str) or not docid or any(ch.isspace() for ch in docid):
        raise InputError(path, f"'id' must be a non-empty string without whitespace, got {docid!r}", line=lineno)
    vector = obj.get("vector")
    if not isinstance(vector, dict):
        raise InputError(path, f"document {docid!r}: missing or non-object 'vector'", line=lineno)
    for term, weight in vector.items():
        if not term or any(ch.isspace() for ch in term):
            raise InputError(path, f"document {docid!r}: term {term!r} is empty or contains whitespace", line=lineno)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise InputError(path, f"document {docid!r}: weight of {term!r} is not a number: {weight!r}", line=lineno)
        if isinstance(weight, float):
            if math.isnan(weight) or math.isinf(weight):
                raise InputError(path, f"document {docid!r}: weight of {term!r} is {weight}", line=lineno)
            if not weight.is_integer():
                raise InputError(path, f"document {docid!r}: weight of {term!r} is not an integer: {weight!r} "
                                       "(quantise first: Anserini truncates floats)", line=lineno)
        if weight < 0:
            raise InputError(path, f"document {docid!r}: weight of {term!r} is negative: {weight}", line=lineno)
        if weight > MAX_IMPACT:
            raise InputError(path, f"document {docid!r}: weight of {term!r} is {str(weight)[:30]}, above {MAX_IMPACT}, the "
                                   "largest impact Lucene scores exactly (Anserini wraps 2**31 and more to a "
                                   "negative count)", line=lineno)
    contents = obj.get("contents", "")
    if not isinstance(contents, str):
        raise InputError(path, f"document {docid!r}: 'contents' must be a string, found {type(contents).__name__}",
                         line=lineno)
    return docid, contents, {t: int(w) for t, w in vector.items()}


def read_vectors(path: str | os.PathLike, with_lines: bool = False) -> Iterator:
    """Stream checked ``(id, contents, vector)`` from one JSONL file (queries or a shard);
    with ``with_lines``, ``(line number, (id, contents, vector))`` for messages."""
    for lineno, line in numbered_lines(path):
        item = parse_vector_line(path, lineno, line)
        yield (lineno, item) if with_lines else item


def read_collection(folder: str | os.PathLike, check_duplicates: bool = True) -> Iterator[tuple[str, str, dict[str, int]]]:
    """Stream every document of a collection folder; a repeated id is an error."""
    seen: dict[str, tuple[Path, int]] = {}
    for path in collection_files(folder):
        for lineno, doc in read_vectors(path, with_lines=True):
            if check_duplicates:
                if doc[0] in seen:
                    first = seen[doc[0]]
                    raise InputError(path, f"duplicate document id {doc[0]!r} (first at {first[0]}:{first[1]})",
                                     line=lineno)
                seen[doc[0]] = (path, lineno)
            yield doc


def validate_collection(folder: str | os.PathLike) -> dict:
    """Check a whole collection before indexing; returns counts, raises on the first problem
    (a collection without a single document is one: its index would answer nothing)."""
    documents = empty = postings = 0
    for _, _, vector in read_collection(folder):
        documents += 1
        n = sum(1 for w in vector.values() if w > 0)
        empty += n == 0
        postings += n
    if documents == 0:
        raise InputError(folder, "the collection has no documents (its files are empty)")
    return {"documents": documents, "empty_vectors": empty, "postings": postings}


@dataclass
class QueryFile:
    """A pre-encoded query file: vectors, texts and the encoding its lines carry (None: unknown)."""

    path: Path
    vectors: dict[str, dict[str, int]]
    texts: dict[str, str]
    encoding: dict | None


def read_query_file(path: str | os.PathLike) -> QueryFile:
    """Read and check a pre-encoded query JSONL file, with the encoding its lines carry.

    Every line must carry the same encoding, or none may (a file written by another tool):
    a file mixing them is an error naming the first line
    that differs. A file without a single query is an error (``search``, ``cost`` and
    ``postings`` all refuse an empty query set rather than report means over nothing).
    """
    from esplade_eval.artifacts import QUERY_ENCODING, read_encoding

    vectors: dict[str, dict[str, int]] = {}
    texts: dict[str, str] = {}
    first: tuple[int, dict | None] | None = None
    for lineno, line in numbered_lines(path):
        obj = json_line(path, lineno, line)
        qid, text, vec = _checked_vector(path, lineno, obj)
        if qid in vectors:
            raise InputError(path, f"duplicate query id {qid!r}", line=lineno)
        vectors[qid] = {t: w for t, w in vec.items() if w > 0}
        texts[qid] = text
        raw = obj.get(QUERY_ENCODING)
        enc = read_encoding(raw)
        if raw is not None and enc is None:
            raise InputError(path, f"unreadable {QUERY_ENCODING!r} record: {raw!r}", line=lineno)
        if first is None:
            first = (lineno, enc)
        elif enc != first[1]:
            raise InputError(path, f"this query's encoding differs from line {first[0]}'s: one file, one encoding",
                             line=lineno)
    if not vectors:
        raise InputError(path, "no queries: the query file is empty")
    return QueryFile(Path(path), vectors, texts, first[1] if first else None)


def read_query_vectors(path: str | os.PathLike) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """``({qid: {term: impact}}, {qid: text})`` from a pre-encoded query JSONL file."""
    q = read_query_file(path)
    return q.vectors, q.texts


def write_query_file(path_fh: IO[str], ids: Iterable[str], texts: Iterable[str], batch: SparseBatch,
                     terms: Sequence[str], encoding: Mapping | None = None) -> None:
    """Pyserini's pre-encoded query format (the line shape of documents), each line
    carrying ``encoding`` when given (see :mod:`esplade_eval.artifacts`)."""
    from esplade_eval.artifacts import QUERY_ENCODING

    extra = {QUERY_ENCODING: dict(encoding)} if encoding else None
    for line in VectorLineWriter(terms).lines(list(ids), list(texts), batch, extra):
        path_fh.write(line)
