"""Sharded impact indexes: one Lucene index per group of collection shards, and exact merging.

A sharded index (its layout: :mod:`esplade_eval.artifacts`) is a folder of complete Lucene
impact indexes with a top-level index manifest listing them; every verb that takes
``--index`` accepts it as "an index".

Why sharding loses nothing: an impact score is the dot product of query and document
impacts, with no collection statistics (no idf, no length normalisation), so a document
scores the same in its shard as in one index, and every posting-list length is the sum of
its shards' lengths.

Exact merging (:func:`merge_ranked`): let each shard return its exact top ``k`` in the
order (-score, docid), ties at its own cut-off resolved by fetching deeper (what
:mod:`esplade_eval.lucene.search` does for one index). Every document of the global top
``k`` is then in its shard's top ``k`` (fewer than ``k`` documents of the whole collection
precede it, so fewer than ``k`` of its shard do), hence the global top ``k`` is the first
``k`` of the per-shard lists merged by (-score, docid): no tie at the merged cut-off can
need a deeper fetch, since ids are unique across shards (the whole collection is validated
before it is split). Anserini's score-tie adjustment, which depends on a hit's position in
the final list, is applied once, after the merge.

Building (:func:`build_sharded_index`): the collection is validated as a whole, split into
contiguous groups of its files (the largest group as small as whole files allow, in bytes; hard links, no copy), or by documents
when it has fewer files than shards, and each group is indexed by Anserini in its own JVM:
in local threads (one child JVM each, :mod:`esplade_eval._children`: a failed shard, Ctrl-C or
SIGTERM stops every shard's JVM and removes the partial index) by default, or as Ray tasks
through ``runner`` (:func:`esplade_eval.distributed.index.ray_runner`). The index folder is
claimed (:func:`esplade_eval._io.claim`) for the whole build. This module never imports Ray.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from esplade_eval._children import stop_all
from esplade_eval._io import atomic_dir, link_or_copy
from esplade_eval._read import open_text
from esplade_eval.artifacts import (
    SHARDED_INDEX_FORMAT,
    level_collection,
    shard_file_name,
    shard_name,
    write_index_manifest,
)
from esplade_eval.errors import EspladeError
from esplade_eval.lucene.index import IndexOptions, build_index, check_documents
from esplade_eval.sparse.jsonvector import collection_files, validate_collection

log = logging.getLogger(__name__)

Runner = Callable[[list[dict]], list[dict]]  # index-build jobs (build_index keyword arguments) -> their results


def group_files(files: Sequence[Path], shards: int) -> list[list[Path]]:
    """``shards`` contiguous groups of ``files`` (in order) whose largest group is as small as
    whole files allow (in bytes): the slowest shard bounds both indexing and search.

    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> fs = [d / f"docs{i}.jsonl" for i in range(8)]
    >>> for f, n in zip(fs, (10,) * 7 + (3,)): _ = f.write_text("x" * n)
    >>> [sum(f.stat().st_size for f in g) for g in group_files(fs, 4)]
    [20, 20, 20, 13]
    """
    if not 1 <= shards <= len(files):
        raise ValueError(f"cannot make {shards} groups of {len(files)} files")
    sizes = [f.stat().st_size for f in files]
    low, high = max(sizes), sum(sizes)
    while low < high:  # the smallest capacity that `shards` greedy groups can hold
        mid = (low + high) // 2
        if len(_pack(sizes, mid, 0)) <= shards:
            high = mid
        else:
            low = mid + 1
    return [[files[i] for i in group] for group in _pack(sizes, low, shards)]


def _pack(sizes: Sequence[int], capacity: int, groups: int) -> list[list[int]]:
    """Greedy contiguous groups of at most ``capacity`` bytes, cut early where needed so that
    at least ``groups`` groups come out when there are enough items (then exactly ``groups``
    at the smallest feasible capacity)."""
    out: list[list[int]] = [[]]
    load = 0
    for i, size in enumerate(sizes):
        left = len(sizes) - i  # items not placed yet, this one included
        if out[-1] and (load + size > capacity or left <= groups - len(out)):
            out.append([])
            load = 0
        out[-1].append(i)
        load += size
    return out


def _split_documents(files: Sequence[Path], shards: int, documents: int, dest: Path) -> list[Path]:
    """Write the collection's documents as ``shards`` contiguous, equal parts (fewer files than shards)."""
    bounds = [round(i * documents / shards) for i in range(shards + 1)]
    folders = [dest / shard_name(i) for i in range(shards)]
    for folder in folders:
        folder.mkdir(parents=True)
    shard, seen, out = 0, 0, open(folders[0] / shard_file_name(0), "w", encoding="utf-8")
    try:
        for path in files:
            with open_text(path) as fh:
                for line in fh:
                    if not line.strip():
                        continue
                    while seen == bounds[shard + 1] and shard + 1 < shards:
                        out.close()
                        shard += 1
                        out = open(folders[shard] / shard_file_name(0), "w", encoding="utf-8")
                    out.write(line if line.endswith("\n") else line + "\n")
                    seen += 1
    finally:
        out.close()
    return folders


