"""``index --shards N --ray``: every shard's Anserini build as a Ray task.

:func:`esplade_eval.lucene.shards.build_sharded_index` plans the shards and writes the
top-level manifest; this module only supplies its ``runner``. Each task runs
:func:`esplade_eval.lucene.index.build_index` (Anserini in a child JVM) with as many
logical CPUs as its indexing threads; the shard folders are written where the driver
says, so on a cluster the index folder must be on a filesystem every worker sees.

Each task's JVM is a child of its Ray worker started through :mod:`esplade_eval._children`
(its own process group, killed with the worker); a stop signal in the driver ends the Ray
session, whose local workers and their JVMs go with it, and the partial index is removed.
"""

from __future__ import annotations

from esplade_eval.distributed.runtime import session, task_error
from esplade_eval.lucene.index import build_index


def ray_runner(address: str | None = None):
    """A runner for :func:`~esplade_eval.lucene.shards.build_sharded_index` that uses Ray tasks."""
    def run(jobs: list[dict]) -> list[dict]:
        with session(address) as ray:
            refs = [ray.remote(build_index).options(num_cpus=job["threads"], max_retries=1).remote(**job)
                    for job in jobs]
            try:
                return ray.get(refs)
            except Exception as exc:
                raise task_error(exc, "a shard failed to index on Ray") from exc

    return run
