"""The whole flow for one checkpoint over several pruning levels, resumable.

collection -> export (one encoding pass, every level) -> index per level -> search per
level -> runs. The collection is any :mod:`esplade_eval.data.collection` spec (default
the bundled Semanlink titles), prepared into ``out/data``. Every artifact is written
atomically, so an artifact that exists is complete; a level's vectors and index are reused
only when its manifest names the same checkpoint content hash, max length, quantisation,
pruning and corpus (SHA-256 of the canonical corpus), its queries and run only when the
manifest names the same topics file content; otherwise they are rebuilt. Runs of another
collection are never reused.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from esplade_eval.data.collection import Collection, load_collection
from esplade_eval.sparse.prune import Pruning
from esplade_eval.sparse.quantize import Quantizer

log = logging.getLogger(__name__)

DEFAULT_LEVELS = (Pruning(), Pruning(32, 16), Pruning(16, 8), Pruning(8, 4))


@dataclass
class LevelArtifacts:
    pruning: Pruning
    vectors: Path  # export level folder (manifest.json, collection/, queries.<split>.jsonl)
    queries: Path
    index: Path
    run: Path


@dataclass
class FlowResult:
    collection: Collection
    split: str
    checkpoint: str
    levels: dict[str, LevelArtifacts] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    name: str | None = None  # how tables call this checkpoint (default: the checkpoint folder's name)

    @property
    def qrels(self) -> Path:
        return self.collection.qrels(self.split)

    @property
    def topics(self) -> Path:
        return self.collection.topics(self.split)

    @property
    def runs(self) -> dict[str, Path]:
        return {name: lv.run for name, lv in self.levels.items()}


def _manifest(level_dir: Path) -> dict | None:
    from esplade_eval.errors import InputError
    from esplade_eval.sparse.manifest import read_manifest

    try:
        return read_manifest(level_dir)
    except InputError:  # absent, unreadable or of another format: rebuild
        return None


def _manifest_matches(level_dir: Path, checkpoint_hash: str, quantizer: Quantizer, pruning: Pruning,
                      max_length: int, corpus_sha256: str) -> bool:
    m = _manifest(level_dir)
    return (m is not None and m["encoder"]["checkpoint_hash"] == checkpoint_hash
            and m["encoder"]["max_length"] == max_length and m["pruning"]["name"] == pruning.name
            and (m["quantization"]["scale"], m["quantization"]["rounding"]) == (quantizer.scale, quantizer.rounding)
            and m.get("collection", {}).get("corpus_sha256") == corpus_sha256)


def _queries_match(level_dir: Path, split: str, topics_sha256: str) -> bool:
    m = _manifest(level_dir)
    entry = (m or {}).get("queries", {}).get(split) or {}
    return entry.get("source_sha256") == topics_sha256 and (level_dir / entry.get("file", "-")).is_file()


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def resolve_collection(collection, out: Path, registry=None, echo=print) -> Collection:
    """A prepared collection: ``collection`` itself, or its spec prepared into ``out/data``
    (default: the bundled Semanlink titles)."""
    if isinstance(collection, Collection):
        return collection
    return load_collection(collection or "semanlink", root=out / "data", registry=registry, echo=echo)


def run_flow(out: str | os.PathLike, checkpoint: str = "splade-tiny", levels: Sequence[Pruning] = DEFAULT_LEVELS,
             split: str = "test", threads: int | None = None, hits: int = 1000, quantizer: Quantizer = Quantizer(),
             max_length: int = 256, collection=None, encoder=None, name: str | None = None, registry=None,
             echo=print, progress: bool | None = None) -> FlowResult:
    """Run (or resume) the flow into ``out``; see the module docstring.

    ``collection`` is a prepared :class:`~esplade_eval.data.collection.Collection` or a spec
    for :func:`~esplade_eval.data.collection.load_collection` (a registry name, a TOML file, a
    folder, a mapping), prepared into ``out/data``; ``registry`` names a registry file.
    ``progress``: bars for encoding, indexing and searching (None: only on a terminal).
    """
    from esplade_eval.lucene.index import build_index
    from esplade_eval.lucene.search import search_to_run
    from esplade_eval.model.encoder import SpladeEncoder
    from esplade_eval.model.export import export_corpus, export_topics
    from esplade_eval.sparse.jsonvector import read_query_vectors

    out = Path(out)
    threads = threads or os.cpu_count() or 1
    collection = resolve_collection(collection, out, registry, echo)
    collection.require_split(split)
    result = FlowResult(collection, split, str(checkpoint), name=name)
    t0 = time.perf_counter()
    encoder = encoder or SpladeEncoder.from_checkpoint(checkpoint, max_length=max_length, threads=threads)
    result.timings["load"] = time.perf_counter() - t0

    vec_root, idx_root, run_root = out / "vectors", out / "indexes", out / "runs"
    stale = [p for p in levels if not _manifest_matches(vec_root / p.name, encoder.info.checkpoint_hash, quantizer,
                                                           p, max_length, collection.corpus_sha256)]
    t0 = time.perf_counter()
    if stale:
        log.info("exporting %s", ", ".join(p.name for p in stale))
        for p in stale:  # what was built from the old vectors goes first
            _remove(idx_root / p.name)
            for run in run_root.glob(f"run.*.{p.name}.txt"):
                _remove(run)
        export_corpus(encoder, collection.corpus, vec_root, stale, quantizer, overwrite=True,
                      topics=[collection.topics(split)], collection=collection.provenance(), progress=progress)
    result.timings["export"] = time.perf_counter() - t0

    t_idx = t_search = 0.0
    topics_sha256 = collection.topics_sha256(split)
    for p in levels:
        level_dir = vec_root / p.name
        queries = level_dir / f"queries.{split}.jsonl"
        run = run_root / f"run.{split}.{p.name}.txt"
        if not _queries_match(level_dir, split, topics_sha256):
            _remove(run)
            export_topics(encoder, collection.topics(split), level_dir, name=split)
        index = idx_root / p.name
        t0 = time.perf_counter()
        if not index.exists():
            _remove(run)
            build_index(level_dir, index, threads=threads, progress=progress)
        t_idx += time.perf_counter() - t0
        t0 = time.perf_counter()
        if not run.exists():
            vectors, _ = read_query_vectors(queries)
            search_to_run(index, vectors, run, k=hits, threads=threads, tag=f"esplade_{p.name}", progress=progress)
        t_search += time.perf_counter() - t0
        result.levels[p.name] = LevelArtifacts(p, level_dir, queries, index, run)
    result.timings["index"], result.timings["search"] = t_idx, t_search
    return result