def _shard_inputs(files: list[Path], shards: int, documents: int, dest: Path) -> list[Path]:
    """One input folder per shard under ``dest``: linked file groups, or split documents."""
    if len(files) < shards:
        log.info("%d collection files for %d shards: splitting by documents (a copy)", len(files), shards)
        return _split_documents(files, shards, documents, dest)
    folders = []
    for i, group in enumerate(group_files(files, shards)):
        folder = dest / shard_name(i)
        folder.mkdir(parents=True)
        for f in group:
            link_or_copy(f, folder / f.name)
        folders.append(folder)
    return folders


def local_runner(parallel: int, progress: bool | None = None) -> Runner:
    """Index builds in ``parallel`` threads, each running Anserini in a child JVM (a bar over shards)."""
    from esplade_eval._progress import bar

    def run(jobs: list[dict]) -> list[dict]:
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool, \
                bar(total=len(jobs), desc="index shards", unit="shard", enabled=progress) as b:
            futures = [pool.submit(build_index, **job, progress=False) for job in jobs]
            try:
                for f in as_completed(futures):
                    f.result()
                    b.update(1)
            except BaseException:  # a failed shard, Ctrl-C, SIGTERM: the other shards' JVMs stop now
                for f in futures:
                    f.cancel()
                stop_all()  # leaving the pool then waits for its threads, so no JVM outlives the index
                raise
            return [f.result() for f in futures]

    return run


