"""BM25 hard negatives through Pyserini (a Lucene BM25 index of the collection's titles).

The index is built once per collection under ``<collection>/bm25-index`` (Pyserini's
``JsonCollection`` indexer, run as a subprocess so this process starts the JVM only to
search). Negatives of a query are its BM25 top-``depth`` documents that the qrels do not
judge relevant, in rank order.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from esplade_eval.errors import EspladeError

log = logging.getLogger(__name__)


def ensure_bm25_index(collection, threads: int = 1) -> Path:
    from esplade_eval._io import atomic_dir

    index = Path(collection.root) / "bm25-index"
    if (index / "segments_1").exists() or any(index.glob("segments_*")):
        return index
    with atomic_dir(index, overwrite=True) as tmp:
        docs = tmp / "docs"
        docs.mkdir()
        (docs / "corpus.jsonl").symlink_to(Path(collection.corpus).resolve())
        out = tmp / "index"
        cmd = [sys.executable, "-m", "pyserini.index.lucene", "--collection", "JsonCollection", "--input", str(docs),
               "--index", str(out), "--generator", "DefaultLuceneDocumentGenerator", "--threads", str(threads)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise EspladeError(f"BM25 indexing failed ({' '.join(cmd)}):\n{res.stderr[-2000:]}")
        for f in out.iterdir():
            f.rename(tmp / f.name)
        out.rmdir()
        (docs / "corpus.jsonl").unlink()
        docs.rmdir()
    return index


def bm25_negatives(collection, queries: dict[str, str], qrels: dict[str, dict[str, int]], depth: int = 50,
                   threads: int = 1) -> dict[str, list[str]]:
    """``{qid: [docid, ...]}``: BM25 top-``depth`` non-relevant documents per query."""
    from esplade_eval.lucene.java import configure

    index = ensure_bm25_index(collection, threads)
    configure()
    from pyserini.search.lucene import LuceneSearcher

    searcher = LuceneSearcher(str(index))
    qids = sorted(queries)
    hits = searcher.batch_search([queries[q] for q in qids], qids, k=depth, threads=threads)
    out = {}
    for qid in qids:
        rel = qrels.get(qid, {})
        out[qid] = [h.docid for h in hits.get(qid, []) if rel.get(h.docid, 0) <= 0]
    log.info("BM25 negatives: %d queries, %.1f per query", len(out), sum(map(len, out.values())) / max(1, len(out)))
    return out
