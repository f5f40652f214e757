"""The study config's keys, types and checks; every problem is collected, none raised here.

Pre-training and fine-tuning keys are the fields of
:class:`~esplade_eval.train.pretrain.PretrainConfig` and
:class:`~esplade_eval.train.finetune.FinetuneConfig` (read from the dataclasses, so a new
training option is a valid key at once), minus those the study sets itself (seeds,
threads, the vocabulary, the collection). TOML has no null: for a field that may be
unset, the string ``"none"`` unsets it (``init_encoder = "none"``: start from random).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from esplade_eval.data.corpora import ARMS, BUNDLED
from esplade_eval.study.checks import (
    _MISSING,
    Problems,
    conforms,
    dataclass_hints,
    format_value,
    get,
    join,
    typed,
    valid_name,
)
from esplade_eval.study.stages.base import EVAL_COLLECTION

TOP_LEVEL = ("name", "description", "work", "results", "threads", "jobs", "device", "seeds", "split", "collection",
             "vocab", "pretrain", "grid", "arms", "finetune", "references", "evaluation", "findings", "tuning",
             "parity")
#: the bundled corpora: the two arms (``general``, ``titles``) and their parts (esplade_eval.data.corpora)
BUNDLED_CORPORA = (*ARMS, *BUNDLED)
MLM_SETS = tuple(ARMS)  # held-out MLM accuracy is reported per arm

#: pre-training fields the study sets itself, and where the user says what they want instead
PRETRAIN_RESERVED = {
    "corpora": "give the corpus as 'corpus' (a grid axis or an arm's key)",
    "vocab": "the study builds one output vocabulary for every arm: see [vocab]",
    "vocab_size": "the study builds one output vocabulary for every arm: set [vocab] size",
    "vocab_min_count": "the study builds one output vocabulary for every arm: set [vocab] min_count",
    "seed": "seeds are the top-level 'seeds' list",
    "threads": "set the top-level 'threads'",
    "device": "set the top-level 'device'",
    "progress": "the study shows one progress bar over its stages",
    "output_vocab": "give the kinds of output vocabulary as [grid] vocab = [\"expanded\", \"wordpiece\"] (or an arm's vocab)",
    "budget_corpora": "with budget = \"tokens\" the study compares every arm's corpora",
}
FINETUNE_RESERVED = {
    "init": "each system's starting checkpoint is set by the study",
    "preset": "each system's starting checkpoint is set by the study",
    "vocab": "each system's starting checkpoint is set by the study",
    "train": "the study fine-tunes on the collection's train split",
    "collection": "set [collection]",
    "seed": "seeds are the top-level 'seeds' list",
    "threads": "set the top-level 'threads'",
    "device": "set the top-level 'device'",
    "progress": "the study shows one progress bar over its stages",
}



#: how the findings' seed-aware tests treat seed ``i`` of two arms (esplade_eval.evaluate.seeds):
#: "independent" (each arm's seed variance its own; arms share no randomness) or "paired"
SEED_DESIGN = "independent"

#: the findings' settings and their defaults (``[findings.<name>]`` overrides them)
DEFAULTS = {
    "general_high_lr": {"enabled": True, "corpus": "general", "measure": "nDCG@10", "mlm_set": "titles",
                        "focal": None},
    "cost": {"enabled": True, "measure": "nDCG@10"},
    "repeats": {"enabled": True, "corpus": "general", "measure": "nDCG@10", "margin": 0.02},
}


@dataclass(frozen=True)
class Evaluation:
    """Pruning levels, measures and search/cost settings shared by every system."""

    levels: tuple[str, ...]
    strictest: str
    unpruned: str
    measures: tuple[str, ...]
    max_length: int = 64
    hits: int = 1000
    scale: float = 100.0
    latency_passes: int = 3
    latency_warmup: int = 1


def pretrain_fields() -> dict[str, Any]:
    """Settable pre-training keys: ``{key: type}`` (``corpus`` included)."""
    from esplade_eval.train.pretrain import PretrainConfig

    hints = {k: v for k, v in dataclass_hints(PretrainConfig).items() if k not in PRETRAIN_RESERVED}
    return {"corpus": str | list[str], **hints}


def finetune_fields() -> dict[str, Any]:
    from esplade_eval.train.finetune import FinetuneConfig

    return {k: v for k, v in dataclass_hints(FinetuneConfig).items() if k not in FINETUNE_RESERVED}


# --- sections ---------------------------------------------------------------------------

def seeds(raw: dict, problems: Problems) -> list[int]:
    value = raw.get("seeds", [0])
    if not isinstance(value, list) or not value or not all(conforms(s, int) and s >= 0 for s in value):
        problems.add("seeds", f"expected a non-empty list of non-negative integers, got {value!r}")
        return [0]
    if len(set(value)) != len(value):
        problems.add("seeds", f"seeds repeat: {value}")
    return list(value)


def check_corpus(value, key: str, problems: Problems):
    """A corpus: a bundled name or an existing text file, or a non-empty list of those."""
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) and v for v in items):
        problems.add(key, f"expected a corpus name or file, or a list of them, got {value!r}")
        return _MISSING
    for i, item in enumerate(items):
        if item not in BUNDLED_CORPORA and not os.path.isfile(item):
            where = join(key, i) if isinstance(value, list) else key
            problems.add(where, f"{item!r}: neither a bundled corpus ({', '.join(BUNDLED_CORPORA)}) nor a file")
    return value


def _check_sources(values: list[str], key: str, problems: Problems) -> None:
    """Evaluation-document sources: a bundled corpus, a text or JSONL file, or a collection folder."""
    for i, value in enumerate(values):
        if value == EVAL_COLLECTION:
            continue
        if value not in BUNDLED_CORPORA and not os.path.isfile(value) and \
                not os.path.isfile(os.path.join(value, "corpus.jsonl")):
            problems.add(join(key, i), f"{value!r}: neither a bundled corpus, a file, nor a folder with corpus.jsonl")


def pretrain_settings(tbl: dict, prefix: str, problems: Problems, allowed=None) -> dict:
    """Checked pre-training keys of one table (the base, or an arm)."""
    known = pretrain_fields()
    allowed = set(known) | set(allowed or ())
    problems.unknown(tbl, allowed, prefix, {k: v for k, v in PRETRAIN_RESERVED.items() if k not in allowed})
    out = {}
    for key, value in tbl.items():
        if key not in known:
            continue
        where = join(prefix, key)
        checked = check_corpus(value, where, problems) if key == "corpus" else typed(value, known[key], where, problems)
        if key == "exclude_eval_docs" and checked is not _MISSING:
            _check_sources(checked, where, problems)
        if key in ("align_steps", "align_lr") and isinstance(checked, (int, float)) and (
                checked < 0 if key == "align_steps" else not checked > 0):
            problems.add(where, f"must be {'>= 0' if key == 'align_steps' else '> 0'}, got {checked!r}")
        if checked is not _MISSING:
            out[key] = checked
    return out


def pretrain_base(tbl, problems: Problems) -> dict:
    if not isinstance(tbl, dict):
        problems.add("pretrain", f"expected a table, got {tbl!r}")
        return {}
    return pretrain_settings(tbl, "pretrain", problems)


def finetune(tbl, prefix: str, problems: Problems, extra=()) -> dict:
    if not isinstance(tbl, dict):
        problems.add(prefix, f"expected a table, got {tbl!r}")
        return {}
    known = finetune_fields()
    problems.unknown(tbl, set(known) | set(extra), prefix, FINETUNE_RESERVED)
    out = {}
    for key, value in tbl.items():
        if key in known:
            checked = typed(value, known[key], join(prefix, key), problems)
            if checked is not _MISSING:
                out[key] = checked
    return out


COLLECTION_KEYS = ("name", "root", "documents", "description", "corpus", "topics", "qrels")


def collection(tbl, problems: Problems, base=None) -> dict:
    """``[collection]``: a registry name, a registry ``.toml`` or a folder (``name``), or the
    files themselves (``corpus``, ``topics``, ``qrels``, as a registry entry; relative paths
    from the config's folder); ``root`` is where it is prepared, ``documents`` keeps the first N."""
    if isinstance(tbl, str):
        tbl = {"name": tbl}
    if not isinstance(tbl, dict):
        problems.add("collection", f"expected a name or a table, got {tbl!r}")
        return {"name": "semanlink", "spec": "semanlink"}
    problems.unknown(tbl, COLLECTION_KEYS, "collection")
    name = get(tbl, "name", str, problems, "collection", default="semanlink")
    files = {k: tbl[k] for k in ("corpus", "topics", "qrels", "description") if k in tbl}
    spec = {"name": name, **files} if "corpus" in files else name
    out = {"name": name, "spec": spec, "base": str(base or "."), "root": get(tbl, "root", str, problems, "collection"),
           "documents": get(tbl, "documents", int, problems, "collection", minimum=2)}
    _check_collection(spec, out["base"], problems)
    return out


def _check_collection(spec, base: str, problems: Problems) -> None:
    """The spec resolves (a registry name, a .toml, a folder, or well-formed files); nothing is read yet."""
    from esplade_eval.data.collection import resolve_spec
    from esplade_eval.errors import EspladeError

    try:
        found = resolve_spec(spec, base=base)
    except EspladeError as exc:
        problems.add("collection", str(exc))
        return
    if getattr(found, "builtin", None) is None and hasattr(found, "files"):
        for key, path in found.files().items():
            if not path.is_file():
                problems.add(f"collection.{key}", f"{path}: file not found")


def vocab(tbl, arms, problems: Problems) -> dict:
    if not isinstance(tbl, dict):
        problems.add("vocab", f"expected a table, got {tbl!r}")
        tbl = {}
    problems.unknown(tbl, ("corpora", "size", "min_count", "sources"), "vocab")
    default = list(dict.fromkeys(c for arm in arms for c in arm.corpora))
    corpora = tbl.get("corpora", default)
    if "corpora" in tbl:
        corpora = check_corpus(corpora, "vocab.corpora", problems)
        corpora = corpora if isinstance(corpora, list) else [corpora] if corpora is not _MISSING else default
    return {"corpora": corpora, "size": get(tbl, "size", int, problems, "vocab", default=10000, minimum=1),
            "min_count": get(tbl, "min_count", int, problems, "vocab", default=2, minimum=1),
            "sources": vocab_sources(tbl.get("sources", ["corpora"]), problems)}


def vocab_sources(value, problems: Problems) -> list[str]:
    """``[vocab] sources``: ``"corpora"`` (the arms' or ``[vocab] corpora``) and/or ``"collection"``
    (the study collection's unlabelled document text)."""
    from esplade_eval.study.stages.vocab import SOURCES

    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        problems.add("vocab.sources", f"expected a non-empty list of {', '.join(map(repr, SOURCES))}, got {value!r}")
        return ["corpora"]
    for i, v in enumerate(value):
        if v not in SOURCES:
            problems.add(join("vocab.sources", i), f"{v!r}: expected one of {', '.join(map(repr, SOURCES))}")
    if len(set(value)) != len(value):
        problems.add("vocab.sources", f"sources repeat: {value}")
    return list(value)


def references(tbl, problems: Problems, defaults: dict[str, bool]) -> dict:
    """``{key: on}`` of the ``[references]`` table; ``defaults`` is the registry's
    (:data:`esplade_eval.study.systems.DEFAULTS`)."""
    if not isinstance(tbl, dict):
        problems.add("references", f"expected a table, got {tbl!r}")
        tbl = {}
    problems.unknown(tbl, defaults, "references")
    return {key: get(tbl, key, bool, problems, "references", default=on) for key, on in defaults.items()}


def evaluation(tbl, problems: Problems) -> Evaluation:
    if not isinstance(tbl, dict):
        problems.add("evaluation", f"expected a table, got {tbl!r}")
        tbl = {}
    known = ("levels", "strictest", "unpruned", "measures", "max_length", "hits", "scale", "latency_passes",
             "latency_warmup")
    problems.unknown(tbl, known, "evaluation")
    levels = _levels(tbl, problems)
    strictest = _level_key(tbl, "strictest", levels, problems, default=levels[-1] if len(levels) == 1 else None)
    unpruned = _level_key(tbl, "unpruned", levels, problems, default="full")
    measures = _measures(tbl, problems)
    g = lambda k, h, d, m: get(tbl, k, h, problems, "evaluation", default=d, minimum=m)  # noqa: E731
    return Evaluation(levels=tuple(levels), strictest=strictest, unpruned=unpruned, measures=tuple(measures),
                      max_length=g("max_length", int, 64, 1), hits=g("hits", int, 1000, 1),
                      scale=g("scale", float, 100.0, 1e-9), latency_passes=g("latency_passes", int, 3, 1),
                      latency_warmup=g("latency_warmup", int, 1, 0))


def _levels(tbl: dict, problems: Problems) -> list[str]:
    from esplade_eval.sparse.prune import Pruning

    value = tbl.get("levels", ["full", "d32-q16", "d8-q4"])
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        problems.add("evaluation.levels", f"expected a non-empty list of pruning levels, got {value!r}")
        return ["full"]
    names = []
    for i, text in enumerate(value):
        try:
            names.append(Pruning.parse(text).name)
        except ValueError as exc:
            problems.add(f"evaluation.levels[{i}]", str(exc))
    if len(set(names)) != len(names):
        problems.add("evaluation.levels", f"levels repeat: {names}")
    return names or ["full"]


def _level_key(tbl: dict, key: str, levels: list[str], problems: Problems, default):
    from esplade_eval.sparse.prune import Pruning

    if key not in tbl:
        if default is None or default not in levels:
            problems.add(f"evaluation.{key}", f"required: which of {levels} is the {key} level")
        return default
    value = tbl[key]
    try:
        name = Pruning.parse(value).name if isinstance(value, str) else None
    except ValueError:
        name = None
    if name not in levels:
        problems.add(f"evaluation.{key}", f"{value!r} is not one of the levels {levels}")
    return name


def _measures(tbl: dict, problems: Problems) -> list[str]:
    from esplade_eval.errors import EspladeError
    from esplade_eval.evaluate.metrics import parse_measures

    value = tbl.get("measures", ["nDCG@10", "R@100", "RR@10"])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add("evaluation.measures", f"expected a list of ir_measures strings, got {value!r}")
        return ["nDCG@10"]
    try:
        return [str(m) for m in parse_measures(value)]
    except EspladeError as exc:
        problems.add("evaluation.measures", str(exc))
        return ["nDCG@10"]


def findings(tbl, ev, problems: Problems) -> dict:
    if not isinstance(tbl, dict):
        problems.add("findings", f"expected a table, got {tbl!r}")
        tbl = {}
    problems.unknown(tbl, ("alpha", "seeds", *DEFAULTS), "findings")
    alpha = get(tbl, "alpha", float, problems, "findings", default=0.05)
    if not 0 < alpha < 1:
        problems.add("findings.alpha", f"must be in (0, 1), got {alpha}")
    seeds = get(tbl, "seeds", str, problems, "findings", default=SEED_DESIGN)
    if seeds not in ("paired", "independent"):
        problems.add("findings.seeds", f"expected 'paired' or 'independent', got {seeds!r}")
    out = {"alpha": alpha, "seeds": seeds}
    for name, defaults in DEFAULTS.items():
        sub = tbl.get(name, {})
        prefix = f"findings.{name}"
        if not isinstance(sub, dict):
            problems.add(prefix, f"expected a table, got {sub!r}")
            sub = {}
        problems.unknown(sub, defaults, prefix)
        out[name] = {k: get(sub, k, type(d) if d is not None else str, problems, prefix, default=d)
                     for k, d in defaults.items()}
        if out[name].get("measure") not in ev.measures:
            problems.add(f"{prefix}.measure", f"{out[name].get('measure')!r} is not one of the evaluation measures "
                                              f"{list(ev.measures)}")
    if out["general_high_lr"]["mlm_set"] not in MLM_SETS:
        problems.add("findings.general_high_lr.mlm_set", f"expected one of {MLM_SETS}")
    if not out["repeats"]["margin"] > 0:
        problems.add("findings.repeats.margin", "must be > 0")
    return out


def tuning(tbl, recipe: dict, arms, refs: dict, problems: Problems) -> dict | None:
    """``[tuning]``: candidate fine-tuning recipes scored on the dev split."""
    if tbl is None:
        return None
    if not isinstance(tbl, dict):
        problems.add("tuning", f"expected a table, got {tbl!r}")
        return None
    problems.unknown(tbl, ("system", "seeds", "candidates"), "tuning")
    system = get(tbl, "system", str, problems, "tuning", default="esplade-no-mlm")
    choices = ["esplade-no-mlm", "splade-tiny-ft", *(a.name for a in arms)]
    if system not in choices:
        problems.add("tuning.system", f"{system!r} is not one of {choices}")
    cands = tbl.get("candidates", [])
    if not isinstance(cands, list) or not cands or not all(isinstance(c, dict) for c in cands):
        problems.add("tuning.candidates", "expected a non-empty list of tables ([[tuning.candidates]])")
        cands = []
    out = []
    for i, cand in enumerate(cands):
        overrides = finetune(cand, f"tuning.candidates[{i}]", problems, extra=("name",))
        name = cand.get("name") or _candidate_name(overrides)
        if not valid_name(name):
            problems.add(f"tuning.candidates[{i}].name", f"{name!r} is not a folder-safe name")
        out.append({"name": name, "overrides": overrides, "recipe": {**recipe, **overrides}})
    names = [c["name"] for c in out]
    if len(set(names)) != len(names):
        problems.add("tuning.candidates", f"candidate names repeat: {names}")
    seeds_ = tbl.get("seeds", [0])
    if not isinstance(seeds_, list) or not seeds_ or not all(conforms(s, int) for s in seeds_):
        problems.add("tuning.seeds", f"expected a non-empty list of integers, got {seeds_!r}")
        seeds_ = [0]
    return {"system": system, "seeds": seeds_, "candidates": out}


def _candidate_name(overrides: dict) -> str:
    return "-".join(f"{k}{format_value(v)}" for k, v in overrides.items()) or "base"

