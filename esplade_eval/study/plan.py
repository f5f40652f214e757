"""The study's stages, in dependency order: a plain list the driver runs and ``--dry-run`` prints.

::

    vocab ─► [start] ─► pretrain(arm, seed) ─► finetune(arm, seed) ─► flow(arm, seed) ─┬► evaluate(arm, seed)
                                                                              └► cost(arm, seed, level)
    pretrain(esplade-no-mlm, seed: 0 steps) ─► finetune ─► flow ─► evaluate, cost
    finetune(splade-tiny-ft, seed) ─► flow ─► evaluate, cost
    flow(splade-tiny-zs) ─► evaluate, cost            bm25 ─► evaluate
    pretrain(esplade-no-mlm, first seed) ─► flow(esplade-start) ─► evaluate ─┐
    evaluate(esplade-no-mlm, splade-tiny-ft, splade-tiny-zs) ───────────────┴► parity

The references and the parity check are planned before the arms, so a starting point that
is not fair is known before any arm is trained.

``flow`` encodes the corpus once and exports every pruning level, then builds an Anserini
index and searches it with Lucene per level (:func:`esplade_eval.study.flow.run_flow`).
"""

from __future__ import annotations

from dataclasses import dataclass

from esplade_eval.study.cache import Stage, assign_keys
from esplade_eval.study.expand import pretrain_defaults
from esplade_eval.study.planning import (
    System,
    corpus_inputs,
    downstream,
    finetune_stage,
    parity_stages,
    pretrain_stage,
    start_stage,
)
from esplade_eval.study.systems import Planning, plan_references


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


def build_plan(cfg, collection_fp: str | None) -> Plan:
    """Every stage of ``cfg``; ``collection_fp`` is the collection's fingerprint (None: not built yet)."""
    stages: list[Stage] = []
    systems: dict[str, System] = {}
    fp = {"collection": collection_fp or "not built yet"}
    base = {**pretrain_defaults(), **cfg.pretrain}
    eval_docs = {"exclude_eval_docs": base.get("exclude_eval_docs", []), "allow_eval_docs": base.get("allow_eval_docs")}
    vocab = Stage("vocab", "vocab", {**cfg.vocab, **eval_docs},
                  inputs=corpus_inputs([*cfg.vocab["corpora"], *eval_docs["exclude_eval_docs"],
                                        *(["collection"] if "collection" in cfg.vocab["sources"] else [])],
                                       collection_fp))
    stages.append(vocab)
    start = start_stage(cfg, base, vocab, collection_fp)
    if start is not None:
        stages.append(start)
    # the references and the starting point's parity check come first: a start that is not fair shows before any arm
    references: dict[str, System] = {}  # rows after the arms' in the tables
    plan_references(Planning(cfg, stages, references, vocab, fp, start))
    parity_stages(cfg, stages, fp)
    for arm in cfg.arms:
        systems[arm.name] = System(arm.name, "arm", _arm_description(arm), tuple(cfg.seeds), dict(arm.axes), True,
                                   vocab=arm.vocab)
        for seed in cfg.seeds:
            pt = pretrain_stage(cfg, arm.name, arm.pretrain, seed, vocab, collection_fp, start)
            stages.append(pt)
            downstream(cfg, stages, arm.name, seed, finetune_stage(cfg, arm.name, seed, pt, fp), fp)
    systems.update(references)
    assign_keys(stages)
    return Plan(stages, systems)


def _arm_description(arm) -> str:
    return ", ".join(f"{k} {v}" for k, v in arm.axes.items()) + (", WordPiece outputs" if arm.vocab == "wordpiece" else "")
