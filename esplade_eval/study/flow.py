"""The whole flow for one checkpoint over several pruning levels, resumable.

collection -> export (one encoding pass, every level) -> index per level -> search per
level -> runs, in the layout of :class:`esplade_eval.artifacts.FlowLayout`. The collection
is any :mod:`esplade_eval.data.collection` spec (default the bundled Semanlink titles),
prepared into ``out/data``. Every artifact is written atomically, so an artifact that exists
is complete; a level's vectors and index are reused only when its manifest names the same
checkpoint content hash, max length, vocabulary size, quantisation, pruning and corpus
(SHA-256 of the canonical corpus), its queries and run only when the query file carries the
same encoding and the manifest names the same topics file content; otherwise they are
rebuilt. The comparison is :func:`esplade_eval.artifacts.mismatches`, the one the search
refuses queries with. Runs of another collection are never reused.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from esplade_eval import artifacts, defaults
from esplade_eval.artifacts import FlowLayout
from esplade_eval.data.collection import Collection, load_collection, resolve_spec
from esplade_eval.errors import EspladeError, InputError
from esplade_eval.sparse.prune import Pruning
from esplade_eval.sparse.quantize import Quantizer

log = logging.getLogger(__name__)

DEFAULT_LEVELS = tuple(Pruning.parse(name) for name in defaults.LEVELS)


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


def _level_is_current(level_dir: Path, expected: dict) -> bool:
    """The level's vectors were made as ``expected`` (checkpoint, max length, vocabulary,
    quantisation, pruning, corpus)."""
    manifest = artifacts.find_export_manifest(level_dir)
    if manifest is None:  # absent, unreadable or of another format: rebuild
        return False
    problems = artifacts.mismatches(expected, artifacts.encoding_of(manifest), artifacts.LEVEL_FIELDS, "flow")
    if problems:
        log.info("%s is rebuilt: %s", level_dir, "; ".join(problems))
    return not problems


def _queries_are_current(level_dir: Path, split: str, expected: dict, topics_sha256: str) -> bool:
    """The split's query file exists, carries the level's encoding, and encodes these topics."""
    from esplade_eval.sparse.jsonvector import read_query_file

    entry = ((artifacts.find_export_manifest(level_dir) or {}).get("queries") or {}).get(split) or {}
    path = level_dir / entry.get("file", "-")
    if entry.get("source_sha256") != topics_sha256 or not path.is_file():
        return False
    try:
        found = read_query_file(path).encoding
    except InputError:
        return False
    return found is not None and not artifacts.mismatches(expected, found, artifacts.QUERY_FIELDS)


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def resolve_collection(collection, out: Path, registry=None, echo=print) -> Collection:
    """A prepared collection: ``collection`` itself, or its spec prepared into ``out/data``
    (default: the bundled Semanlink titles). A flow folder that holds another collection's
    flow is refused before anything is read or replaced."""
    found = resolve_spec(collection or "semanlink", registry)
    check_flow_folder(out, found.name)
    if isinstance(collection, Collection):
        return collection
    return load_collection(found, root=out / "data", registry=registry, echo=echo)


def check_flow_folder(out: str | os.PathLike, name: str) -> None:
    """Refuse a flow folder whose prepared collection (``OUT/data``) is another collection's:
    its vectors, indexes and runs would be replaced by this flow's."""
    data = Path(out) / "data"
    if not data.is_dir() or not any(data.iterdir()):
        return
    have = Collection(data).name
    if have != name:
        raise EspladeError(f"{out}: holds the flow of collection {have!r}, not {name!r}; its artifacts would be "
                           f"replaced: give another --out (the default for {name!r} is {default_flow_folder(name)})")


def default_flow_folder(collection_name: str) -> Path:
    """The default folder of a flow: ``artifacts/demo`` for the bundled Semanlink collection,
    ``artifacts/demo-<name>`` for any other, so two collections never share one."""
    return Path("artifacts/demo" if collection_name == "semanlink" else f"artifacts/demo-{collection_name}")


@dataclass(frozen=True)
class FlowOptions:
    """How a flow runs: ``threads`` (None: :func:`esplade_eval.defaults.threads`), ``hits`` per
    query, the ``quantizer``, ``max_length`` tokens per text, the ``name`` tables call the
    checkpoint (default its folder's name), the collection ``registry`` file, ``progress``
    bars for encoding, indexing and searching (None: only on a terminal)."""

    threads: int | None = None
    hits: int = defaults.HITS
    quantizer: Quantizer = Quantizer()
    max_length: int = defaults.MAX_LENGTH
    name: str | None = None
    registry: str | None = None
    progress: bool | None = None


