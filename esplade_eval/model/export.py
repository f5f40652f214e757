"""Export: encode once, prune to every requested level, quantise, write collections.

The encoder is the expensive part, so a grid of pruning levels costs one encoding pass:
each encoded chunk is pruned and quantised per level and appended to that level's
collection. Memory is bounded by the chunk size, whatever the corpus size. Each level's
folder is written under a temporary name and renamed when complete.

Layout of ``out`` for levels ``full`` and ``d64-q16`` (:mod:`esplade_eval.artifacts`)::

    out/full/manifest.json          out/d64-q16/manifest.json
    out/full/collection/*.jsonl     out/d64-q16/collection/*.jsonl
    out/full/queries.test.jsonl     out/d64-q16/queries.test.jsonl

Every query line carries its encoding (checkpoint hash, max length, vocabulary size,
quantisation, pruning), so a query file copied elsewhere is still checked against an index.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from esplade_eval import artifacts
from esplade_eval._io import atomic_dir, atomic_file, claim, no_empty_folder_left
from esplade_eval.data.prepared import sha256_file
from esplade_eval.data.trec import read_corpus, read_topics
from esplade_eval.errors import EspladeError, InputError
from esplade_eval.sparse.jsonvector import CollectionWriter, write_query_file
from esplade_eval.sparse.prune import Pruning
from esplade_eval.sparse.quantize import MAX_IMPACT, Quantizer, score_bounds

log = logging.getLogger(__name__)


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of ``size`` items (the last one shorter)."""
    buf = []
    for item in items:
        buf.append(item)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf


def aligned_chunks(docs: Iterable[tuple[str, str]], chunk: int, shard_size: int) -> Iterator[list[tuple[str, str]]]:
    """Chunks of at most ``chunk`` documents that never straddle a collection shard boundary.

    The encoder batches texts inside a chunk (sorted by length), and float sums can
    depend on what shares a batch; cutting chunks at shard boundaries makes each shard's
    vectors a function of that shard's documents alone, so a distributed export that
    encodes shards separately (:mod:`esplade_eval.distributed.export`) writes the same bytes.

    >>> [len(c) for c in aligned_chunks([("d", "t")] * 10, chunk=4, shard_size=6)]
    [4, 2, 4]
    """
    buf: list[tuple[str, str]] = []
    position = 0
    for doc in docs:
        buf.append(doc)
        position += 1
        if len(buf) == chunk or position % shard_size == 0:
            yield buf
            buf = []
    if buf:
        yield buf


def new_tally(prunings: Sequence[Pruning]) -> dict[str, dict[str, int]]:
    """Per-level counters that the collection writer does not keep."""
    return {p.name: {"pruned_weights": 0, "dropped_subunit_weights": 0} for p in prunings}


def encode_chunk(encoder, docs: Sequence[tuple[str, str]], prunings: Sequence[Pruning], quantizer: Quantizer,
                 writers: dict, tally: dict[str, dict[str, int]], progress=None) -> None:
    """Encode ``docs`` once; prune, quantise and append them to every level's writer.

    ``progress`` (e.g. a bar's ``update``) is called with the texts of each forward pass.
    """
    ids = [d for d, _ in docs]
    texts = [t for _, t in docs]
    batch = encoder.encode(texts, progress=progress) if progress is not None else encoder.encode(texts)
    for p in prunings:
        pruned = p.apply(batch, "doc")
        tally[p.name]["pruned_weights"] += batch.nnz - pruned.nnz
        impacts, lost = quantizer.apply(pruned)
        tally[p.name]["dropped_subunit_weights"] += lost
        writers[p.name].write(ids, texts, impacts)


@dataclass(frozen=True)
class ExportJob:
    """One export: the corpus, where its levels go, and how they are made; the single-process
    (:func:`export_corpus`) and the Ray export (:mod:`esplade_eval.distributed.export`) share it."""

    corpus: str | os.PathLike
    out: str | os.PathLike
    prunings: tuple[Pruning, ...] = (Pruning(),)
    quantizer: Quantizer = Quantizer()
    shard_size: int = 100_000
    chunk: int = 4096
    overwrite: bool = False
    progress: bool | None = None
    topics: tuple = ()
    collection: dict | None = None
    allow_empty: bool = False

    @classmethod
    def of(cls, corpus, out, prunings: Sequence[Pruning] = (Pruning(),), quantizer: Quantizer = Quantizer(),
           **options) -> "ExportJob":
        """A job from the arguments of :func:`export_corpus` (its options as keywords)."""
        return cls(corpus, out, tuple(prunings), quantizer, **{**options, "topics": tuple(options.get("topics") or ())})


