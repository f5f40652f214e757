"""The study's reference systems, one registry: a config key, a system name, a description,
whether it is on by default, and how its stages are planned.

Adding a reference system is one entry in :data:`REFERENCE_SYSTEMS`: the config key under
``[references]`` (checked by :mod:`.schema`), its row name and description in every table
(:attr:`esplade_eval.study.config.StudyConfig.reference_names`) and its stages in the plan
(:func:`esplade_eval.study.plan.build_plan`) all come from here. Registry order is the
config's order; ``rank`` is the order of the systems in the plan and the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from esplade_eval.lucene.bm25 import BM25Params


@dataclass
class Planning:
    """What a reference's planner appends to: the plan's stages and systems, the vocabulary
    stage, the collection fingerprint inputs."""

    cfg: object
    stages: list
    systems: dict
    vocab: object
    fp: dict
    start: object = None  # the ESPLADE start stage (aligned), or None: each pre-training stage maps the head


@dataclass(frozen=True)
class ReferenceSystem:
    key: str  # under [references]
    name: str  # the system's row name
    description: str
    rank: int  # order in the plan and the tables
    plan: Callable[[Planning, "ReferenceSystem"], None]
    on_by_default: bool = True
    vocab: str = ""  # output vocabulary: "expanded", "wordpiece", or "" (not a learned sparse model)


def _no_mlm(p: Planning, ref: ReferenceSystem) -> None:
    """The arms' base settings with no MLM step (corpora only give the frequency baseline), fine-tuned."""
    from esplade_eval.study.expand import pretrain_defaults
    from esplade_eval.study.planning import System, downstream, finetune_stage, pretrain_stage

    cfg, seeds = p.cfg, tuple(p.cfg.seeds)
    p.systems[ref.name] = System(ref.name, "reference", ref.description, seeds, {}, True)
    settings = {**pretrain_defaults(), **cfg.pretrain, "corpora": list(cfg.vocab["corpora"]), "steps": 0, "repeats": 1,
                "budget": "passes"}
    settings.pop("corpus", None)
    for seed in seeds:
        pt = pretrain_stage(cfg, ref.name, settings, seed, p.vocab, p.fp["collection"], p.start)
        p.stages.append(pt)
        downstream(cfg, p.stages, ref.name, seed, finetune_stage(cfg, ref.name, seed, pt, p.fp), p.fp)


def _tiny_finetuned(p: Planning, ref: ReferenceSystem) -> None:
    from esplade_eval.study.planning import System, downstream, finetune_stage

    seeds = tuple(p.cfg.seeds)
    p.systems[ref.name] = System(ref.name, "reference", ref.description, seeds)
    for seed in seeds:
        downstream(p.cfg, p.stages, ref.name, seed, finetune_stage(p.cfg, ref.name, seed, None, p.fp), p.fp)


def _tiny_zero_shot(p: Planning, ref: ReferenceSystem) -> None:
    from esplade_eval.study.planning import System, downstream

    p.systems[ref.name] = System(ref.name, "reference", ref.description, (None,))
    downstream(p.cfg, p.stages, ref.name, None, None, p.fp, checkpoint="splade-tiny")


def _retriever(kind: str, params: Callable[[object], dict]):
    """A reference that is one stage of ``kind`` (no levels, no seeds) and its evaluation."""

    def plan(p: Planning, ref: ReferenceSystem) -> None:
        from esplade_eval.study.cache import Stage
        from esplade_eval.study.planning import System, evaluate_stage

        p.systems[ref.name] = System(ref.name, "reference", ref.description, (None,), levels=False)
        stage = Stage(kind, ref.name, {"split": p.cfg.split, "hits": p.cfg.evaluation.hits, **params(p.cfg)},
                      inputs=dict(p.fp), system=ref.name)
        p.stages += [stage, evaluate_stage(p.cfg, ref.name, None, stage, p.fp)]

    return plan


def _bm25_params(cfg) -> dict:
    model = BM25Params()  # k1 and b stated once, for the study, the demo and the bm25 verb
    return {"k1": model.k1, "b": model.b, "threads": cfg.threads}


def _dense_params(cfg) -> dict:
    return {"checkpoint": "minilm", "index": "flat", "threads": cfg.threads}


REFERENCE_SYSTEMS = (
    ReferenceSystem("bm25", "bm25", f"BM25 (Anserini via Pyserini, k1={BM25Params.k1:g}, b={BM25Params.b:g}) over "
                    "the same documents", 3, _retriever("bm25", _bm25_params)),
    ReferenceSystem("splade_tiny_zero_shot", "splade-tiny-zs", "SPLADE-tiny zero-shot", 2, _tiny_zero_shot,
                    vocab="wordpiece"),
    ReferenceSystem("splade_tiny_finetuned", "splade-tiny-ft", "SPLADE-tiny fine-tuned with the study's recipe", 1,
                    _tiny_finetuned, vocab="wordpiece"),
    ReferenceSystem("esplade_no_mlm", "esplade-no-mlm",
                    "ESPLADE from the arms' starting point, fine-tuned without MLM pre-training", 0, _no_mlm,
                    vocab="expanded"),
    ReferenceSystem("dense", "dense",
                    "all-MiniLM-L6-v2 (mean pooling, L2-normalised) through an exact faiss inner-product index", 4,
                    _retriever("dense", _dense_params), on_by_default=False),
)


def plan_references(p: Planning) -> None:
    """The stages of every reference system ``p.cfg`` switches on, in :attr:`ReferenceSystem.rank` order."""
    names = p.cfg.reference_names
    for ref in sorted(REFERENCE_SYSTEMS, key=lambda r: r.rank):
        if ref.name in names:
            ref.plan(p, ref)
            p.systems[ref.name].vocab = ref.vocab


#: reference systems, by config key: (system name, description)
REFERENCES = {r.key: (r.name, r.description) for r in REFERENCE_SYSTEMS}
#: ``{config key: on by default}``; a reference off by default (``dense``) is switched on by the
#: config itself, so an existing study plans the same stages
DEFAULTS = {r.key: r.on_by_default for r in REFERENCE_SYSTEMS}
