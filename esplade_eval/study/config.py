"""The study as data: one TOML (or JSON) file, validated up front.

A config names the collection, the pre-training base settings and a **grid** (a list of
values per axis: ``corpus``, ``lr``, ``repeats`` or any other pre-training field) and/or
explicit ``[[arms]]``, the **seeds** (every arm is trained once per seed), one shared
fine-tuning recipe, the reference systems, the pruning levels (which one is the strictest
is stated), the measures and the findings' settings. ``configs/smoke.toml`` is a small,
complete example; every key is described in the README's study section.

Every problem is reported at once, one line each, as ``file: key: problem``
(``configs/x.toml: grid.lr[1]: expected a number, got 'fast'``), before any work starts:
unknown keys (with the closest known one), wrong types, a fixed ``steps`` combined with
``repeats != 1`` (the repeats would silently train the same budget), duplicate arm names,
levels that do not parse, a strictest level that is not among the levels.

>>> cfg = load_config("configs/smoke.toml")              # doctest: +SKIP
>>> [arm.name for arm in cfg.arms]                       # doctest: +SKIP
['general-lr1e-3-r1', 'titles-lr1e-3-r1', 'general-lr1e-3-r2']
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esplade_eval.errors import EspladeError
from esplade_eval.study import checks, schema
from esplade_eval.study.expand import Arm, check_alignment, expand_arms
from esplade_eval.study.schema import Evaluation
from esplade_eval.study.stages import parity as parity_stage
from esplade_eval.study.systems import DEFAULTS, REFERENCES


class ConfigError(EspladeError):
    """Every problem of a config, one ``file: key: problem`` line each."""

    def __init__(self, path, problems: list[tuple[str, str]]):
        self.problems = problems
        self.path = os.fspath(path)
        super().__init__("\n".join(f"{self.path}: {key}: {problem}" for key, problem in problems))


@dataclass(frozen=True)
class StudyConfig:
    """A validated study config (see the module docstring)."""

    path: Path
    name: str
    description: str
    work: Path
    results: Path
    threads: int
    device: str | None
    seeds: tuple[int, ...]
    split: str
    collection: dict
    vocab: dict
    pretrain: dict
    arms: tuple[Arm, ...]
    finetune: dict
    references: dict
    evaluation: Evaluation
    findings: dict
    tuning: dict | None
    jobs: int = 1  # stages run at once (worker processes); no part of any stage's key
    parity: dict = field(default_factory=lambda: {"enabled": True, "tolerance": 0.02, "measure": "nDCG@10"})
    raw: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def reference_names(self) -> dict[str, str]:
        """``{system name: description}`` of the enabled reference systems."""
        return {REFERENCES[k][0]: REFERENCES[k][1] for k, on in self.references.items() if on}

    def arm(self, name: str) -> Arm:
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise KeyError(name)


def read_raw(path: str | os.PathLike) -> dict:
    """The config file as a dict; a syntax error names the file and line."""
    from esplade_eval.errors import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "config file not found")
    try:
        if path.suffix == ".json":
            return json.loads(path.read_text(encoding="utf-8"))
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's message ends with "(at line L, column C)"
        found = re.search(r"\s*\(at line (\d+), column \d+\)$", str(exc))
        message = str(exc)[:found.start()] if found else str(exc)
        raise InputError(path, f"not valid TOML: {message}", line=int(found.group(1)) if found else None) from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None


def load_config(path: str | os.PathLike, work: str | os.PathLike | None = None,
                results: str | os.PathLike | None = None) -> StudyConfig:
    """Read and validate ``path``; ``work`` / ``results`` override the config's folders.

    Raises :class:`ConfigError` listing every problem found.
    """
    raw = read_raw(path)
    problems = checks.Problems()
    cfg = _build(Path(path), raw, problems, work, results)
    if problems:
        raise ConfigError(path, problems.items)
    return cfg


def _build(path: Path, raw: dict, problems: checks.Problems, work, results) -> StudyConfig | None:
    problems.unknown(raw, schema.TOP_LEVEL, "")
    name = checks.get(raw, "name", str, problems, default=path.stem)
    if not checks.valid_name(name):
        problems.add("name", f"{name!r} is not a folder-safe name (letters, digits, '.', '_', '+', '-')")
    seeds = schema.seeds(raw, problems)
    threads = checks.get(raw, "threads", int, problems, default=os.cpu_count() or 1, minimum=1)
    jobs = checks.get(raw, "jobs", int, problems, default=1, minimum=1)
    device = checks.get(raw, "device", str, problems, default=None)
    split = checks.get(raw, "split", str, problems, default="test")
    collection = schema.collection(raw.get("collection", {}), problems, base=path.parent)
    pretrain = schema.pretrain_base(raw.get("pretrain", {}), problems)
    check_alignment(pretrain, problems)
    arms = expand_arms(raw, pretrain, problems)
    vocab = schema.vocab(raw.get("vocab", {}), arms, problems)
    finetune = schema.finetune(raw.get("finetune", {}), "finetune", problems)
    references = schema.references(raw.get("references", {}), problems, DEFAULTS)
    evaluation = schema.evaluation(raw.get("evaluation", {}), problems)
    findings = schema.findings(raw.get("findings", {}), evaluation, problems)
    tuning = schema.tuning(raw.get("tuning"), finetune, arms, references, problems)
    parity = parity_stage.config_table(raw.get("parity", {}), evaluation, problems)
    _check_names(arms, references, problems)
    if problems:
        return None
    return StudyConfig(
        path=path, name=name, description=checks.get(raw, "description", str, problems, default=""),
        work=Path(work or raw.get("work") or Path("artifacts") / "study" / name),
        results=Path(results or raw.get("results") or Path("results") / name),
        threads=threads, device=device, seeds=tuple(seeds), split=split, collection=collection, vocab=vocab,
        pretrain=pretrain, arms=tuple(arms), finetune=finetune, references=references, evaluation=evaluation,
        findings=findings, tuning=tuning, jobs=jobs, parity=parity, raw=raw)


def _check_names(arms: list[Arm], references: dict, problems: checks.Problems) -> None:
    reserved = {REFERENCES[k][0]: f"references.{k}" for k in REFERENCES}
    for arm in arms:
        if arm.name in reserved:
            problems.add(f"{arm.origin}.name", f"{arm.name!r} is the name of a reference system ({reserved[arm.name]})")


def describe(cfg: StudyConfig) -> dict[str, Any]:
    """A JSON-able echo of the validated config (recorded with the results)."""
    return {
        "config": str(cfg.path), "name": cfg.name, "description": cfg.description, "seeds": list(cfg.seeds),
        "threads": cfg.threads, "jobs": cfg.jobs, "device": cfg.device, "split": cfg.split, "collection": cfg.collection,
        "vocab": cfg.vocab, "pretrain_base": cfg.pretrain,
        "arms": [{"name": a.name, "axes": a.axes, "pretrain": a.pretrain, "origin": a.origin, "vocab": a.vocab}
                 for a in cfg.arms],
        "finetune": cfg.finetune, "references": cfg.reference_names,
        "evaluation": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.evaluation.__dict__.items()},
        "findings": cfg.findings, "parity": cfg.parity,
    }