@dataclass(frozen=True)
class EncodedTopics:
    """The topics of an export, read once and encoded once for every level: ``sets`` is
    :func:`read_topic_sets`' ``{query file name: (source, {qid: text})}``, ``encoded`` each
    set's encoding."""

    sets: dict
    encoded: dict


def export_corpus(encoder, corpus: str | os.PathLike, out: str | os.PathLike, prunings: Sequence[Pruning] = (Pruning(),),
                  quantizer: Quantizer = Quantizer(), **options) -> dict[str, Path]:
    """Encode ``corpus`` (any :func:`~esplade_eval.data.formats.read_corpus` format) once and
    write one collection per level. ``options``: the other fields of :class:`ExportJob`
    (``shard_size``, ``chunk``, ``overwrite``, ``progress``, ``topics``, ``collection``,
    ``allow_empty``).

    ``topics`` files are read before any encoding (a bad file fails first) and their query
    files are written inside each level's folder before it is renamed into place, so a
    level never looks complete without its queries. ``collection`` (e.g.
    :meth:`Collection.provenance <esplade_eval.data.collection.Collection.provenance>`) is
    recorded in each manifest. Returns ``{level name: level folder}``.
    ``progress``: a bar over the documents (total counted first) updated after every forward
    pass; None shows it only on a terminal (:mod:`esplade_eval._progress`). A level whose every
    vector is empty (a scale that quantises every weight under one unit) is an error, and
    nothing is written, unless ``allow_empty``.
    """
    job = ExportJob.of(corpus, out, prunings, quantizer, **options)
    check_levels(job.prunings)
    topic_sets = read_topic_sets(job.topics)
    with no_empty_folder_left(out) as out:
        return _export_levels(encoder, replace(job, out=out), topic_sets)


def check_levels(prunings: Sequence[Pruning]) -> None:
    names = [p.name for p in prunings]
    if len(set(names)) != len(names):
        raise ValueError(f"pruning levels repeat: {names}")


def _export_levels(encoder, job: ExportJob, topic_sets: dict) -> dict[str, Path]:
    names = [p.name for p in job.prunings]
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        folders = {p.name: stack.enter_context(atomic_dir(job.out / p.name, overwrite=job.overwrite))
                   for p in job.prunings}
        writers = {name: stack.enter_context(CollectionWriter(folders[name] / artifacts.COLLECTION_DIR, encoder.terms,
                                                              job.shard_size))
                   for name in names}
        tally = new_tally(job.prunings)
        bar = _progress(job.progress, "encode documents", job.corpus)
        stack.callback(bar.close)
        for docs in aligned_chunks(read_corpus(job.corpus), job.chunk, job.shard_size):
            encode_chunk(encoder, docs, job.prunings, job.quantizer, writers, tally,
                         progress=None if bar.disable else bar.update)
        bar.close()
        topics = EncodedTopics(topic_sets, {t: encoder.encode(list(m.values()))  # once, all levels
                                            for t, (_, m) in topic_sets.items()})
        for p in job.prunings:
            w = writers[p.name]
            w.close()
            counts = {"documents": w.documents, "empty_vectors": w.empty, "postings": w.postings, **tally[p.name]}
            documents = documents_entry(job.corpus, counts, job.shard_size, time.perf_counter() - started, p.name,
                                        job.allow_empty)
            finish_level(encoder, folders[p.name], p, documents, topics, job, term_max=w.term_max)
    log.info("exported %s in %.1fs", ", ".join(names), time.perf_counter() - started)
    return {name: job.out / name for name in names}


