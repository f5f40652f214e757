"""The building blocks of a plan: systems (row groups) and the stages of pre-training,
fine-tuning, the flow, evaluation and cost, keyed by the config slices they read.
:mod:`.plan` puts the arms together from them, :mod:`.systems` the reference systems."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from esplade_eval.study.cache import Stage, file_fingerprint
from esplade_eval.study.schema import BUNDLED_CORPORA, EVAL_COLLECTION


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
    vocab: str = ""  # output vocabulary: "expanded" (ESPLADE), "wordpiece" (SPLADE), "" (BM25, dense)


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


def training(cfg) -> dict:
    return {"threads": cfg.threads, "device": cfg.device}


def pretrain_stage(cfg, system: str, settings: dict, seed: int, vocab: Stage, collection_fp: str | None,
                   start: Stage | None = None) -> Stage:
    params = {**settings, "seed": seed, **training(cfg)}
    sources = [*settings["corpora"], *settings.get("exclude_eval_docs", [])]
    # SPLADE's head needs no vocabulary; an expanded arm starts from the aligned start when there is one
    shared = start and all(settings.get(k) == start.params[s] for k, s in (("init_encoder", "source"), ("head_init", "head_init")))
    deps = () if settings.get("output_vocab") == "wordpiece" else (vocab, start) if shared else (vocab,)
    return Stage("pretrain", f"{system}.s{seed}", params, deps, corpus_inputs(sources, collection_fp),
                 system=system, seed=seed)


def start_stage(cfg, base: dict, vocab: Stage, collection_fp: str | None) -> Stage | None:
    """The aligned ESPLADE start (:mod:`.stages.start`), built once; None when ``align_steps`` is 0."""
    if not base.get("align_steps") or base.get("init_encoder") in (None, "", "none"):  # nothing to map or align
        return None
    corpora = list(cfg.vocab["corpora"])
    params = {"source": base["init_encoder"], "head_init": base["head_init"], "corpora": corpora,
              "exclude_eval_docs": base.get("exclude_eval_docs", []), "allow_eval_docs": base.get("allow_eval_docs"),
              "align_steps": base["align_steps"], "align_lr": base["align_lr"], **training(cfg)}
    inputs = corpus_inputs([*corpora, *params["exclude_eval_docs"]], collection_fp)
    return Stage("start", "start", params, (vocab,), inputs)


def finetune_stage(cfg, system: str, seed: int, init: Stage | None, fp: dict) -> Stage:
    params = {"recipe": cfg.finetune, "init": "pretrained" if init else "splade-tiny", "seed": seed, **training(cfg)}
    return Stage("finetune", f"{system}.s{seed}", params, (init,) if init else (), dict(fp), system=system, seed=seed)


def downstream(cfg, stages: list[Stage], system: str, seed, source: Stage | None, fp: dict,
                checkpoint: str | None = None) -> None:
    """flow, evaluate and cost per level after ``source`` (a fine-tuning stage, or a named checkpoint)."""
    ev = cfg.evaluation
    if source is not None:
        stages.append(source)
    suffix = f".s{seed}" if seed is not None else ""
    params = flow_params(cfg, list(ev.levels), checkpoint)
    flow = Stage("flow", system + suffix, params, (source,) if source else (), dict(fp), system=system, seed=seed)
    stages.append(flow)
    stages.append(evaluate_stage(cfg, system, seed, flow, fp))
    for level in ev.levels:
        cost = {"level": level, "hits": ev.hits, "passes": ev.latency_passes, "warmup": ev.latency_warmup}
        stages.append(Stage("cost", f"{system}{suffix}.{level}", cost, (flow,), system=system, seed=seed, level=level))


def flow_params(cfg, levels: list[str], checkpoint: str | None = None) -> dict:
    ev = cfg.evaluation
    return {"levels": levels, "max_length": ev.max_length, "scale": ev.scale, "hits": ev.hits, "split": cfg.split,
            "checkpoint": checkpoint, **training(cfg)}


def parity_stages(cfg, stages: list[Stage], fp: dict) -> None:
    """The parity check (:mod:`.stages.parity`) after the reference systems it reads: the no-MLM
    start (its first seed's pre-training stage) searched zero-shot at the unpruned level, and
    the evaluations of ``esplade-no-mlm`` and SPLADE-tiny. Nothing when those are not planned."""
    from esplade_eval.study.stages.parity import NO_MLM, START, TINY_FT, TINY_ZS

    if not cfg.parity.get("enabled", True):
        return
    evals = [s for s in stages if s.kind == "evaluate" and s.system in (NO_MLM, TINY_FT, TINY_ZS)]
    starts = [s for s in stages if s.kind == "pretrain" and s.system == NO_MLM]
    if not starts or not any(s.system == TINY_FT for s in evals):
        return
    pt, level = starts[0], cfg.evaluation.unpruned
    flow = Stage("flow", f"{START}.s{pt.seed}", flow_params(cfg, [level]), (pt,), dict(fp), system=START, seed=pt.seed)
    zero_shot = evaluate_stage(cfg, START, pt.seed, flow, fp)
    params = {"tolerance": cfg.parity["tolerance"], "measure": cfg.parity["measure"], "level": level}
    stages += [flow, zero_shot, Stage("parity", "parity", params, (pt, zero_shot, *evals))]


def evaluate_stage(cfg, system: str, seed, source: Stage, fp: dict) -> Stage:
    suffix = f".s{seed}" if seed is not None else ""
    params = {"measures": list(cfg.evaluation.measures), "split": cfg.split}
    return Stage("evaluate", system + suffix, params, (source,), dict(fp), system=system, seed=seed)
