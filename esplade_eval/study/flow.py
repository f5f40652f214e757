"""The whole flow for one checkpoint over several pruning levels, resumable.

collection -> export (one encoding pass, every level) -> index per level -> search per
level -> runs. Every artifact is written atomically, so an artifact that exists is
complete; it is reused only when its manifest names the same checkpoint content hash,
quantisation and pruning, otherwise it is rebuilt.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from esplade_eval.data.semanlink import Collection, ensure_semanlink
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


def _manifest_matches(level_dir: Path, checkpoint_hash: str, quantizer: Quantizer, pruning: Pruning,
                      max_length: int) -> bool:
    from esplade_eval.errors import InputError
    from esplade_eval.sparse.manifest import read_manifest

    try:
        m = read_manifest(level_dir)
    except InputError:  # absent, unreadable or of another format: rebuild
        return False
    return (m["encoder"]["checkpoint_hash"] == checkpoint_hash and m["encoder"]["max_length"] == max_length
            and m["pruning"]["name"] == pruning.name
            and (m["quantization"]["scale"], m["quantization"]["rounding"]) == (quantizer.scale, quantizer.rounding))


def run_flow(out: str | os.PathLike, checkpoint: str = "splade-tiny", levels: Sequence[Pruning] = DEFAULT_LEVELS,
             split: str = "test", threads: int | None = None, hits: int = 1000, quantizer: Quantizer = Quantizer(),
             max_length: int = 256, collection: Collection | None = None, encoder=None,
             name: str | None = None, progress: bool | None = None) -> FlowResult:
    """Run (or resume) the flow into ``out``; see the module docstring. ``progress``: bars for
    encoding and indexing (None: only on a terminal)."""
    from esplade_eval.lucene.index import build_index
    from esplade_eval.lucene.search import search_to_run
    from esplade_eval.model.encoder import SpladeEncoder
    from esplade_eval.model.export import export_corpus, export_topics
    from esplade_eval.sparse.jsonvector import read_query_vectors

    out = Path(out)
    threads = threads or os.cpu_count() or 1
    result = FlowResult(collection or ensure_semanlink(out / "data"), split, str(checkpoint), name=name)
    t0 = time.perf_counter()
    encoder = encoder or SpladeEncoder.from_checkpoint(checkpoint, max_length=max_length, threads=threads)
    result.timings["load"] = time.perf_counter() - t0

    vec_root, idx_root, run_root = out / "vectors", out / "indexes", out / "runs"
    stale = [p for p in levels if not _manifest_matches(vec_root / p.name, encoder.info.checkpoint_hash, quantizer,
                                                           p, max_length)]
    t0 = time.perf_counter()
    if stale:
        log.info("exporting %s", ", ".join(p.name for p in stale))
        export_corpus(encoder, result.collection.corpus, vec_root, stale, quantizer, overwrite=True,
                      topics=[result.collection.topics(split)], progress=progress)
        for p in stale:
            for stale_path in (idx_root / p.name, run_root / f"run.{split}.{p.name}.txt"):
                if stale_path.is_dir():
                    import shutil

                    shutil.rmtree(stale_path)
                elif stale_path.exists():
                    stale_path.unlink()
    result.timings["export"] = time.perf_counter() - t0

    t_idx = t_search = 0.0
    for p in levels:
        level_dir = vec_root / p.name
        queries = level_dir / f"queries.{split}.jsonl"
        if not queries.exists():
            export_topics(encoder, result.collection.topics(split), level_dir, name=split)
        index = idx_root / p.name
        t0 = time.perf_counter()
        if not index.exists():
            build_index(level_dir, index, threads=threads, progress=progress)
        t_idx += time.perf_counter() - t0
        run = run_root / f"run.{split}.{p.name}.txt"
        t0 = time.perf_counter()
        if not run.exists():
            vectors, _ = read_query_vectors(queries)
            search_to_run(index, vectors, run, k=hits, threads=threads, tag=f"esplade_{p.name}")
        t_search += time.perf_counter() - t0
        result.levels[p.name] = LevelArtifacts(p, level_dir, queries, index, run)
    result.timings["index"], result.timings["search"] = t_idx, t_search
    return result
