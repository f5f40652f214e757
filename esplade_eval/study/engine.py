"""The one engine every orchestration runs on: plan stages, key them, run or reuse them.

A caller (the study, its tuning, the grid) opens its work folder (:func:`opened`: one
process at a time, what a killed run left removed), builds a list of
:class:`~esplade_eval.study.cache.Stage` in dependency order, and :func:`run_stages` keys
them (:func:`~esplade_eval.study.cache.assign_keys`) and runs every stage not already
complete under its key (:func:`~esplade_eval.study.driver.execute`): the same cache,
resume and failure handling for every orchestration.
"""

from __future__ import annotations

import contextlib

from esplade_eval.study.cache import Stage, StageStore, assign_keys, digest, file_fingerprint


@contextlib.contextmanager
def opened(store: StageStore, echo=print):
    """The work folder, locked for this process, without the unfinished folders of a killed run."""
    with store.locked():
        swept = store.sweep()
        if swept and echo:
            echo(f"removed {len(swept)} unfinished stage folder(s) of an interrupted run")
        yield store


def run_stages(stages: list[Stage], store: StageStore, ctx, progress: bool = True):
    """Run or reuse ``stages`` (keys assigned here when missing), inside :func:`opened`; the
    :class:`~esplade_eval.study.driver.Outcome`."""
    from esplade_eval.study.driver import execute

    if any(not s.key for s in stages):
        assign_keys(stages)
    return execute(stages, store, ctx, progress)


def checkpoint_fingerprint(checkpoint: str) -> str:
    """What a checkpoint's stages are keyed by: the content of every file of a checkpoint folder,
    or the name of a bundled one (``splade-tiny``: its carrier package is pinned)."""
    import os
    from pathlib import Path

    if not os.path.isdir(checkpoint):
        return f"named: {checkpoint}"
    root = Path(checkpoint)
    return digest({p.relative_to(root).as_posix(): file_fingerprint(p) for p in sorted(root.rglob("*")) if p.is_file()})


def require_success(outcome) -> None:
    """Raise the first failure of ``outcome`` (for orchestrations without a failing-cell report)."""
    from esplade_eval.errors import EspladeError

    if not outcome.ok:
        first = outcome.failed[0]
        raise EspladeError(f"{first.stage.label} failed: {first.error}")
