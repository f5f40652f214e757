"""BM25 over plain text with Anserini: index a ``JsonCollection``, search queries in batch.

Indexing runs Anserini's ``IndexCollection`` in a child JVM (see
:func:`esplade_eval.lucene.index.java_command`), writing the index under a temporary name
renamed when complete. Search ranks exactly as Anserini's ``SimpleSearcher`` (the searcher
behind Pyserini's ``LuceneSearcher``): its query (``BagOfWordsQueryGenerator`` over the
``DefaultEnglishAnalyzer``'s tokens), Lucene's ``BM25Similarity`` with Anserini's defaults
``k1=0.9, b=0.4``, ties by docid and Anserini's tie-adjusted scores; but it runs through
:class:`~esplade_eval.lucene.batch.BatchSearcher`, so the hits never cross the Java bridge
one by one (``SimpleSearcher`` also loads every hit's stored document).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Mapping

from esplade_eval._children import run_child
from esplade_eval._io import atomic_dir
from esplade_eval.errors import EspladeError, InputError
from esplade_eval.lucene.index import check_index
from esplade_eval.lucene.java import DEFAULT_HEAP

log = logging.getLogger(__name__)

Hits = list[tuple[str, float]]
FIELD = "contents"  # Anserini's Constants.CONTENTS


def build_bm25_index(corpus_jsonl: str | os.PathLike, index_dir: str | os.PathLike, threads: int = 1,
                     overwrite: bool = False, heap: str = DEFAULT_HEAP) -> Path:
    """Index ``corpus_jsonl`` (``{"id": ..., "contents": ...}`` per line) for BM25 search.

    The index is complete under ``index_dir`` or absent: a failure leaves nothing there.
    """
    from esplade_eval.lucene.index import java_command

    corpus = Path(corpus_jsonl)
    if not corpus.is_file():
        raise InputError(corpus, "corpus file not found")
    started = time.perf_counter()
    # JsonCollection reads a folder: give it one holding only (a link to) the corpus
    with tempfile.TemporaryDirectory(prefix=".bm25-input.") as docs, \
            atomic_dir(index_dir, overwrite=overwrite) as tmp:
        (Path(docs) / "corpus.jsonl").symlink_to(corpus.resolve())
        cmd = java_command("io.anserini.index.IndexCollection", "-collection", "JsonCollection", "-input", docs,
                           "-index", str(tmp), "-generator", "DefaultLuceneDocumentGenerator",
                           "-threads", str(threads), heap=heap)
        log.debug("running %s", " ".join(cmd))
        proc = run_child(cmd)  # stopped with this process (Ctrl-C, SIGTERM, an error)
        if proc.returncode != 0 or not any(tmp.glob("segments_*")):
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise EspladeError(f"Anserini BM25 indexing of {corpus} failed (exit {proc.returncode}):\n{tail}")
    log.info("BM25 index of %s written to %s in %.1fs", corpus, index_dir, time.perf_counter() - started)
    return Path(index_dir)


def bm25_search(index: str | os.PathLike, queries: Mapping[str, str], k: int = 100, threads: int = 1,
                heap: str | None = None, progress: bool | None = False) -> dict[str, Hits]:
    """``{qid: [(docid, score), ...]}``, top ``k`` by BM25 for every query, in input order.

    A query without hits (or with no indexable term) maps to an empty list. The same
    hits and scores as Anserini's ``SimpleSearcher.batch_search`` (tested).
    """
    from esplade_eval.lucene.batch import BatchSearcher

    if not queries:
        check_index(index)
        return {}
    with BatchSearcher(index, "bm25", heap=heap) as batch:
        analyzer = batch.autoclass("io.anserini.analysis.DefaultEnglishAnalyzer").newDefaultInstance()
        generator = batch.autoclass("io.anserini.search.query.BagOfWordsQueryGenerator")()
        built = ((qid, generator.buildQuery(FIELD, analyzer, text)) for qid, text in queries.items())
        return {qid: list(zip(ids, scores))
                for qid, ids, scores in batch.run(built, k, threads=threads, total=len(queries), progress=progress,
                                                  desc="BM25")}
