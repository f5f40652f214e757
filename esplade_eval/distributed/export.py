"""``export --ray``: encode a corpus on a pool of Ray actors, shard by shard, resumably.

Why actors and not Ray Data: the unit of work is a collection shard (``--shard-size``
documents, the file ``docs{i:05d}.jsonl`` of every level), because that is what must come
out byte-identical to the single-process export and what a resumed run must be able to
skip. Each actor loads the encoder once (one per GPU, or one per CPU slot with its own
torch thread count) and turns whole shards into finished files; Ray's actor restart and
task retry bring a shard home when a worker dies. Ray Data's ``map_batches`` would split
and re-batch the rows by its own block sizes (changing which texts share an encoder
batch, hence float sums), order its output by completion unless told otherwise, and
leave resumption to us anyway, for the cost of pyarrow/pandas conversions of every batch.

The flow (the driver is the process that calls :func:`export_on_ray`):

1. the driver reads the corpus once (checked as the single-process export checks it) and
   ships shard ``i``'s ``(id, contents)`` to an idle actor (at most two shards queued per
   actor, so memory stays bounded);
2. the actor encodes the shard in the single-process export's chunks (cut at shard
   boundaries, :func:`~esplade_eval.model.export.aligned_chunks`), prunes and quantises
   every level, writes ``OUT/.ray-export/<level>/docs{i:05d}.jsonl`` and, last, the marker
   ``OUT/.ray-export/done/{i:05d}.json`` with its counts (written atomically: a shard is
   done exactly when its marker exists);
3. when every shard is done, the driver encodes the topics on one actor and assembles each
   level exactly as the single-process export does (``collection/`` hard-linked from the
   staged shards, query files, manifest), every level renamed into place at the end.

A run that fails (a worker lost for good, the driver killed) leaves the staging folder; the
same command run again skips every shard whose marker is there (checked against the first
and last document id and the count) and encodes the rest. A staging folder written with
other settings (checkpoint, levels, quantisation, shard size, corpus) is discarded.

The output folder must be visible to every worker: on one machine that is automatic, on a
cluster use a shared filesystem (NFS, a mounted bucket) for ``OUT``; the corpus is read by
the driver only, and the checkpoint must load on every worker (a shared path, or a name
such as ``splade-tiny`` installed with the package).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Sequence

from esplade_eval._io import atomic_dir, check_unclaimed, claim, link_or_copy, no_empty_folder_left, write_json
from esplade_eval._read import read_json
from esplade_eval.artifacts import COLLECTION_DIR, shard_file_name
from esplade_eval.data.trec import read_corpus
from esplade_eval.distributed.runtime import cluster_counts, session, unwrap
from esplade_eval.distributed.workers import RETRIES, EncoderSettings, FailOnce, ShardEncoder, marker_path
from esplade_eval.errors import EspladeError, InputError
from esplade_eval.model.export import (
    EncodedTopics,
    ExportJob,
    batched,
    check_levels,
    documents_entry,
    finish_level,
    read_topic_sets,
)
from esplade_eval.sparse.prune import Pruning
from esplade_eval.sparse.quantize import Quantizer

log = logging.getLogger(__name__)

STAGING = ".ray-export"
PLAN_FORMAT = "esplade_eval/ray-export/1"
COUNTERS = ("documents", "empty_vectors", "postings", "pruned_weights", "dropped_subunit_weights")


@dataclass
class RayExportResult:
    """Level folders, and how the work went (also recorded as ``"ray"`` in every manifest)."""

    folders: dict[str, Path]
    info: dict


@dataclass(frozen=True)
class RayPool:
    """Where and with what an export runs on Ray: ``address`` (None: a local cluster),
    ``workers`` (actors; default one per GPU, else one per CPU of the cluster divided by
    ``threads``), ``threads`` (torch threads per CPU actor; default CPUs / workers) and a
    fault to inject once (tests)."""

    address: str | None = None
    workers: int | None = None
    threads: int | None = None
    fail_once: FailOnce | None = None


POOL_FIELDS = ("address", "workers", "threads", "fail_once")


def export_on_ray(settings: EncoderSettings, corpus: str | os.PathLike, out: str | os.PathLike,
                  prunings: Sequence[Pruning] = (Pruning(),), quantizer: Quantizer = Quantizer(),
                  **options) -> RayExportResult:
    """The single-process :func:`~esplade_eval.model.export.export_corpus`, on Ray (see the module doc).

    ``options``: :class:`~esplade_eval.model.export.ExportJob`'s fields (``shard_size``,
    ``chunk``, ``topics``, ``overwrite``, ``progress``, ``collection``: a registered
    collection's provenance, recorded in every manifest, ``allow_empty``) and
    :class:`RayPool`'s (``address``, ``workers``, ``threads``, ``fail_once``).
    """
    pool = RayPool(**{k: options.pop(k) for k in POOL_FIELDS if k in options})
    job = ExportJob.of(corpus, Path(out).resolve(), prunings, quantizer, **options)
    check_levels(job.prunings)
    topic_sets = read_topic_sets(job.topics)
    for p in job.prunings:
        check_unclaimed(job.out / p.name)
        if (job.out / p.name).exists() and not job.overwrite:
            raise FileExistsError(f"{job.out / p.name}: already exists (pass --overwrite to replace it)")
    # one Ray export per output folder at a time; each level is claimed as it is written
    with no_empty_folder_left(job.out), claim(job.out / STAGING):
        return _export(settings, job, topic_sets, pool)


def _export(settings: EncoderSettings, job: ExportJob, topic_sets: dict, pool: RayPool) -> RayExportResult:
    started = time.perf_counter()
    with session(pool.address) as ray:
        actors, pool_info = _start_workers(ray, settings, pool.workers, pool.threads, pool.fail_once)
        try:
            described = _describe(ray, actors)
            staging = _prepare_staging(job.out, _plan(described["info"], job))
            encode_started = time.perf_counter()
            shards, reused = _encode_shards(ray, actors, job, staging)
            pool_info["encode_seconds"] = round(time.perf_counter() - encode_started, 3)
            topics = EncodedTopics(topic_sets, {t: ray.get(actors[0].encode.remote(list(m.values())))
                                                for t, (_, m) in topic_sets.items()})
        finally:
            for actor in actors:
                ray.kill(actor)
    info = {**pool_info, "shards": shards, "shards_reused": reused, "shard_size": job.shard_size,
            "seconds": round(time.perf_counter() - started, 3)}
    encoder = SimpleNamespace(info=SimpleNamespace(to_dict=lambda: dict(described["info"])),
                              terms=described["terms"], max_length=described["info"]["max_length"])
    folders = _assemble(encoder, job, staging, shards, topics, info, started)
    shutil.rmtree(staging, ignore_errors=True)
    log.info("exported %s on Ray: %d shards (%d reused) in %.1fs", ", ".join(folders), shards, reused,
             info["seconds"])
    return RayExportResult(folders, info)


def _start_workers(ray, settings: EncoderSettings, workers: int | None, threads: int | None,
                   fail_once: FailOnce | None):
    """One actor per GPU (when the cluster has GPUs and no CPU device is asked), else CPU actors."""
    cpus, gpus = cluster_counts(ray)
    use_gpu = gpus > 0 and (settings.device or "cuda").startswith("cuda")
    if use_gpu:
        workers = workers or gpus
        threads = threads or 1
    else:
        if workers is None:
            threads = threads or 1
            workers = max(1, cpus // threads)
        threads = threads or max(1, cpus // workers)
        settings = settings if settings.device else EncoderSettings(**{**asdict(settings), "device": "cpu"})
    if workers < 1 or threads < 1:
        raise EspladeError(f"workers and threads must be >= 1, got {workers} and {threads}")
    actor = ray.remote(ShardEncoder).options(num_cpus=threads, num_gpus=1 if use_gpu else 0,
                                             max_restarts=RETRIES, max_task_retries=RETRIES)
    actors = [actor.remote(settings, threads, fail_once) for _ in range(workers)]
    return actors, {"workers": workers, "threads_per_worker": threads, "gpus_per_worker": 1 if use_gpu else 0,
                    "cluster_cpus": cpus, "cluster_gpus": gpus}


def _describe(ray, actors) -> dict:
    """Wait until every worker has loaded the encoder; they must agree on what they loaded."""
    try:
        described = ray.get([a.describe.remote() for a in actors])
    except Exception as exc:
        raise EspladeError(f"a Ray worker could not load the encoder: {unwrap(exc)}") from exc
    hashes = {d["info"]["checkpoint_hash"] for d in described}
    if len(hashes) != 1:
        raise EspladeError(f"Ray workers loaded different checkpoints (content hashes {sorted(hashes)}): "
                           "the checkpoint path must hold the same files on every node")
    return described[0]


def _plan(encoder_info: dict, job: ExportJob) -> dict:
    """Everything a staged shard depends on: a resumed run must agree on all of it."""
    stat = os.stat(job.corpus)
    return {"format": PLAN_FORMAT, "encoder": encoder_info, "levels": [p.name for p in job.prunings],
            "quantization": job.quantizer.to_dict(), "shard_size": job.shard_size, "chunk": job.chunk,
            "corpus": os.fspath(Path(job.corpus).resolve()), "corpus_bytes": stat.st_size,
            "corpus_mtime_ns": stat.st_mtime_ns}


def _prepare_staging(out: Path, plan: dict) -> Path:
    """``OUT/.ray-export``, kept when its plan matches (resume), else emptied and re-planned."""
    staging = out / STAGING
    plan_file = staging / "plan.json"
    if plan_file.is_file():
        try:
            if read_json(plan_file, "plan") == plan:
                return staging
        except (OSError, InputError):
            pass
        log.warning("%s was written with other settings: starting over", staging)
        shutil.rmtree(staging)
    (staging / "done").mkdir(parents=True, exist_ok=True)
    write_json(plan_file, plan)
    return staging


def _reusable(staging: Path, shard: int, docs: list[tuple[str, str]]) -> bool:
    path = marker_path(staging, shard)
    if not path.is_file():
        return False
    try:
        marker = read_json(path, "shard marker")
    except (OSError, InputError):
        return False
    return (marker.get("documents"), marker.get("first_id"), marker.get("last_id")) == (
        len(docs), docs[0][0], docs[-1][0])


def _encode_shards(ray, actors, job: ExportJob, staging: Path) -> tuple[int, int]:
    """Ship every shard not already done to the actors; returns ``(shards, shards reused)``."""
    from ray.util import ActorPool

    from esplade_eval._progress import bar as progress_bar

    pool = ActorPool(actors)
    bar = progress_bar(desc="encode documents (ray)", unit="doc", enabled=job.progress)
    shards = reused = queued = 0
    args = (os.fspath(staging), list(job.prunings), job.quantizer, job.shard_size, job.chunk)
    try:
        for shard, docs in enumerate(batched(read_corpus(job.corpus), job.shard_size)):
            shards += 1
            if _reusable(staging, shard, docs):
                reused += 1
                bar.update(len(docs))
                continue
            if queued >= 2 * len(actors):
                bar.update(_next_result(pool, staging)["documents"])
                queued -= 1
            pool.submit(lambda a, v: a.encode_shard.remote(*v), (shard, docs, *args))
            queued += 1
        while pool.has_next():
            bar.update(_next_result(pool, staging)["documents"])
    finally:
        bar.close()
    if shards == 0:
        from esplade_eval.errors import InputError

        raise InputError(job.corpus, "corpus has no documents")
    return shards, reused


def _next_result(pool, staging: Path) -> dict:
    try:
        return pool.get_next_unordered()
    except Exception as exc:
        done = len(list((staging / "done").glob("*.json")))
        raise EspladeError(f"a Ray worker failed: {unwrap(exc)}\n{done} finished shards are kept in {staging}; "
                           "run the same command again to resume") from exc


def _summed_counts(staging: Path, shards: int, prunings, vocabulary: int) -> tuple[dict, dict]:
    """Each level's counters summed over the shards' markers, and each term's highest impact
    over them (what the single-process writer's ``term_max`` holds)."""
    import numpy as np

    totals = {p.name: dict.fromkeys(COUNTERS, 0) for p in prunings}
    term_max = {p.name: np.zeros(vocabulary, dtype=np.int64) for p in prunings}
    for shard in range(shards):
        levels = read_json(marker_path(staging, shard), "shard marker")["levels"]
        for name, counts in totals.items():
            for key in COUNTERS:
                counts[key] += levels[name][key]
            top = levels[name]["term_max"]
            np.maximum.at(term_max[name], np.asarray(top["index"], dtype=np.int64),
                          np.asarray(top["value"], dtype=np.int64))
    return totals, term_max


def _assemble(encoder, job: ExportJob, staging: Path, shards: int, topics: EncodedTopics, info: dict,
              started: float) -> dict[str, Path]:
    """Every level as the single-process export writes it, all renamed into place at the end."""
    totals, term_max = _summed_counts(staging, shards, job.prunings, len(encoder.terms))
    with contextlib.ExitStack() as stack:
        for p in job.prunings:
            folder = stack.enter_context(atomic_dir(job.out / p.name, overwrite=job.overwrite))
            files = folder / COLLECTION_DIR
            files.mkdir()
            for shard in range(shards):
                # a link: the staged file stays for a resume until every level is in place
                link_or_copy(staging / p.name / shard_file_name(shard), files / shard_file_name(shard))
            documents = documents_entry(job.corpus, totals[p.name], job.shard_size, time.perf_counter() - started,
                                        p.name, job.allow_empty)
            finish_level(encoder, folder, p, documents, topics, job, extra={"ray": info}, term_max=term_max[p.name])
    return {p.name: job.out / p.name for p in job.prunings}
