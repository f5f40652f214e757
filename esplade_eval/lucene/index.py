"""Build Lucene impact indexes with Anserini's ``IndexCollection``.

Indexing runs Anserini in a child JVM (the chosen Java 21 runtime, Anserini's fat jar
from the Pyserini wheel), exactly what ``python -m pyserini.index.lucene`` does, without
importing torch or starting a JVM in this process. The index is built under a temporary
name and renamed when complete; the export manifest is copied into its index manifest
(:mod:`esplade_eval.artifacts`) so search and cost analysis can check what the index holds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from esplade_eval._children import child_process
from esplade_eval._io import atomic_dir
from esplade_eval.artifacts import (
    INDEX_MANIFEST,
    index_shards,
    is_sharded_index,
    level_collection,
    read_index_manifest,
    write_index_manifest,
)
from esplade_eval.errors import EspladeError, InputError
from esplade_eval.lucene.java import DEFAULT_HEAP, anserini_jar, find_java, use_utf8_locale
from esplade_eval.sparse.jsonvector import collection_files, validate_collection

log = logging.getLogger(__name__)


def java_command(main_class: str, *args: str, heap: str = DEFAULT_HEAP, options: Sequence[str] = ()) -> list[str]:
    rt = find_java()
    use_utf8_locale()  # the child reads the environment: file names as UTF-8 whatever the locale
    cmd = [str(rt.home / "bin" / "java"), f"-Xmx{heap}", *options]
    if rt.has_vector_module:
        cmd.append("--add-modules=jdk.incubator.vector")
    return cmd + ["-cp", str(anserini_jar()), main_class, *args]


QUICK_JIT_COLLECTION = 256 * 2 ** 20  # collection bytes under which Anserini runs with the C1 compiler only


def indexing_jvm_options(files: Sequence[Path]) -> list[str]:
    """``-XX:TieredStopAtLevel=1`` for a small collection: a short JVM run gains nothing from C2.

    Measured on a 1,500-document shard (2-core machine under load): 3.5-3.9 s with C1 only
    against 5.8-6.1 s with the default tiered compilation; a sharded index pays this start-up
    once per shard. A large collection keeps C2 for Lucene's hot indexing loops.
    """
    return ["-XX:TieredStopAtLevel=1"] if sum(f.stat().st_size for f in files) < QUICK_JIT_COLLECTION else []


@dataclass(frozen=True)
class IndexOptions:
    """How :func:`build_index` builds (every field is also its keyword, overriding ``options``)."""

    threads: int = 1
    validate: bool = True
    optimize: bool = True
    overwrite: bool = False
    heap: str = DEFAULT_HEAP
    progress: bool | None = None
    allow_empty: bool = False


def build_index(collection: str | os.PathLike, index: str | os.PathLike, options: IndexOptions | None = None,
                **overrides) -> dict:
    """Index a JsonVectorCollection as an impact index (``-impact -pretokenized``).

    ``validate`` checks every line first (positive integer weights, whitespace-free
    terms, unique ids) so a bad collection fails with its file and line before Lucene
    starts; ``optimize`` merges to one segment (Anserini's ``-optimize``).
    Returns statistics written to the index's ``esplade_eval.json``. ``progress`` shows a bar
    of documents indexed (Anserini reports each collection file as it completes; None: only on
    a terminal). A collection with no document to index (none, or every vector empty) is an
    error before Lucene starts, unless ``allow_empty``.
    """
    o = replace(options or IndexOptions(), **overrides)
    folder, manifest = level_collection(collection)
    files = collection_files(folder)  # a clear error for a missing or empty folder
    counts = validate_collection(folder) if o.validate else None
    if counts is not None:
        check_documents(folder, counts, o.allow_empty)
    index = Path(index)
    started = time.perf_counter()
    with atomic_dir(index, overwrite=o.overwrite) as tmp:
        cmd = java_command(
            "io.anserini.index.IndexCollection",
            "-collection", "JsonVectorCollection", "-input", str(folder), "-index", str(tmp),
            "-generator", "DefaultLuceneDocumentGenerator", "-threads", str(o.threads), "-impact", "-pretokenized",
            "-verbose", *(["-optimize"] if o.optimize else []), heap=o.heap, options=indexing_jvm_options(files),
        )
        log.debug("running %s", " ".join(cmd))
        total = counts["documents"] if counts is not None else None
        returncode, output = _run_anserini(cmd, total, f"index {index.name}", o.progress)
        if returncode != 0 or not any(tmp.glob("segments_*")):
            tail = "\n".join(line for line in output.strip().splitlines() if " DEBUG " not in line)
            tail = "\n".join(tail.splitlines()[-15:])
            raise EspladeError(f"Anserini indexing of {folder} failed (exit {returncode}):\n{tail}")
        indexed, empty = _parse_counter(output, "indexed"), _parse_counter(output, "empty")
        if counts is None and indexed == 0:
            check_documents(folder, {"documents": empty or 0, "empty_vectors": empty or 0}, o.allow_empty)
        # Anserini skips documents whose vector is empty (nothing to index, never retrievable)
        if counts is not None and indexed is not None and (indexed, empty) != (
                counts["documents"] - counts["empty_vectors"], counts["empty_vectors"]):
            raise EspladeError(f"Anserini indexed {indexed} and skipped {empty} empty of {counts['documents']} "
                               f"documents ({counts['empty_vectors']} empty) in {folder}; its log:\n"
                               f"{output[-2000:]}")
        info = {
            "collection": str(Path(collection).resolve()),
            "documents_indexed": indexed,
            "empty_skipped": empty,
            "validated": counts,
            "threads": o.threads,
            "optimized": o.optimize,
            "seconds": round(time.perf_counter() - started, 3),
            "export_manifest": manifest,
        }
        write_index_manifest(tmp, info)
    # the caller says it, once (the index verb on stdout, the flow in its log)
    log.debug("indexed %s documents into %s in %.1fs", indexed, index, time.perf_counter() - started)
    return info


def _run_anserini(cmd: list[str], total: int | None, desc: str, progress: bool | None) -> tuple[int, str]:
    """Run Anserini's indexer, a bar advancing as it reports each file (``-verbose``:
    ``<file>: N docs added.``); returns the exit status and the whole log.

    The JVM is a child that never outlives this call (:func:`esplade_eval._children.child_process`):
    an error, Ctrl-C or SIGTERM here stops it before the temporary index is removed."""
    import re

    from esplade_eval._progress import bar

    added = re.compile(r": ([\d,]+) docs added")
    lines = []
    with bar(total=total, desc=desc, unit="doc", enabled=progress) as b, child_process(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            lines.append(line)
            m = added.search(line)
            if m:
                b.update(int(m.group(1).replace(",", "")))
        returncode = proc.wait()
        if returncode == 0 and total:
            b.update(max(0, total - b.n))  # empty vectors are skipped, not "added"
    return returncode, "".join(lines)


def check_documents(folder, counts: dict, allow_empty: bool) -> None:
    """An index of 0 documents (none, or every vector empty) is an error unless ``allow_empty``:
    it would search to empty runs that evaluate to zeros, silently."""
    if counts["documents"] - counts["empty_vectors"] <= 0 and not allow_empty:
        raise EspladeError(f"{folder}: no document to index ({counts['documents']} documents, "
                           f"{counts['empty_vectors']} of them empty vectors); nothing written (--allow-empty "
                           "indexes it anyway)")


def _parse_counter(log_text: str, name: str) -> int | None:
    """A counter from Anserini's closing summary (``indexed:``, ``empty:`` ...)."""
    import re

    m = re.search(rf"- {name}:\s+([\d,]+)", log_text)
    return int(m.group(1).replace(",", "")) if m else None


