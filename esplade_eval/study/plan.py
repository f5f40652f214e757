"""The study's stages, in dependency order: a plain list the driver runs and ``--dry-run`` prints.

::

    vocab ─► pretrain(arm, seed) ─► finetune(arm, seed) ─► flow(arm, seed) ─┬► evaluate(arm, seed)
                                                                              └► cost(arm, seed, level)
    pretrain(esplade-no-mlm, seed: 0 steps) ─► finetune ─► flow ─► evaluate, cost
    finetune(splade-tiny-ft, seed) ─► flow ─► evaluate, cost
    flow(splade-tiny-zs) ─► evaluate, cost            bm25 ─► evaluate

``flow`` encodes the corpus once and exports every pruning level, then builds an Anserini
index and searches it with Lucene per level (:func:`esplade_eval.study.flow.run_flow`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from esplade_eval.study.cache import Stage, assign_keys, file_fingerprint
from esplade_eval.study.expand import pretrain_defaults
from esplade_eval.study.schema import BUNDLED_CORPORA, EVAL_COLLECTION
from esplade_eval.study.systems import Planning, plan_references


@dataclass
class System:
    """A row group of the tables: an arm or a reference system."""

    name: str
    kind: str  # "arm" or "reference"
    description: str
    seeds: tuple  # (None,) for a system that is not trained
    axes: dict = field(default_factory=dict)
    pretrained: bool = False  # has an MLM pre-training stage (held-out MLM accuracy)
    levels: bool = True  # has pruning levels (BM25 has not)


@dataclass
class Plan:
    stages: list[Stage]
    systems: dict[str, System]

    def find(self, kind: str, system: str, seed=None, level=None) -> Stage | None:
        for s in self.stages:
            if (s.kind, s.system, s.seed, s.level) == (kind, system, seed, level):
                return s
        return None

    def of_kind(self, kind: str) -> list[Stage]:
        return [s for s in self.stages if s.kind == kind]


def corpus_inputs(corpora, collection_fp: str | None = None) -> dict[str, str]:
    """Fingerprints of pre-training corpora: the pinned carrier for a bundled one, the content
    for a file, the collection's fingerprint for ``"collection"`` (its documents)."""
    from importlib.metadata import version

    out = {}
    for name in corpora:
        if name == EVAL_COLLECTION:
            out[name] = collection_fp or "not built yet"
        elif name in BUNDLED_CORPORA:
            out[name] = "bundled: " + ", ".join(f"{c}=={version(c)}" for c in ("gensim", "cherche", "bokeh-sampledata"))
        else:
            path = os.path.join(name, "corpus.jsonl") if os.path.isdir(name) else name
            out[name] = file_fingerprint(path)
    return out


def build_plan(cfg, collection_fp: str | None) -> Plan:
    """Every stage of ``cfg``; ``collection_fp`` is the collection's fingerprint (None: not built yet)."""
    stages: list[Stage] = []
    systems: dict[str, System] = {}
    fp = {"collection": collection_fp or "not built yet"}
    base = {**pretrain_defaults(), **cfg.pretrain}
    eval_docs = {"exclude_eval_docs": base.get("exclude_eval_docs", []), "allow_eval_docs": base.get("allow_eval_docs")}
    vocab = Stage("vocab", "vocab", {**cfg.vocab, **eval_docs},
                  inputs=corpus_inputs([*cfg.vocab["corpora"], *eval_docs["exclude_eval_docs"]], collection_fp))
    stages.append(vocab)
    for arm in cfg.arms:
        systems[arm.name] = System(arm.name, "arm", _arm_description(arm), tuple(cfg.seeds), dict(arm.axes), True)
        for seed in cfg.seeds:
            pt = _pretrain(cfg, arm.name, arm.pretrain, seed, vocab, collection_fp)
            stages.append(pt)
            _downstream(cfg, stages, arm.name, seed, _finetune(cfg, arm.name, seed, pt, fp), fp)
    plan_references(Planning(cfg, stages, systems, vocab, fp))
    assign_keys(stages)
    return Plan(stages, systems)


def _arm_description(arm) -> str:
    return ", ".join(f"{k} {v}" for k, v in arm.axes.items())


def _training(cfg) -> dict:
    return {"threads": cfg.threads, "device": cfg.device}


def _pretrain(cfg, system: str, settings: dict, seed: int, vocab: Stage, collection_fp: str | None) -> Stage:
    params = {**settings, "seed": seed, **_training(cfg)}
    sources = [*settings["corpora"], *settings.get("exclude_eval_docs", [])]
    return Stage("pretrain", f"{system}.s{seed}", params, (vocab,), corpus_inputs(sources, collection_fp),
                 system=system, seed=seed)


def _finetune(cfg, system: str, seed: int, init: Stage | None, fp: dict) -> Stage:
    params = {"recipe": cfg.finetune, "init": "pretrained" if init else "splade-tiny", "seed": seed, **_training(cfg)}
    return Stage("finetune", f"{system}.s{seed}", params, (init,) if init else (), dict(fp), system=system, seed=seed)


def _downstream(cfg, stages: list[Stage], system: str, seed, source: Stage | None, fp: dict,
                checkpoint: str | None = None) -> None:
    """flow, evaluate and cost per level after ``source`` (a fine-tuning stage, or a named checkpoint)."""
    ev = cfg.evaluation
    if source is not None:
        stages.append(source)
    suffix = f".s{seed}" if seed is not None else ""
    params = {"levels": list(ev.levels), "max_length": ev.max_length, "scale": ev.scale, "hits": ev.hits,
              "split": cfg.split, "checkpoint": checkpoint, **_training(cfg)}
    flow = Stage("flow", system + suffix, params, (source,) if source else (), dict(fp), system=system, seed=seed)
    stages.append(flow)
    stages.append(_evaluate(cfg, system, seed, flow, fp))
    for level in ev.levels:
        cost = {"level": level, "hits": ev.hits, "passes": ev.latency_passes, "warmup": ev.latency_warmup}
        stages.append(Stage("cost", f"{system}{suffix}.{level}", cost, (flow,), system=system, seed=seed, level=level))


def _evaluate(cfg, system: str, seed, source: Stage, fp: dict) -> Stage:
    suffix = f".s{seed}" if seed is not None else ""
    params = {"measures": list(cfg.evaluation.measures), "split": cfg.split}
    return Stage("evaluate", system + suffix, params, (source,), dict(fp), system=system, seed=seed)