def run_flow(out: str | os.PathLike, checkpoint: str = "splade-tiny", levels: Sequence[Pruning] = DEFAULT_LEVELS,
             split: str = "test", collection=None, encoder=None, echo=print, **options) -> FlowResult:
    """Run (or resume) the flow into ``out``; see the module docstring.

    ``collection`` is a prepared :class:`~esplade_eval.data.collection.Collection` or a spec
    for :func:`~esplade_eval.data.collection.load_collection` (a registry name, a TOML file, a
    folder, a mapping), prepared into ``out/data``; ``options`` are :class:`FlowOptions` fields.
    """
    from esplade_eval.model.encoder import SpladeEncoder

    opts = FlowOptions(**options)
    layout = FlowLayout(out)
    threads = opts.threads or defaults.threads()
    collection = resolve_collection(collection, layout.root, opts.registry, echo)
    collection.require_split(split)
    result = FlowResult(collection, split, str(checkpoint), name=opts.name)
    t0 = time.perf_counter()
    encoder = encoder or SpladeEncoder.from_checkpoint(checkpoint, max_length=opts.max_length, threads=threads)
    result.timings["load"] = time.perf_counter() - t0
    expected = {p.name: artifacts.encoding(encoder.info.to_dict(), opts.quantizer.to_dict(), p.name,
                                           collection.corpus_sha256) for p in levels}
    t0 = time.perf_counter()
    _export_stale(layout, encoder, collection, split, levels, opts.quantizer, expected, opts.progress)
    result.timings["export"] = time.perf_counter() - t0
    t_idx = t_search = 0.0
    for p in levels:
        t_idx_level, t_search_level = _index_and_search(layout, encoder, collection, split, p, expected[p.name],
                                                        replace(opts, threads=threads))
        t_idx += t_idx_level
        t_search += t_search_level
        result.levels[p.name] = LevelArtifacts(p, layout.vectors(p.name), layout.queries(p.name, split),
                                               layout.index(p.name), layout.run(split, p.name))
    result.timings["index"], result.timings["search"] = t_idx, t_search
    return result


def _export_stale(layout: FlowLayout, encoder, collection, split, levels, quantizer, expected, progress) -> None:
    """Export, in one encoding pass, every level whose vectors are not current; what was
    built from their old vectors (index, runs) goes first."""
    from esplade_eval.model.export import export_corpus

    stale = [p for p in levels if not _level_is_current(layout.vectors(p.name), expected[p.name])]
    if not stale:
        return
    log.debug("exporting %s", ", ".join(p.name for p in stale))
    for p in stale:
        _remove(layout.index(p.name))
        for run in layout.runs_of(p.name):
            _remove(run)
    export_corpus(encoder, collection.corpus, layout.vectors_root, stale, quantizer, overwrite=True,
                  topics=[collection.topics(split)], collection=collection.provenance(), progress=progress)


def _index_and_search(layout: FlowLayout, encoder, collection, split, p: Pruning, expected,
                      opts: FlowOptions) -> tuple[float, float]:
    """Queries, index and run of one level, each made only when missing or stale; the seconds
    spent indexing and searching."""
    from esplade_eval.lucene.index import build_index
    from esplade_eval.lucene.search import search_to_run
    from esplade_eval.model.export import export_topics
    from esplade_eval.sparse.jsonvector import read_query_vectors

    level_dir, index, run = layout.vectors(p.name), layout.index(p.name), layout.run(split, p.name)
    if not _queries_are_current(level_dir, split, expected, collection.topics_sha256(split)):
        _remove(run)
        # stale or of another encoding: replaced (the flow alone decides, by what the file records)
        export_topics(encoder, collection.topics(split), level_dir, name=split, overwrite=True)
    t0 = time.perf_counter()
    if not index.exists():
        _remove(run)
        info = build_index(level_dir, index, threads=opts.threads, progress=opts.progress)
        log.info("indexed %s documents into %s in %.1fs", info["documents_indexed"], index, info["seconds"])
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    if not run.exists():
        vectors, _ = read_query_vectors(layout.queries(p.name, split))
        search_to_run(index, vectors, run, k=opts.hits, threads=opts.threads, progress=opts.progress)
        log.info("searched %d queries of %s into %s in %.1fs", len(vectors), p.name, run, time.perf_counter() - t0)
    return t_index, time.perf_counter() - t0
