"""Reference retrievers beside the learned sparse levels: BM25 and a dense bi-encoder.

Both write into a flow folder (:class:`esplade_eval.artifacts.FlowLayout`), so a flow, its
references and their runs sit side by side::

    OUT/references/bm25/index/            Lucene index of the corpus text (Pyserini's default
                                          analyzer), with esplade_eval.json; reused while the
                                          corpus' SHA-256 is unchanged
    OUT/references/dense/index/           faiss index + docid + embeddings.npy + manifest
    OUT/references/<name>/search.<split>.json   what the search measured (latency, recall)
    OUT/runs/run.<split>.<name>.txt       the TREC run, tagged <name>

``bm25`` (the verb), the demo and the study's ``bm25`` stage all call
:func:`bm25_reference` / :func:`~esplade_eval.lucene.bm25.bm25_search` with one
:class:`~esplade_eval.lucene.bm25.BM25Params`, so k1 and b are stated once.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from esplade_eval import defaults
from esplade_eval.artifacts import FlowLayout
from esplade_eval.dense.faiss_index import FaissSpec
from esplade_eval.errors import EspladeError
from esplade_eval.lucene.bm25 import BM25Params

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReferenceJob:
    """Where and on what a reference runs: a prepared collection, a split, a flow folder."""

    out: Path
    collection: object  # esplade_eval.data.prepared.Collection
    split: str = "test"
    hits: int = defaults.HITS
    threads: int = 1
    progress: bool | None = None

    @property
    def layout(self) -> FlowLayout:
        return FlowLayout(self.out)


@dataclass(frozen=True)
class DenseSettings:
    """The dense reference: checkpoint, encoding, faiss index kind."""

    checkpoint: str = "minilm"
    max_length: int | None = None  # None: the model card's (256)
    batch_size: int = 128
    device: str | None = None
    faiss: FaissSpec = field(default_factory=FaissSpec)

    @property
    def name(self) -> str:
        """``dense`` (flat), ``dense-hnsw``, ``dense-ivf``; another checkpoint adds its folder name."""
        base = "dense" if self.checkpoint == "minilm" else f"dense-{Path(self.checkpoint).name}"
        return base if self.faiss.kind == "flat" else f"{base}-{self.faiss.kind}"


@dataclass
class ReferenceResult:
    name: str
    run: Path
    index: Path
    info: dict


def refuse_input_as_output(out: str | os.PathLike, collection_root: str | os.PathLike) -> None:
    """An ``--out`` that is, or lies inside, the collection's folder would mix outputs with inputs."""
    out, root = Path(out).resolve(), Path(collection_root).resolve()
    if out == root or root in out.parents:
        raise EspladeError(f"--out {out}: is inside the collection folder {root} (an input); give another folder")
    if out.is_file():
        raise EspladeError(f"--out {out}: is a file; give a folder")


def reference_folder(layout: FlowLayout, name: str) -> Path:
    return layout.root / "references" / name


# --- BM25 ---------------------------------------------------------------------------------

def bm25_reference(job: ReferenceJob, params: BM25Params = BM25Params()) -> ReferenceResult:
    """The BM25 run of ``job.split``'s topics on the collection's text (index reused when current)."""
    from esplade_eval.data.trec import write_run
    from esplade_eval.lucene.bm25 import bm25_search, ensure_bm25_index

    index = reference_folder(job.layout, "bm25") / "index"
    started = time.perf_counter()
    ensure_bm25_index(job.collection.corpus, index, job.collection.corpus_sha256, threads=job.threads)
    indexed = time.perf_counter() - started
    topics = job.collection.read_topics(job.split)
    started = time.perf_counter()
    hits = bm25_search(index, topics, k=job.hits, threads=job.threads, progress=job.progress, params=params)
    seconds = time.perf_counter() - started
    run = job.layout.run(job.split, params.name)
    run.parent.mkdir(parents=True, exist_ok=True)
    write_run(run, {q: dict(h) for q, h in hits.items()}, tag=params.name, k=job.hits)
    info = {"name": params.name, "model": params.to_dict(), "queries": len(topics), "index_s": round(indexed, 2),
            "search_s": round(seconds, 2)}
    return ReferenceResult(params.name, run, index, info)


# --- dense --------------------------------------------------------------------------------

def _index_is_current(folder: Path, expected: dict) -> bool:
    from esplade_eval.dense.faiss_index import read_dense_manifest
    from esplade_eval.errors import InputError

    try:
        manifest = read_dense_manifest(folder)
    except InputError:
        return False
    return manifest is not None and all(manifest.get(k) == v for k, v in expected.items())


