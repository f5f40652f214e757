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
from dataclasses import asdict, dataclass
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
INDEX_FORMAT = "esplade_eval/bm25-index/1"


@dataclass(frozen=True)
class BM25Params:
    """BM25 as Anserini ranks it, stated once: the ``bm25`` verb, the study, the demo.

    ``k1``, ``b``: Anserini's (and Pyserini's) defaults. ``rm3``: RM3 query expansion with
    Pyserini's defaults (``fb_terms`` 10, ``fb_docs`` 10, ``original_query_weight`` 0.5).
    """

    k1: float = 0.9
    b: float = 0.4
    rm3: bool = False
    fb_terms: int = 10
    fb_docs: int = 10
    original_query_weight: float = 0.5

    def __post_init__(self):
        if not (self.k1 >= 0 and 0 <= self.b <= 1):
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={self.k1}, b={self.b}")

    @property
    def name(self) -> str:
        """``bm25``, ``bm25-rm3``; other k1/b are named (``bm25-k1.2-b0.75``)."""
        base = "bm25" if (self.k1, self.b) == (0.9, 0.4) else f"bm25-k{self.k1:g}-b{self.b:g}"
        return base + ("-rm3" if self.rm3 else "")

    def to_dict(self) -> dict:
        out = asdict(self)
        if not self.rm3:
            for key in ("fb_terms", "fb_docs", "original_query_weight"):
                out.pop(key)
        return out


def build_bm25_index(corpus_jsonl: str | os.PathLike, index_dir: str | os.PathLike, threads: int = 1,
                     overwrite: bool = False, heap: str = DEFAULT_HEAP, docvectors: bool = False) -> Path:
    """Index ``corpus_jsonl`` (``{"id": ..., "contents": ...}`` per line) for BM25 search.

    The index is complete under ``index_dir`` or absent: a failure leaves nothing there.
    ``docvectors``: also store positions, document vectors and raw text (what RM3 and
    Pyserini's ``LuceneSearcher.doc`` read; scores are the same either way).
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
                           "-threads", str(threads),
                           *(["-storePositions", "-storeDocvectors", "-storeRaw"] if docvectors else []), heap=heap)
        log.debug("running %s", " ".join(cmd))
        proc = run_child(cmd)  # stopped with this process (Ctrl-C, SIGTERM, an error)
        if proc.returncode != 0 or not any(tmp.glob("segments_*")):
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise EspladeError(f"Anserini BM25 indexing of {corpus} failed (exit {proc.returncode}):\n{tail}")
    log.info("BM25 index of %s written to %s in %.1fs", corpus, index_dir, time.perf_counter() - started)
    return Path(index_dir)


def ensure_bm25_index(corpus_jsonl: str | os.PathLike, index_dir: str | os.PathLike, corpus_sha256: str,
                      threads: int = 1) -> Path:
    """A BM25 index of the corpus in ``index_dir`` with document vectors (RM3 reads them), reused
    while its manifest names the same corpus content (SHA-256) and format, rebuilt otherwise."""
    from esplade_eval._io import write_json
    from esplade_eval._read import read_json
    from esplade_eval.artifacts import INDEX_MANIFEST

    index = Path(index_dir)
    expected = {"format": INDEX_FORMAT, "corpus_sha256": corpus_sha256, "analyzer": "DefaultEnglishAnalyzer",
                "docvectors": True}
    manifest = index / INDEX_MANIFEST
    if manifest.is_file() and any(index.glob("segments_*")):
        try:
            found = read_json(manifest, "BM25 index manifest")
        except InputError:  # damaged: rebuilt
            found = {}
        if all(found.get(k) == v for k, v in expected.items()):
            log.info("BM25 index %s is current: reused", index)
            return index
    index.parent.mkdir(parents=True, exist_ok=True)
    build_bm25_index(corpus_jsonl, index, threads=threads, overwrite=True, docvectors=True)
    write_json(manifest, {**expected, "corpus": str(corpus_jsonl)})
    return index


def bm25_search(index: str | os.PathLike, queries: Mapping[str, str], k: int = 100, threads: int = 1,
                heap: str | None = None, progress: bool | None = False,
                params: BM25Params = BM25Params()) -> dict[str, Hits]:
    """``{qid: [(docid, score), ...]}``, top ``k`` by BM25 for every query, in input order.

    A query without hits (or with no indexable term) maps to an empty list. The same
    hits and scores as Anserini's ``SimpleSearcher.batch_search`` (tested). With
    ``params.rm3`` the search is Anserini's own (:func:`rm3_search`).
    """
    from esplade_eval.lucene.batch import BatchSearcher

    if not queries:
        check_index(index)
        return {}
    if params.rm3:
        return rm3_search(index, queries, k, threads, heap, params)
    with BatchSearcher(index, "bm25", heap=heap, k1=params.k1, b=params.b) as batch:
        analyzer = batch.autoclass("io.anserini.analysis.DefaultEnglishAnalyzer").newDefaultInstance()
        generator = batch.autoclass("io.anserini.search.query.BagOfWordsQueryGenerator")()
        built = ((qid, generator.buildQuery(FIELD, analyzer, text)) for qid, text in queries.items())
        return {qid: list(zip(ids, scores))
                for qid, ids, scores in batch.run(built, k, threads=threads, total=len(queries), progress=progress,
                                                  desc="BM25")}


def rm3_search(index: str | os.PathLike, queries: Mapping[str, str], k: int, threads: int = 1,
               heap: str | None = None, params: BM25Params = BM25Params(rm3=True)) -> dict[str, Hits]:
    """BM25 + RM3 through Anserini's ``SimpleSearcher`` (what ``pyserini.search.lucene --rm3``
    runs): RM3 reranks with the feedback documents' stored vectors, which only Anserini's
    searcher reads, so these hits cross the Java bridge one by one (fine for a reference run).
    """
    from esplade_eval.lucene.batch import heap_for_index
    from esplade_eval.lucene.java import choose_heap, start

    index = check_index(index)
    autoclass = start(heap=choose_heap(heap, heap_for_index(index)))
    searcher = autoclass("io.anserini.search.SimpleSearcher")(str(index))
    try:
        if not searcher.reader.getTermVectors(0):
            raise InputError(index, "RM3 needs document vectors: rebuild the index with them (the bm25 verb does)")
        searcher.set_bm25(float(params.k1), float(params.b))
        searcher.set_rm3(None, params.fb_terms, params.fb_docs, float(params.original_query_weight), False, True)
        texts, qids = autoclass("java.util.ArrayList")(), autoclass("java.util.ArrayList")()
        for qid, text in queries.items():
            texts.add(text)
            qids.add(qid)
        found = {e.getKey(): [(h.docid, float(h.score)) for h in e.getValue()]
                 for e in searcher.batch_search(texts, qids, k, threads).entrySet().toArray()}
    finally:
        searcher.close()
    return {qid: found.get(qid, []) for qid in queries}
