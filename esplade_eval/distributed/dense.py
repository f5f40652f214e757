"""Dense encoding on Ray actors (``esplade-eval dense --ray``).

:class:`RayDenseEncoder` has the interface of :class:`esplade_eval.model.dense.DenseEncoder`
(``info``, ``encode(texts, out=None, progress=, desc=)``), so the dense reference runs the
same code with either: texts go out in blocks of :data:`BLOCK` to a pool of actors (one per
GPU when the cluster has GPUs and no CPU device is asked, else ``cpus // threads`` CPU
actors), each holding the model, and come back as ``float32`` rows written in place, so
the driver holds the titles and the embeddings, never a model. Every actor must load the
same checkpoint content (hash compared), or the encoding is refused.
"""

from __future__ import annotations

import numpy as np

from esplade_eval.distributed.runtime import cluster_counts, unwrap
from esplade_eval.errors import EspladeError

BLOCK = 1024  # texts per task: ~8 batches, a few seconds of CPU work


class _Worker:
    """One actor: a :class:`~esplade_eval.model.dense.DenseEncoder` loaded once."""

    def __init__(self, checkpoint: str, max_length: int, device: str | None, threads: int, batch_size: int):
        from esplade_eval.model.dense import DenseEncoder

        self.encoder = DenseEncoder.from_checkpoint(checkpoint, max_length, device, threads, batch_size)

    def info(self) -> dict:
        return self.encoder.info.to_dict()

    def encode(self, start: int, texts: list[str]) -> tuple[int, np.ndarray]:
        return start, self.encoder.encode(texts)


class RayDenseEncoder:
    """Dense encoding on the actors of a connected Ray instance (see the module docstring)."""

    def __init__(self, ray, settings, threads: int = 1):
        from esplade_eval.model.dense import DENSE_MAX_LENGTH, DenseInfo

        cpus, gpus = cluster_counts(ray)
        use_gpu = gpus > 0 and (settings.device or "cuda").startswith("cuda")
        workers = gpus if use_gpu else max(1, cpus // max(1, threads))
        actor = ray.remote(_Worker).options(num_cpus=threads, num_gpus=1 if use_gpu else 0)
        device = None if use_gpu else (settings.device or "cpu")
        self.actors = [actor.remote(settings.checkpoint, settings.max_length or DENSE_MAX_LENGTH, device, threads,
                                    settings.batch_size) for _ in range(workers)]
        self.ray = ray
        try:
            infos = ray.get([a.info.remote() for a in self.actors])
        except Exception as exc:
            raise EspladeError(f"a Ray worker could not load the dense encoder: {unwrap(exc)}") from exc
        if len({i["checkpoint_hash"] for i in infos}) != 1:
            raise EspladeError("Ray workers loaded different dense checkpoints: the checkpoint path must hold the "
                               "same files on every node")
        self.info = DenseInfo(**infos[0])
        self.workers = workers

    def encode(self, texts, out: np.ndarray | None = None, progress: bool | None = False,
               desc: str = "dense encode") -> np.ndarray:
        from ray.util import ActorPool

        from esplade_eval._progress import bar

        texts = list(texts)
        out = np.empty((len(texts), self.info.dimensions), dtype=np.float32) if out is None else out
        pool = ActorPool(self.actors)
        blocks = [(s, texts[s:s + BLOCK]) for s in range(0, len(texts), BLOCK)]
        with bar(len(texts), f"{desc} (Ray, {self.workers} workers)", "text", enabled=progress) as pbar:
            try:
                for start, rows in pool.map_unordered(lambda a, b: a.encode.remote(*b), blocks):
                    out[start:start + len(rows)] = rows
                    pbar.update(len(rows))
            except Exception as exc:
                raise EspladeError(f"dense encoding on Ray failed: {unwrap(exc)}") from exc
        return out