def documents_entry(corpus, counts: dict, shard_size: int, seconds: float, level: str = "",
                    allow_empty: bool = False) -> dict:
    """The manifest's ``documents`` record from a level's summed counters
    (``documents``, ``empty_vectors``, ``postings``, ``pruned_weights``, ``dropped_subunit_weights``);
    a level whose every vector is empty is an error unless ``allow_empty``."""
    if counts["documents"] == 0:
        raise InputError(corpus, "corpus has no documents")
    if counts["empty_vectors"] == counts["documents"] and not allow_empty:
        raise EspladeError(f"level {level or '?'}: every one of the {counts['documents']} document vectors is empty "
                           f"after pruning and quantisation ({counts['dropped_subunit_weights']} weights under one "
                           "unit dropped): a larger --scale keeps them; nothing written (--allow-empty writes it)")
    return {
        "source": os.fspath(corpus),
        "count": counts["documents"],
        "empty_vectors": counts["empty_vectors"],
        "postings": counts["postings"],
        "mean_vector_length": counts["postings"] / counts["documents"],
        "pruned_weights": counts["pruned_weights"],
        "dropped_subunit_weights": counts["dropped_subunit_weights"],
        "shard_size": shard_size,
        "seconds": round(seconds, 3),
    }


def finish_level(encoder, folder: Path, pruning: Pruning, documents: dict, topics: EncodedTopics, job: ExportJob,
                 extra: dict | None = None, term_max=None) -> dict:
    """Write a level's query files and its manifest into ``folder``; returns the manifest.

    ``encoder`` only needs ``info``, ``terms`` and ``max_length`` here: the topics come
    already encoded (one encoding shared by every level). The job's ``quantizer`` and its
    ``collection`` (the provenance of a registered collection, recorded as given) are used;
    ``term_max``: each term's highest document impact in the level (see :func:`write_queries`).
    """
    manifest = artifacts.new_export_manifest(encoder.info.to_dict(), pruning.to_dict(), job.quantizer.to_dict())
    if job.collection:
        manifest["collection"] = dict(job.collection)
    for tname, (source, topic_map) in topics.sets.items():
        manifest["queries"][tname] = write_queries(encoder, topic_map, folder, tname, (pruning, job.quantizer),
                                                   source=source, encoded=topics.encoded[tname], term_max=term_max)
    manifest["documents"] = documents
    manifest.update(extra or {})
    artifacts.write_export_manifest(folder, manifest)
    return manifest


def export_topics(encoder, topics: str | os.PathLike, level_dir: str | os.PathLike, name: str | None = None,
                  pruning: Pruning | None = None, quantizer: Quantizer | None = None, overwrite: bool = False) -> Path:
    """Encode topics into ``level_dir/queries.<name>.jsonl`` with the level's settings.

    Pruning and quantisation default to the level's manifest, so queries and documents
    always share one rule; an encoder of another checkpoint, max length or vocabulary than
    the documents' is refused. The manifest records the query file's counts. An existing
    query file is replaced only with ``overwrite``. The level's claim is held throughout (the
    manifest is read, updated and rewritten), so a concurrent export of the same level fails.
    """
    level_dir = Path(level_dir)
    with claim(level_dir):
        manifest, target = check_topics_target(level_dir, topics, name, overwrite)
        artifacts.check_compatible(artifacts.encoding_of(manifest),
                                   artifacts.encoding(encoder.info.to_dict(), manifest["quantization"]),
                                   str(level_dir / artifacts.EXPORT_MANIFEST), fields=artifacts.ENCODING_FIELDS[:3],
                                   against="documents", hint=": encode queries with the documents' checkpoint")
        level_pruning, level_quantizer = rules_of(manifest, level_dir / artifacts.EXPORT_MANIFEST)
        name = name or artifacts.topics_name(topics)
        manifest["queries"][name] = write_queries(encoder, read_topics(topics), level_dir, name,
                                                   (pruning or level_pruning, quantizer or level_quantizer),
                                                   source=topics)
        artifacts.write_export_manifest(level_dir, manifest)
    return target


def check_topics_target(level_dir: str | os.PathLike, topics: str | os.PathLike, name: str | None = None,
                        overwrite: bool = False) -> tuple[dict, Path]:
    """``(manifest, query file)`` of a topics-only export into ``level_dir``, checked before any
    model loads: the level's manifest is readable, the query file absent (or ``overwrite``)."""
    manifest = artifacts.read_export_manifest(level_dir)
    target = Path(level_dir) / artifacts.queries_file(name or artifacts.topics_name(topics))
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target}: already exists (pass --overwrite to replace it)")
    return manifest, target