def build_sharded_index(collection: str | os.PathLike, index: str | os.PathLike, shards: int,
                        options: IndexOptions | None = None, parallel: int | None = None,
                        runner: Runner | None = None, **overrides) -> dict:
    """Build ``shards`` Lucene impact indexes under ``index`` and its top-level manifest (see the module doc).

    ``options`` (or its fields as keywords) as :func:`~esplade_eval.lucene.index.build_index`'s,
    ``threads`` being Anserini's indexing threads per shard; ``parallel``: shards built at once
    by the default local runner (default: CPUs / threads). Returns the top-level manifest.
    """
    o = replace(options or IndexOptions(), **overrides)
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    folder, export_manifest = level_collection(collection)
    files = collection_files(folder)
    counts = validate_collection(folder) if o.validate else {"documents": _count_documents(files)}
    if o.validate:
        check_documents(folder, counts, o.allow_empty)
    if counts["documents"] < shards:
        raise EspladeError(f"{folder}: {counts['documents']} documents cannot make {shards} shards")
    runner = runner or local_runner(parallel or max(1, (os.cpu_count() or 1) // o.threads), o.progress)
    started = time.perf_counter()
    with atomic_dir(index, overwrite=o.overwrite) as tmp:
        inputs = _shard_inputs(files, shards, counts["documents"], tmp / ".inputs")
        jobs = [{"collection": str(inp), "index": str(tmp / shard_name(i)), "threads": o.threads, "validate": False,
                 "optimize": o.optimize, "heap": o.heap, "allow_empty": True} for i, inp in enumerate(inputs)]
        results = runner(jobs)
        shard_entries = [{"path": shard_name(i), "files": sorted(p.name for p in Path(inp).iterdir()),
                          "documents_indexed": r["documents_indexed"], "empty_skipped": r["empty_skipped"],
                          "seconds": r["seconds"]} for i, (inp, r) in enumerate(zip(inputs, results))]
        shutil.rmtree(tmp / ".inputs")
        info = _top_manifest(collection, shard_entries, counts if o.validate else None, o.threads, o.optimize,
                             export_manifest, time.perf_counter() - started)
        write_index_manifest(tmp, info)
    log.debug("indexed %s documents into %d shards under %s in %.1fs", info["documents_indexed"], shards, index,
              info["seconds"])
    return info


def _count_documents(files: Sequence[Path]) -> int:
    total = 0
    for path in files:
        with open_text(path) as fh:
            total += sum(1 for line in fh if line.strip())
    return total


def _top_manifest(collection, shards: list[dict], counts: dict | None, threads: int, optimize: bool,
                  export_manifest: dict | None, seconds: float) -> dict:
    indexed = [s["documents_indexed"] for s in shards]
    empty = [s["empty_skipped"] for s in shards]
    info = {
        "format": SHARDED_INDEX_FORMAT,
        "collection": str(Path(collection).resolve()),
        "shards": shards,
        "documents_indexed": None if None in indexed else sum(indexed),
        "empty_skipped": None if None in empty else sum(empty),
        "validated": counts,
        "threads": threads,
        "optimized": optimize,
        "seconds": round(seconds, 3),
        "export_manifest": export_manifest,
    }
    if counts is not None and info["documents_indexed"] is not None and (
            info["documents_indexed"], info["empty_skipped"]) != (
            counts["documents"] - counts["empty_vectors"], counts["empty_vectors"]):
        raise EspladeError(f"the shards indexed {info['documents_indexed']} and skipped {info['empty_skipped']} empty "
                           f"of {counts['documents']} documents ({counts['empty_vectors']} empty) of {collection}")
    return info


def merge_ranked(per_shard: Sequence[tuple[Sequence[str], Sequence[float]]], k: int) -> tuple[list[str], list[float]]:
    """The first ``k`` of per-shard ranked lists merged by (-score, docid) (exact: see the module doc).

    ``per_shard``: each shard's exact top ``k`` ``(ids, raw scores)``. The scores returned
    are the raw ones; apply the tie adjustment of a single index afterwards.

    >>> merge_ranked([(["b", "d"], [5.0, 3.0]), (["a", "c"], [5.0, 4.0])], k=3)
    (['a', 'b', 'c'], [5.0, 5.0, 4.0])
    """
    ids = [d for shard_ids, _ in per_shard for d in shard_ids]
    if not ids:
        return [], []
    scores = np.concatenate([np.asarray(s, dtype=np.float64) for _, s in per_shard])
    order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:k]
    return [ids[i] for i in order], [float(scores[i]) for i in order]


def merge_shard_results(qids: Sequence[str], per_shard: Sequence[dict[str, tuple[list[str], list[float]]]], k: int,
                        adjust_ties: bool) -> Iterator[tuple[str, list[str], list[float]]]:
    """``(qid, ids, scores)`` of every query, merged from each shard's ``{qid: (ids, raw scores)}``.

    ``adjust_ties``: apply Anserini's score-tie adjustment to the merged list, as a single
    Lucene 9 index's search does (:func:`~esplade_eval.lucene.ties.anserini_tie_scores`).
    """
    from esplade_eval.lucene.ties import anserini_tie_scores

    for qid in qids:
        ids, scores = merge_ranked([shard.get(qid, ([], [])) for shard in per_shard], k)
        if adjust_ties and scores:
            scores = anserini_tie_scores(np.asarray(scores, dtype=np.float32)).tolist()
        yield qid, ids, scores


def lucene9_of(searchers) -> bool:
    """Whether the shards' searchers adjust score ties (Lucene 9 indexes); shards must agree."""
    kinds = {bool(s.lucene9) for s in searchers}
    if len(kinds) != 1:
        raise EspladeError("the shards were written by different Lucene versions: their score-tie handling differs")
    return kinds.pop()
