"""Anserini ``JsonVectorCollection`` files and Pyserini pre-encoded query files.

One JSON object per line::

    {"id": "d1", "contents": "title text", "vector": {"term": 37, "other": 5}}

Anserini repeats each term ``weight`` times when it builds an impact index, so a weight
must be a positive integer and a term must not contain whitespace (the pretokenized
analyzer splits on it). :func:`validate_collection` checks exactly that, naming the file
and line of every problem; :class:`CollectionWriter` writes shards atomically.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import IO, Iterable, Iterator, Sequence

import numpy as np

from esplade_eval._io import open_text
from esplade_eval.errors import InputError
from esplade_eval.sparse.vectors import SparseBatch

COLLECTION_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz")


class VectorLineWriter:
    """Formats rows of an integer :class:`SparseBatch` as JSON lines, fast.

    Term strings are JSON-escaped once per vocabulary entry, not once per posting.
    """

    def __init__(self, terms: Sequence[str]):
        self._quoted = np.array([json.dumps(t, ensure_ascii=False) for t in terms], dtype=object)

    def lines(self, ids: Sequence[str], texts: Sequence[str], batch: SparseBatch) -> Iterator[str]:
        quoted, indptr, indices, data = self._quoted, batch.indptr, batch.indices, batch.data
        # term order within a vector: by term id (deterministic, diff-friendly)
        for i, (docid, text) in enumerate(zip(ids, texts)):
            s, e = indptr[i], indptr[i + 1]
            idx = indices[s:e]
            order = np.argsort(idx, kind="stable")
            pairs = ",".join(f"{q}:{w}" for q, w in zip(quoted[idx[order]], data[s:e][order].tolist()))
            yield (f'{{"id":{json.dumps(docid, ensure_ascii=False)},'
                   f'"contents":{json.dumps(text, ensure_ascii=False)},"vector":{{{pairs}}}}}\n')


class CollectionWriter:
    """Write a sharded JsonVectorCollection into ``folder`` (``docs00000.jsonl`` ...).

    The caller provides ``folder`` (normally a temporary one, renamed when complete).
    """

    def __init__(self, folder: str | os.PathLike, terms: Sequence[str], shard_size: int = 100_000):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shard_size = shard_size
        self.formatter = VectorLineWriter(terms)
        self._fh: IO[str] | None = None
        self._in_shard = 0
        self._shard = 0
        self.documents = 0
        self.empty = 0
        self.postings = 0

    def write(self, ids: Sequence[str], texts: Sequence[str], batch: SparseBatch) -> None:
        lengths = batch.lengths()
        self.empty += int(np.count_nonzero(lengths == 0))
        self.postings += int(batch.nnz)
        for line in self.formatter.lines(ids, texts, batch):
            if self._fh is None or self._in_shard == self.shard_size:
                self._next_shard()
            self._fh.write(line)
            self._in_shard += 1
            self.documents += 1

    def _next_shard(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh = open(self.folder / f"docs{self._shard:05d}.jsonl", "w", encoding="utf-8")
        self._shard += 1
        self._in_shard = 0

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


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
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"malformed JSON: {exc.msg} (column {exc.colno})", line=lineno) from None
    if not isinstance(obj, dict):
        raise InputError(path, "expected a JSON object", line=lineno)
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
    contents = obj.get("contents", "")
    return docid, contents if isinstance(contents, str) else str(contents), {t: int(w) for t, w in vector.items()}


def read_vectors(path: str | os.PathLike, with_lines: bool = False) -> Iterator:
    """Stream checked ``(id, contents, vector)`` from one JSONL file (queries or a shard);
    with ``with_lines``, ``(line number, (id, contents, vector))`` for messages."""
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                item = parse_vector_line(path, lineno, line)
                yield (lineno, item) if with_lines else item


def read_collection(folder: str | os.PathLike, check_duplicates: bool = True) -> Iterator[tuple[str, str, dict[str, int]]]:
    """Stream every document of a collection folder; a repeated id is an error."""
    seen: dict[str, tuple[Path, int]] = {}
    for path in collection_files(folder):
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                doc = parse_vector_line(path, lineno, line)
                if check_duplicates:
                    if doc[0] in seen:
                        first = seen[doc[0]]
                        raise InputError(path, f"duplicate document id {doc[0]!r} (first at {first[0]}:{first[1]})",
                                         line=lineno)
                    seen[doc[0]] = (path, lineno)
                yield doc


def validate_collection(folder: str | os.PathLike) -> dict:
    """Check a whole collection before indexing; returns counts, raises on the first problem."""
    documents = empty = postings = 0
    for _, _, vector in read_collection(folder):
        documents += 1
        n = sum(1 for w in vector.values() if w > 0)
        empty += n == 0
        postings += n
    return {"documents": documents, "empty_vectors": empty, "postings": postings}


def read_query_vectors(path: str | os.PathLike) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """``({qid: {term: impact}}, {qid: text})`` from a pre-encoded query JSONL file."""
    vectors: dict[str, dict[str, int]] = {}
    texts: dict[str, str] = {}
    for lineno, (qid, text, vec) in read_vectors(path, with_lines=True):
        if qid in vectors:
            raise InputError(path, f"duplicate query id {qid!r}", line=lineno)
        vectors[qid] = {t: w for t, w in vec.items() if w > 0}
        texts[qid] = text
    return vectors, texts


def write_query_file(path_fh: IO[str], ids: Iterable[str], texts: Iterable[str], batch: SparseBatch,
                     terms: Sequence[str]) -> None:
    """Pyserini's pre-encoded query format: the same line shape as documents."""
    for line in VectorLineWriter(terms).lines(list(ids), list(texts), batch):
        path_fh.write(line)