def rules_of(manifest: dict, where: str | os.PathLike) -> tuple[Pruning, Quantizer]:
    """The pruning and quantisation rules an export manifest records; a value out of range
    (a scale of 0, a negative top-k) is an error naming the manifest."""
    from esplade_eval.errors import RangeError

    try:
        return Pruning.from_dict(manifest["pruning"]), Quantizer.from_dict(manifest["quantization"])
    except (RangeError, ValueError, TypeError) as exc:
        raise InputError(where, f"manifest: {exc}") from None


def read_topic_sets(paths) -> dict[str, tuple[str, dict[str, str]]]:
    """``{query file name: (source path, topics)}``, every file read and checked up front."""
    sets: dict[str, tuple[str, dict[str, str]]] = {}
    for path in paths:
        name = artifacts.topics_name(path)
        if name in sets:
            raise ValueError(f"two topics files map to the query file name {name!r}: {sets[name][0]}, {path}")
        sets[name] = (os.fspath(path), read_topics(path))
    return sets


def write_queries(encoder, topic_map, folder: Path, name: str, rules: tuple[Pruning, Quantizer],
                  source, encoded=None, term_max=None) -> dict:
    """Encode (unless ``encoded`` is given), prune and quantise by ``rules`` (as :func:`rules_of`
    returns them) and write ``folder/queries.<name>.jsonl``; returns its manifest entry. With ``term_max`` (each term's highest document impact) the
    entry records the highest score a query can reach, and a bound past what Lucene scores
    exactly (:data:`~esplade_eval.sparse.quantize.MAX_IMPACT`) is warned about."""
    pruning, quantizer = rules
    ids, texts = list(topic_map), list(topic_map.values())
    encoded = encoder.encode(texts) if encoded is None else encoded
    impacts, lost = quantizer.apply(pruning.apply(encoded, "query"))
    path = Path(folder) / artifacts.queries_file(name)
    record = artifacts.query_encoding(artifacts.encoding(encoder.info.to_dict(), quantizer.to_dict(), pruning.name))
    with atomic_file(path) as fh:
        write_query_file(fh, ids, texts, impacts, encoder.terms, encoding=record)
    lengths = impacts.lengths()
    entry = {"source": os.fspath(source), "source_sha256": sha256_file(source), "file": path.name, "count": len(ids),
             "empty_vectors": int((lengths == 0).sum()), "mean_vector_length": float(lengths.mean()) if len(ids) else 0.0,
             "dropped_subunit_weights": lost, "max_length": encoder.max_length}
    if term_max is not None:
        bounds = score_bounds(impacts, term_max)
        entry["max_score_bound"] = int(bounds.max()) if len(bounds) else 0
        over = int((bounds > MAX_IMPACT).sum())
        if over:
            log.warning("%s: %d queries can reach scores above %d, where Lucene's float scores round (documents "
                        "may tie or swap); a smaller --scale keeps search exact", path, over, MAX_IMPACT)
    return entry


def encode_queries(encoder, topics: dict[str, str], manifest: dict | None = None, pruning: Pruning | None = None,
                   where: str = "queries", allow_mismatch: bool = False) -> dict[str, dict[str, int]]:
    """Integer query vectors for ``{qid: text}`` under an export manifest's rules.

    With a ``manifest`` (an index's or a level's), its quantisation is used, its query
    pruning unless ``pruning`` is given, and a different checkpoint, max length or
    vocabulary is an error unless ``allow_mismatch``.
    """
    quantizer = Quantizer()
    if manifest:
        if not allow_mismatch:
            artifacts.check_compatible(artifacts.encoding_of(manifest),
                                       artifacts.encoding(encoder.info.to_dict(), manifest["quantization"]), where)
        level_pruning, quantizer = rules_of(manifest, where)
        pruning = pruning or level_pruning
    batch, _ = quantizer.apply((pruning or Pruning()).apply(encoder.encode(list(topics.values())), "query"))
    return dict(zip(topics, batch.to_dicts(encoder.terms)))


def _progress(enabled: bool | None, desc: str, corpus):
    """A bar over the corpus' documents; its total is its line count (cheap next to encoding)."""
    from esplade_eval._progress import bar, shown

    total = None
    if shown(enabled):
        from esplade_eval._read import open_text

        with open_text(corpus) as fh:
            total = sum(1 for line in fh if line.strip())
    return bar(total=total, desc=desc, unit="doc", enabled=enabled)