def check_index(index: str | os.PathLike, allow_sharded: bool = False) -> Path:
    """The index folder (absolute), or :class:`InputError` naming it when it is not a Lucene index.

    With ``allow_sharded``, a sharded index (:mod:`esplade_eval.lucene.shards`) passes too
    when every shard it lists is a Lucene index.
    """
    index = Path(index)
    if not index.is_dir():
        raise InputError(index, "index folder not found")
    if allow_sharded and is_sharded_index(index):
        shard_paths(index)
        return index.absolute()
    if not any(index.glob("segments_*")):
        raise InputError(index, "not a Lucene index (no segments file)"
                                + ("" if allow_sharded else "; a sharded index is not accepted here"))
    # absolute: the JVM resolves a relative path against its own start folder, which is not
    # this process's folder once it changed (os.chdir in a notebook or a test)
    return index.absolute()


def verify_index(index: str | os.PathLike, reader=None) -> None:
    """Check the Lucene checksum of every file of every segment (``LeafReader.checkIntegrity``).

    Opening an index checks only its small metadata files; a flipped bit inside the postings
    would otherwise be searched silently. This reads each file once (CRC32, at disk speed: 20 ms
    for the demo's indexes). ``reader``: an open ``IndexReader`` of ``index`` to check (else one
    is opened and closed here). A failure is an :class:`InputError` naming the index.
    """
    from esplade_eval.lucene.java import start

    own = reader is None
    with opening_index(index):
        if own:
            reader = start()("io.anserini.index.IndexReaderUtils").getReader(str(check_index(index)))
        try:
            for leaf in reader.leaves().toArray():
                leaf.reader().checkIntegrity()
        finally:
            if own:
                reader.close()


