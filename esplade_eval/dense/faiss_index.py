"""faiss indexes of dense embeddings: written atomically, with a manifest, in Pyserini's layout.

A dense index folder::

    index              faiss.write_index of the embeddings (inner product)
    docid              one document id per line, row order (what Pyserini's FaissSearcher reads)
    esplade_eval.json  the manifest: format, checkpoint and its content hash, dimensions,
                       pooling, normalisation, max length, the faiss kind and settings, the
                       corpus' SHA-256, document count

Pyserini's ``FaissSearcher(folder, None)`` opens such a folder as it is (tested): ``index``
and ``docid`` are the two files it reads.

Kinds: ``flat`` (``IndexFlatIP``, exact: the default), ``hnsw`` (``IndexHNSWFlat`` with the
inner-product metric) and ``ivf`` (``IndexIVFFlat`` over a flat inner-product quantiser,
trained on the embeddings). Search fetches ``k + margin`` and ranks by (-score, docid), the
order every run of this toolkit has, so ties at the cut-off never depend on row order.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from esplade_eval.artifacts import INDEX_MANIFEST as MANIFEST
from esplade_eval.errors import EspladeError, InputError

INDEX_FILE = "index"
DOCID_FILE = "docid"
FORMAT = "esplade_eval/dense-index/1"
KINDS = ("flat", "hnsw", "ivf")
TIE_MARGIN = 16

Hits = list[tuple[str, float]]


@dataclass(frozen=True)
class FaissSpec:
    """Which faiss index, and its settings (recorded in the manifest).

    ``hnsw_m``, ``ef_construction``, ``ef_search``: HNSW's graph degree and beam widths;
    ``nlist`` (default ``4 * sqrt(documents)``), ``nprobe``: IVF's cells and cells visited.
    """

    kind: str = "flat"
    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int = 128
    nlist: int | None = None
    nprobe: int = 8

    def __post_init__(self):
        if self.kind not in KINDS:
            raise EspladeError(f"faiss index kind must be one of {', '.join(KINDS)}, got {self.kind!r}")

    def settings(self, documents: int) -> dict:
        """The settings that apply to this kind (``nlist`` resolved for ``documents``)."""
        if self.kind == "hnsw":
            return {"kind": "hnsw", "hnsw_m": self.hnsw_m, "ef_construction": self.ef_construction,
                    "ef_search": self.ef_search}
        if self.kind == "ivf":
            nlist = self.nlist or max(1, min(documents, int(4 * math.sqrt(documents))))
            return {"kind": "ivf", "nlist": nlist, "nprobe": self.nprobe}
        return {"kind": "flat"}

    def to_dict(self) -> dict:
        return asdict(self)


def make_index(embeddings: np.ndarray, spec: FaissSpec):
    """A faiss index of ``embeddings`` (rows; inner product), trained if the kind needs it."""
    import faiss

    n, dims = embeddings.shape
    s = spec.settings(n)
    if s["kind"] == "flat":
        index = faiss.IndexFlatIP(dims)
    elif s["kind"] == "hnsw":
        index = faiss.IndexHNSWFlat(dims, s["hnsw_m"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = s["ef_construction"]
    else:
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dims), dims, s["nlist"], faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(embeddings, dtype=np.float32))
    for start in range(0, n, 65536):  # bounded copies of a memory-mapped array
        index.add(np.ascontiguousarray(embeddings[start:start + 65536], dtype=np.float32))
    _tune(index, s)
    return index


def _tune(index, settings: Mapping) -> None:
    if settings["kind"] == "hnsw":
        index.hnsw.efSearch = settings["ef_search"]
    elif settings["kind"] == "ivf":
        index.nprobe = settings["nprobe"]


def write_dense_index(folder: str | os.PathLike, embeddings: np.ndarray, docids: Sequence[str], manifest: dict,
                      spec: FaissSpec = FaissSpec(), overwrite: bool = False,
                      extra: Mapping[str, np.ndarray] | None = None) -> Path:
    """Build and write a dense index folder (see the module docstring), atomically;
    ``extra``: arrays saved beside it (``{"embeddings.npy": embeddings}``)."""
    import faiss

    from esplade_eval._io import atomic_dir, atomic_file, write_json

    if len(docids) != len(embeddings):
        raise EspladeError(f"{folder}: {len(docids)} document ids for {len(embeddings)} embeddings")
    bad = next((d for d in docids if not d or any(c.isspace() for c in d)), None)
    if bad is not None:
        raise EspladeError(f"{folder}: document id {bad!r} is empty or holds whitespace (a TREC run cannot carry it)")
    index = make_index(embeddings, spec)
    with atomic_dir(folder, overwrite=overwrite) as tmp:
        faiss.write_index(index, str(tmp / INDEX_FILE))
        with atomic_file(tmp / DOCID_FILE) as fh:
            fh.writelines(f"{d}\n" for d in docids)
        write_json(tmp / MANIFEST, {"format": FORMAT, **manifest, "index": spec.settings(len(docids)),
                                    "documents": len(docids), "dimensions": int(embeddings.shape[1]),
                                    "metric": "inner_product"})
        for name, array in (extra or {}).items():
            np.save(tmp / name, array)
    return Path(folder)


def read_dense_manifest(folder: str | os.PathLike) -> dict | None:
    """The manifest of a dense index folder; None when absent or of another format."""
    from esplade_eval._read import read_json

    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    manifest = read_json(path, "dense index manifest")
    return manifest if manifest.get("format") == FORMAT else None


class DenseIndex:
    """An opened dense index folder: the faiss index, the ids, the manifest.

    ``expected`` (e.g. the query encoder's :class:`~esplade_eval.model.dense.DenseInfo`
    fields) is compared with the manifest field by field: a difference is an error that
    names each field, as the sparse search refuses queries encoded otherwise.
    """

    def __init__(self, folder: str | os.PathLike, expected: Mapping | None = None):
        import faiss

        from esplade_eval.model.dense import DENSE_FIELDS

        self.folder = Path(folder)
        self.manifest = read_dense_manifest(self.folder)
        if self.manifest is None:
            raise InputError(self.folder, f"not a dense index of this toolkit (no {MANIFEST} of format {FORMAT})")
        if expected is not None:
            problems = [f"{f} {expected.get(f)} differs from the index's {self.manifest.get(f)}"
                        for f in DENSE_FIELDS if expected.get(f) != self.manifest.get(f)]
            if problems:
                raise EspladeError(f"{self.folder}: queries and index were encoded differently: " + "; ".join(problems))
        try:
            self.index = faiss.read_index(str(self.folder / INDEX_FILE))
        except RuntimeError as exc:
            raise InputError(self.folder / INDEX_FILE, f"cannot be read as a faiss index: {str(exc)[:200]}") from None
        self.docids = np.array((self.folder / DOCID_FILE).read_text(encoding="utf-8").split("\n")[:-1], dtype=object)
        if len(self.docids) != self.index.ntotal or self.index.ntotal != self.manifest.get("documents"):
            raise InputError(self.folder, f"{len(self.docids)} ids, {self.index.ntotal} vectors, manifest "
                                          f"{self.manifest.get('documents')} documents: the folder is damaged")
        _tune(self.index, self.manifest["index"])

    def search(self, queries: np.ndarray, k: int, threads: int = 1) -> list[Hits]:
        """Top ``k`` per query row, ranked by (-score, docid)."""
        import faiss

        faiss.omp_set_num_threads(threads)
        depth = min(self.index.ntotal, k + TIE_MARGIN)
        scores, rows = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), depth)
        return [rank_hits(self.docids, r, s, k) for r, s in zip(rows, scores)]


def rank_hits(docids: np.ndarray, rows: np.ndarray, scores: np.ndarray, k: int) -> Hits:
    """``(docid, score)`` of the valid ``rows`` ranked by (-score, docid), the first ``k``."""
    keep = rows >= 0
    ids, vals = docids[rows[keep]], scores[keep].astype(np.float32)
    order = sorted(range(len(ids)), key=lambda i: (-vals[i], ids[i]))[:k]
    return [(str(ids[i]), float(vals[i])) for i in order]


def recall_against(exact: Sequence[Hits], approx: Sequence[Hits], k: int) -> float:
    """Mean over queries of |approx top k ∩ exact top k| / |exact top k| (queries with hits)."""
    values = [len({d for d, _ in a[:k]} & {d for d, _ in e[:k]}) / len(e[:k]) for e, a in zip(exact, approx) if e]
    return float(np.mean(values)) if values else 1.0


def brute_force(embeddings: np.ndarray, docids: np.ndarray, queries: np.ndarray, k: int,
                chunk: int = 65536) -> list[Hits]:
    """Exact top ``k`` by inner product with numpy (the oracle of a flat index), ranked by
    (-score, docid); documents scored ``chunk`` rows at a time."""
    q = np.ascontiguousarray(queries, dtype=np.float32)
    depth = min(len(docids), k + TIE_MARGIN)
    best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
    best_r = np.zeros((len(q), 0), dtype=np.int64)
    for start in range(0, len(docids), chunk):
        s = np.asarray(embeddings[start:start + chunk], dtype=np.float32) @ q.T
        cand_s = np.concatenate([best_s, s.T], axis=1)
        cand_r = np.concatenate([best_r, np.broadcast_to(np.arange(start, start + s.shape[0]), (len(q), s.shape[0]))],
                                axis=1)
        top = np.argsort(-cand_s, axis=1, kind="stable")[:, :depth]
        best_s, best_r = np.take_along_axis(cand_s, top, 1), np.take_along_axis(cand_r, top, 1)
    return [rank_hits(docids, r, s, k) for r, s in zip(best_r, best_s)]
