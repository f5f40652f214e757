"""The Ray actors of ``export --ray`` (:mod:`esplade_eval.distributed.export`): what each
loads, the shard it turns into staged files and their marker, and a fault to inject (tests)."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from esplade_eval._io import write_json
from esplade_eval.errors import EspladeError
from esplade_eval.model.export import aligned_chunks, encode_chunk, new_tally
from esplade_eval.sparse.jsonvector import CollectionWriter
from esplade_eval.sparse.prune import Pruning
from esplade_eval.sparse.quantize import Quantizer

RETRIES = 3  # actor restarts, and retries of the shard a dead actor was encoding


@dataclass(frozen=True)
class EncoderSettings:
    """What every worker loads: the arguments of :meth:`SpladeEncoder.from_checkpoint`."""

    checkpoint: str
    max_length: int = 256
    batch_size: int = 128
    device: str | None = None
    dtype: str = "float32"


@dataclass(frozen=True)
class FailOnce:
    """Test hook: the worker encoding ``shard`` fails once, after its first chunk is written.

    ``how="exit"`` kills the worker process (``os._exit``: Ray restarts the actor and
    retries the shard); ``how="raise"`` raises, which Ray does not retry, so the export
    fails and a second run must resume. ``marker`` (a file) makes it happen only once.
    Set from the environment as ``ESPLADE_RAY_FAIL_ONCE=SHARD:exit|raise:MARKER``.
    """

    shard: int
    how: str
    marker: str

    @classmethod
    def from_env(cls, value: str | None = None) -> "FailOnce | None":
        value = os.environ.get("ESPLADE_RAY_FAIL_ONCE") if value is None else value
        if not value:
            return None
        shard, how, marker = value.split(":", 2)
        if how not in ("exit", "raise"):
            raise EspladeError(f"ESPLADE_RAY_FAIL_ONCE={value!r}: expected SHARD:exit|raise:MARKER")
        return cls(int(shard), how, marker)

    def maybe_fail(self, shard: int) -> None:
        if shard != self.shard or os.path.exists(self.marker):
            return
        Path(self.marker).touch()
        if self.how == "exit":
            os._exit(1)
        raise RuntimeError(f"injected failure in shard {shard}")


class ShardEncoder:
    """A Ray actor: one loaded encoder that turns whole collection shards into staged files."""

    def __init__(self, settings: EncoderSettings, threads: int, fail_once: FailOnce | None = None):
        from esplade_eval.model.encoder import SpladeEncoder

        self.encoder = SpladeEncoder.from_checkpoint(settings.checkpoint, max_length=settings.max_length,
                                                     device=settings.device, threads=threads,
                                                     batch_size=settings.batch_size, dtype=settings.dtype)
        self.threads = threads
        self.fail_once = fail_once

    def describe(self) -> dict:
        return {"info": self.encoder.info.to_dict(), "terms": self.encoder.terms, "device": str(self.encoder.device),
                "threads": self.threads, "pid": os.getpid()}

    def encode(self, texts: list[str]):
        """A :class:`~esplade_eval.sparse.vectors.SparseBatch` of ``texts`` (topics), as the driver would get."""
        return self.encoder.encode(texts)

    def encode_shard(self, shard: int, docs: list[tuple[str, str]], staging: str, prunings: Sequence[Pruning],
                     quantizer: Quantizer, shard_size: int, chunk: int) -> dict:
        """Write shard ``shard`` of every level into ``staging``, then its marker; returns the marker."""
        staging = Path(staging)
        tally = new_tally(prunings)
        started = time.perf_counter()
        with contextlib.ExitStack() as stack:
            writers = {p.name: stack.enter_context(
                CollectionWriter(staging / p.name, self.encoder.terms, shard_size, first_shard=shard)) for p in prunings}
            for n, part in enumerate(aligned_chunks(docs, chunk, shard_size)):
                encode_chunk(self.encoder, part, prunings, quantizer, writers, tally)
                if n == 0 and self.fail_once is not None:
                    self.fail_once.maybe_fail(shard)
        levels = {name: {"documents": w.documents, "empty_vectors": w.empty, "postings": w.postings, **tally[name],
                         "term_max": _sparse(w.term_max)} for name, w in writers.items()}
        marker = {"shard": shard, "documents": len(docs), "first_id": docs[0][0], "last_id": docs[-1][0],
                  "levels": levels, "seconds": round(time.perf_counter() - started, 3), "pid": os.getpid()}
        write_json(marker_path(staging, shard), marker)
        return marker


def _sparse(values) -> dict:
    """A mostly-zero vector as ``{"index": [...], "value": [...]}`` (JSON for a shard's marker)."""
    import numpy as np

    nz = np.flatnonzero(values)
    return {"index": nz.tolist(), "value": np.asarray(values)[nz].tolist()}


def marker_path(staging: Path, shard: int) -> Path:
    return Path(staging) / "done" / f"{shard:05d}.json"