@contextlib.contextmanager
def opening_index(index: str | os.PathLike):
    """Around the Java calls that open ``index``: a Java exception there (a corrupt, truncated
    or foreign index: Lucene's ``CorruptIndexException``, ``IndexFormatTooOldException``,
    ``NoSuchFileException`` ...) becomes an :class:`InputError` naming the index, not a traceback."""
    try:
        yield
    except Exception as exc:
        if type(exc).__name__ != "JavaException":
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = first.removeprefix("JVM exception occurred: ")
        raise InputError(index, f"cannot be read as a Lucene index: {first[:300]}") from None


def shard_paths(index: str | os.PathLike) -> list[Path]:
    """The shard indexes of a sharded index, in order, each checked to be a Lucene index;
    ``[index]`` for a plain one."""
    if not is_sharded_index(index):
        return [check_index(index)]
    out = []
    for path in index_shards(index):
        if not path.is_dir() or not any(path.glob("segments_*")):
            raise InputError(index, f"shard {path.name!r} is not a Lucene index ({path})")
        out.append(path)
    check_shards(index, out)
    return out


def check_shards(index: str | os.PathLike, paths: list[Path]) -> None:
    """The shards of a sharded index appear once each, come from its one export and its one
    build (so they are disjoint: one validated collection split into ranges); a shard listed
    twice, or copied in from another sharded index, would give duplicate or missing hits."""
    where = Path(index) / INDEX_MANIFEST
    seen: dict[Path, str] = {}
    for path in paths:
        real = path.resolve()
        if real in seen:
            raise InputError(where, f"shard {path.name!r} is listed twice (also as {seen[real]!r})")
        seen[real] = path.name
    top = read_index_manifest(index) or {}
    builds = {}
    for path, entry in zip(paths, top.get("shards") or []):
        own = read_index_manifest(path) or {}
        if own.get("export_manifest") is not None and own["export_manifest"] != top.get("export_manifest"):
            raise InputError(where, f"shard {path.name!r} comes from another export than the sharded index "
                                    "(its manifest's export differs): rebuild the index with index --shards")
        if entry.get("documents_indexed") is not None and own.get("documents_indexed") != entry["documents_indexed"]:
            raise InputError(where, f"shard {path.name!r} holds {own.get('documents_indexed')} documents, the "
                                    f"sharded index lists {entry['documents_indexed']}: a shard of another build?")
        builds.setdefault(Path(str(own.get("collection", ""))).parent.parent.name, []).append(path.name)
    if len(builds) > 1:
        groups = "; ".join(", ".join(names) for names in builds.values())
        raise InputError(where, f"its shards come from {len(builds)} different builds ({groups}): they may "
                                "overlap or miss documents; rebuild the index with index --shards")