def dense_index(job: ReferenceJob, encoder, spec: FaissSpec, folder: Path) -> Path:
    """The dense index of the collection in ``folder``: reused when its manifest matches the
    encoder, the corpus and the faiss settings; otherwise the corpus is encoded and indexed."""
    from esplade_eval.dense.faiss_index import write_dense_index

    docs = list(job.collection.docs())
    expected = {**encoder.info.to_dict(), "corpus_sha256": job.collection.corpus_sha256,
                "index": spec.settings(len(docs))}
    if _index_is_current(folder, expected):
        log.info("dense index %s is current: reused", folder)
        return folder
    embeddings = _stored_embeddings(folder.parent.parent, {k: v for k, v in expected.items() if k != "index"})
    if embeddings is None:
        embeddings = encoder.encode([t for _, t in docs], progress=job.progress, desc="dense encode documents")
    manifest = {**encoder.info.to_dict(), "corpus_sha256": job.collection.corpus_sha256,
                "collection": job.collection.provenance()}
    write_dense_index(folder, embeddings, [d for d, _ in docs], manifest, spec, overwrite=True,
                      extra={"embeddings.npy": embeddings})
    return folder


def _stored_embeddings(references: Path, expected: dict) -> np.ndarray | None:
    """The embeddings another dense index of these references holds for the same encoder and
    corpus (an HNSW index after a flat one re-encodes nothing), or None."""
    for folder in sorted(references.glob("*/index")):
        if (folder / "embeddings.npy").is_file() and _index_is_current(folder, expected):
            log.info("dense embeddings reused from %s", folder)
            return np.load(folder / "embeddings.npy")
    return None


def dense_reference(job: ReferenceJob, settings: DenseSettings = DenseSettings(), encoder=None) -> ReferenceResult:
    """The dense run of ``job.split``'s topics: encode (or reuse) the index, encode the topics, search."""
    from esplade_eval.data.trec import write_run
    from esplade_eval.dense.faiss_index import DenseIndex
    from esplade_eval.model.dense import DENSE_MAX_LENGTH, DenseEncoder

    encoder = encoder or DenseEncoder.from_checkpoint(settings.checkpoint, settings.max_length or DENSE_MAX_LENGTH,
                                                      settings.device, job.threads, settings.batch_size)
    folder = dense_index(job, encoder, settings.faiss, reference_folder(job.layout, settings.name) / "index")
    topics = job.collection.read_topics(job.split)
    queries = encoder.encode(list(topics.values()), progress=job.progress, desc="dense encode queries")
    opened = DenseIndex(folder, expected=encoder.info.to_dict())
    hits = opened.search(queries, job.hits, threads=job.threads)
    run = job.layout.run(job.split, settings.name)
    run.parent.mkdir(parents=True, exist_ok=True)
    write_run(run, {q: dict(h) for q, h in zip(topics, hits)}, tag=settings.name, k=job.hits)
    info = {"name": settings.name, "queries": len(topics), **dense_costs(opened, queries, job.hits)}
    if settings.faiss.kind != "flat":
        info["recall_vs_flat"] = recall_vs_flat(folder, opened, queries, hits, job.hits)
    _write_info(reference_folder(job.layout, settings.name) / f"search.{job.split}.json", info)
    return ReferenceResult(settings.name, run, folder, info)


def dense_costs(opened, queries: np.ndarray, hits: int, passes: int = 3) -> dict:
    """Multiply-adds per query (exhaustive: dimensions x documents; HNSW/IVF visit fewer) and
    single-thread latency per query (median over ``passes`` timed passes, after one warm-up)."""
    times = []
    opened.search(queries[:8], hits, threads=1)  # warm-up
    for _ in range(passes):
        for row in range(len(queries)):
            t0 = time.perf_counter()
            opened.index.search(queries[row:row + 1], hits)
            times.append(time.perf_counter() - t0)
    ms = np.asarray(times) * 1000
    manifest = opened.manifest
    return {"documents": manifest["documents"], "dimensions": manifest["dimensions"], "index": manifest["index"],
            "multiply_adds_per_query": _multiply_adds(manifest),
            "latency_ms_p50": float(np.percentile(ms, 50)), "latency_ms_p95": float(np.percentile(ms, 95)),
            "latency_ms_p99": float(np.percentile(ms, 99))}


def _multiply_adds(manifest: dict) -> int | None:
    """Inner-product multiply-adds per query: flat ``dims x docs``; IVF the centroids plus the
    expected share of the documents in ``nprobe`` cells; HNSW depends on the graph walk (None)."""
    docs, dims, index = manifest["documents"], manifest["dimensions"], manifest["index"]
    if index["kind"] == "flat":
        return docs * dims
    if index["kind"] == "ivf":
        return dims * (index["nlist"] + round(docs * min(1.0, index["nprobe"] / index["nlist"])))
    return None


def recall_vs_flat(folder: Path, opened, queries: np.ndarray, hits: list, k: int) -> dict:
    """Recall of an approximate index's top 10 and top ``k`` against exact inner product over
    the stored embeddings (the flat index's answer)."""
    from esplade_eval.dense.faiss_index import brute_force, recall_against

    exact = brute_force(np.load(folder / "embeddings.npy", mmap_mode="r"), opened.docids, queries, k)
    return {f"R@{n}": round(recall_against(exact, hits, n), 4) for n in sorted({10, k})}


def _write_info(path: Path, info: dict) -> None:
    from esplade_eval._io import write_json

    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, info)


def read_reference_info(out: str | os.PathLike, name: str, split: str) -> dict | None:
    """What a reference's search recorded (``search.<split>.json``), or None."""
    import json

    path = reference_folder(FlowLayout(out), name) / f"search.{split}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
