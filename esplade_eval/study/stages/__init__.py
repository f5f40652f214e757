"""The stage kinds of the engine, one module each, in one registry.

A stage kind is a module with ``KIND``, an explicit ``VERSION`` (bump it when the stage's
results change: ``tests/test_stage_versions.py`` fails when a kind's outputs change and its
version does not), a frozen ``Params`` dataclass (the stage's config slice), an ``Outputs``
dataclass (what its record holds; :meth:`Outputs.load` reads it back from the stage's
folder) and ``run(params, inputs) -> Outputs``. A stage's key is its kind, its params, its
inputs' keys and fingerprints, its ``VERSION`` and the package version
(:func:`esplade_eval.study.cache.stage_key`): no source is hashed, so editing an error
message or a docstring re-plans nothing. Adding a kind is one module plus one line in
:data:`KINDS`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from esplade_eval.study.stages import bm25, cost, dense, evaluate, finetune, flow, parity, pretrain, start, vocab
from esplade_eval.study.stages.base import Inputs, Source

#: every stage kind, by name
KINDS = {m.KIND: m for m in (vocab, start, pretrain, finetune, flow, bm25, dense, evaluate, cost, parity)}


@dataclass
class Context:
    """What every stage may read besides its params: the config, the collection, the stage store."""

    cfg: object
    collection: object
    store: object  # esplade_eval.study.cache.StageStore


def outputs(kind: str, record: dict):
    """The :class:`Outputs` of a stage record of ``kind``."""
    return KINDS[kind].Outputs.from_dict(record["outputs"])


def run_stage(stage, tmp: Path, ctx: Context):
    """Run ``stage`` into ``tmp``: its params typed, its dependencies' outputs loaded."""
    module = KINDS[stage.kind]
    deps, sources = {}, []
    for d in stage.deps:
        record = ctx.store.record(d)
        if record is None:
            raise RuntimeError(f"{stage.label}: {d.label} is not complete")
        deps[d.kind] = (ctx.store.folder(d), outputs(d.kind, record))
        sources.append(Source(d.kind, d.system, d.seed, *deps[d.kind]))
    return module.run(module.Params.of(stage.params), Inputs(Path(tmp), ctx.collection, deps, stage.system, sources))


#: record fields that are timings or paths, not results: left out of :func:`fingerprint`
VOLATILE = re.compile(r"(_s$|^latency_|^sources?$)")


def stable(outputs):
    """``outputs`` without its timings and paths (:data:`VOLATILE` keys, at any depth)."""
    if isinstance(outputs, dict):
        return {k: stable(v) for k, v in outputs.items() if not VOLATILE.search(k)}
    if isinstance(outputs, list):
        return [stable(v) for v in outputs]
    return outputs


def fingerprint(kind: str, folder: Path, record: dict) -> str:
    """SHA-256 of a complete stage's results: its outputs (timings and paths aside) and the content
    of its kind's ``RESULT_FILES``. Equal fingerprints on the same inputs mean the same results."""
    h = hashlib.sha256(json.dumps(stable(record["outputs"]), sort_keys=True).encode())
    optional = getattr(KINDS[kind], "OPTIONAL_FILES", ())
    for pattern in (*KINDS[kind].RESULT_FILES, *optional):
        found = sorted(Path(folder).glob(pattern))
        if not found and pattern in optional:
            continue
        if not found:
            raise FileNotFoundError(f"{folder}: no {pattern} (a result file of a {kind} stage)")
        for path in found:
            h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()
