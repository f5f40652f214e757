"""BM25 over plain text with Anserini: index a ``JsonCollection``, search queries in batch.

Indexing runs Anserini's ``IndexCollection`` in a child JVM (see
:func:`esplade_eval.lucene.index.java_command`), writing the index under a temporary name
renamed when complete. Search runs Anserini's ``SimpleSearcher`` (BM25, Anserini's default
``k1=0.9, b=0.4``, the searcher behind Pyserini's ``LuceneSearcher``) in this process's JVM,
started through :func:`esplade_eval.lucene.java.start`; the searcher is always closed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Mapping

from esplade_eval._io import atomic_dir
from esplade_eval.errors import EspladeError, InputError
from esplade_eval.lucene.java import DEFAULT_HEAP

log = logging.getLogger(__name__)

Hits = list[tuple[str, float]]


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
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not any(tmp.glob("segments_*")):
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise EspladeError(f"Anserini BM25 indexing of {corpus} failed (exit {proc.returncode}):\n{tail}")
    log.info("BM25 index of %s written to %s in %.1fs", corpus, index_dir, time.perf_counter() - started)
    return Path(index_dir)


def bm25_search(index: str | os.PathLike, queries: Mapping[str, str], k: int = 100,
                threads: int = 1) -> dict[str, Hits]:
    """``{qid: [(docid, score), ...]}``, top ``k`` by BM25 for every query, in input order.

    A query without hits (or with no indexable term) maps to an empty list.
    """
    from esplade_eval.lucene.index import check_index
    from esplade_eval.lucene.java import start

    index = check_index(index)
    qids = list(queries)
    if not qids:
        return {}
    autoclass = start()
    JArrayList = autoclass("java.util.ArrayList")
    searcher = autoclass("io.anserini.search.SimpleSearcher")(str(index))
    try:
        jqueries, jqids = JArrayList(), JArrayList()
        for qid in qids:
            jqueries.add(queries[qid])
            jqids.add(qid)
        results = searcher.batch_search(jqueries, jqids, int(k), int(threads))
        raw = {entry.getKey(): [(h.docid, float(h.score)) for h in entry.getValue()]
               for entry in results.entrySet().toArray()}
    finally:
        searcher.close()
    return {qid: raw.get(qid, []) for qid in qids}
