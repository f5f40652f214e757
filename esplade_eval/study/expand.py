"""Grid expansion: ``[grid]`` axes x values, plus explicit ``[[arms]]``, into named arms.

The grid is the product of its axes, in the order corpus, lr, repeats, then the other
axes as written. An arm's name reads its settings: the corpus, ``lr<value>``,
``r<repeats>``, then every other axis of the grid (or key of an explicit arm) as
``<key><value>`` (``general-lr1e-3-r3``, ``titles-lr1e-4-r1-init_encodernone``); an
explicit arm may set ``name`` itself. Names must be unique.

**Output vocabulary.** ``[grid] vocab = ["expanded", "wordpiece"]`` runs every arm (grid
and explicit) with both: the ESPLADE arm (``expanded``, the study's output vocabulary)
keeps its name, its WordPiece twin (plain SPLADE: SPLADE-tiny's own head, the same corpus,
lr, repeats, budget and seed) gets the suffix ``-wp`` (``general-lr1e-3-r1-wp``). An
explicit arm's own ``vocab`` (a kind or a list) overrides the grid's. Without it every arm
is ``expanded``. :attr:`Arm.vocab` says which; the findings judge the expanded arms only.

A fixed ``steps`` with ``repeats != 1`` is an error: steps would fix the budget and the
repeats would change nothing but the record. Express the budget in passes (``epochs``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from esplade_eval.study import checks, schema

FIRST_AXES = ("corpus", "lr", "repeats")
#: the kinds of output vocabulary an arm can have (``[grid] vocab``), and the name suffix of each
VOCAB_SUFFIX = {"expanded": "", "wordpiece": "-wp"}


@dataclass(frozen=True)
class Arm:
    """One pre-training arm: its name, the pre-training settings, what defines it."""

    name: str
    pretrain: dict = field(hash=False)  # PretrainConfig keyword arguments (``corpora`` a list)
    axes: dict = field(hash=False)  # {"corpus": "general", "lr": 0.001, "repeats": 3, ...}
    origin: str = "grid"  # the config key that made it ("grid" or "arms[2]")
    vocab: str = "expanded"  # "expanded" (ESPLADE) or "wordpiece" (its plain SPLADE twin)

    @property
    def corpora(self) -> list[str]:
        return list(self.pretrain["corpora"])

    @property
    def corpus_label(self) -> str:
        return checks.format_value(self.axes["corpus"])


def pretrain_defaults() -> dict:
    """PretrainConfig's defaults for the keys a config may set; evaluation documents default
    to the study's collection (``"collection"``) rather than the bundled Semanlink titles."""
    from dataclasses import MISSING, fields

    from esplade_eval.train.pretrain import PretrainConfig

    out = {"exclude_eval_docs": [schema.EVAL_COLLECTION]}  # the study's collection, whatever it is
    for f in fields(PretrainConfig):
        if f.name in out:
            continue
        if f.name in schema.PRETRAIN_RESERVED:
            continue
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


def expand_arms(raw: dict, base: dict, problems: checks.Problems) -> list[Arm]:
    """Every arm of the config (grid first, then explicit arms), checked."""
    grid = raw.get("grid", {})
    explicit = raw.get("arms", [])
    if not isinstance(grid, dict):
        problems.add("grid", f"expected a table of axes ([grid]), got {grid!r}")
        grid = {}
    if not isinstance(explicit, list) or not all(isinstance(a, dict) for a in explicit):
        problems.add("arms", "expected a list of tables ([[arms]])")
        explicit = []
    kinds = vocab_kinds(grid.get("vocab", ["expanded"]), "grid.vocab", problems)
    grid = {k: v for k, v in grid.items() if k != "vocab"}
    if not grid and not explicit:
        problems.add("grid", "no arms: give a [grid] of pre-training axes and/or [[arms]]")
        return []
    arms = [twin for arm in _grid_arms(grid, base, problems) for twin in with_vocab(arm, kinds)]
    arms += _explicit_arms(explicit, base, kinds, problems)
    _token_budgets(arms)
    seen: dict[str, str] = {}
    for arm in arms:
        if arm.name in seen:
            problems.add(arm.origin, f"arm name {arm.name!r} is already used by {seen[arm.name]}")
        seen.setdefault(arm.name, arm.origin)
    return arms


def vocab_kinds(value, where: str, problems: checks.Problems) -> list[str]:
    """The output-vocabulary kinds of ``[grid] vocab`` or an arm's ``vocab`` (a kind or a list)."""
    items = value if isinstance(value, list) else [value]
    bad = [v for v in items if v not in VOCAB_SUFFIX]
    if not items or bad or len(set(items)) != len(items):
        problems.add(where, f"expected a list of distinct kinds among {', '.join(map(repr, VOCAB_SUFFIX))}, "
                            f"got {value!r}")
        return ["expanded"]
    return list(items)


def with_vocab(arm: Arm, kinds: list[str]) -> list[Arm]:
    """``arm`` once per output-vocabulary kind: the expanded arm as is (its settings, and so its
    stages' keys, unchanged), the WordPiece twin ``-wp`` with ``output_vocab = "wordpiece"``."""
    return [arm if kind == "expanded" else
            Arm(name=arm.name + VOCAB_SUFFIX[kind], pretrain={**arm.pretrain, "output_vocab": kind},
                axes=dict(arm.axes), origin=arm.origin, vocab=kind) for kind in kinds]


def _grid_axes(grid: dict, problems: checks.Problems) -> dict[str, list]:
    known = schema.pretrain_fields()
    problems.unknown(grid, known, "grid", schema.PRETRAIN_RESERVED)
    axes = {}
    for key in sorted(grid, key=lambda k: (FIRST_AXES.index(k) if k in FIRST_AXES else len(FIRST_AXES))):
        values = grid[key]
        if key not in known:
            continue
        if not isinstance(values, list) or not values:
            problems.add(f"grid.{key}", f"expected a non-empty list of values (one arm per value), got {values!r}")
            continue
        checked = []
        for i, value in enumerate(values):
            where = f"grid.{key}[{i}]"
            v = schema.check_corpus(value, where, problems) if key == "corpus" else \
                checks.typed(value, known[key], where, problems)
            checked.append(v)
        if len({repr(v) for v in checked}) != len(checked):
            problems.add(f"grid.{key}", f"values repeat: {values!r}")
        axes[key] = checked
    return axes


def _grid_arms(grid: dict, base: dict, problems: checks.Problems) -> list[Arm]:
    if not grid:
        return []
    axes = _grid_axes(grid, problems)
    arms = []
    for combo in itertools.product(*(range(len(v)) for v in axes.values())):
        chosen = {key: axes[key][i] for key, i in zip(axes, combo)}
        sources = {key: f"grid.{key}[{i}]" for key, i in zip(axes, combo)}
        arm = _arm(chosen, base, sources, list(axes), "grid", None, problems)
        if arm is not None:
            arms.append(arm)
    return arms


def _explicit_arms(explicit: list[dict], base: dict, kinds: list[str], problems: checks.Problems) -> list[Arm]:
    arms = []
    for i, tbl in enumerate(explicit):
        prefix = f"arms[{i}]"
        chosen = schema.pretrain_settings(tbl, prefix, problems, allowed=("name", "vocab"))
        name = tbl.get("name")
        if name is not None and not checks.valid_name(name):
            problems.add(f"{prefix}.name", f"{name!r} is not a folder-safe name (letters, digits, '.', '_', '+', '-')")
            name = None
        sources = {key: f"{prefix}.{key}" for key in chosen}
        arm = _arm(chosen, base, sources, list(chosen), prefix, name, problems)
        if arm is not None:
            own = tbl.get("vocab")
            arms += with_vocab(arm, kinds if own is None else vocab_kinds(own, f"{prefix}.vocab", problems))
    return arms


def check_alignment(base: dict, problems: checks.Problems) -> None:
    """``[pretrain] align_steps`` needs a WordPiece ``init_encoder`` to map and align to."""
    if base.get("align_steps") and base.get("init_encoder") in (None, "none", ""):
        problems.add("pretrain.align_steps", "alignment needs init_encoder, the WordPiece checkpoint to map and "
                     "align to (the arms start from random weights)")


def _arm(chosen: dict, base: dict, sources: dict, named_keys: list[str], origin: str, name: str | None,
         problems: checks.Problems) -> Arm | None:
    settings = {**pretrain_defaults(), **base, **chosen}
    if any(v is checks._MISSING for v in settings.values()):
        return None
    if "corpus" not in settings:
        problems.add(f"{origin}.corpus" if origin != "grid" else "grid.corpus",
                     "no corpus: give one per arm, as a grid axis, or in [pretrain]")
        return None
    if settings.get("steps") is not None and settings.get("repeats", 1) != 1:
        where = sources.get("repeats", "pretrain.repeats")
        steps_at = sources.get("steps", "pretrain.steps")
        problems.add(where, f"repeats = {settings['repeats']} with a fixed {steps_at} = {settings['steps']} would "
                            "train the same budget as repeats = 1: express the budget in passes (epochs) instead")
    _check_budget(settings, sources, problems)
    if settings.get("align_steps") and "init_encoder" in chosen and not settings.get("init_encoder"):
        problems.add(sources.get("init_encoder", f"{origin}.init_encoder"), "a random start with [pretrain] "
                     "align_steps: alignment needs a WordPiece checkpoint to map and align to (set align_steps = 0)")
    axes = {"corpus": settings["corpus"], "lr": settings["lr"], "repeats": settings["repeats"]}
    axes.update({k: settings[k] for k in named_keys if k not in axes})
    name = name or _name(axes)
    corpus = settings.pop("corpus")
    settings["corpora"] = corpus if isinstance(corpus, list) else [corpus]
    return Arm(name=name, pretrain=settings, axes=axes, origin=origin)


def _name(axes: dict) -> str:
    """``general-lr1e-3-r3``: corpus, lr, repeats, then ``<key><value>`` for other axes.

    >>> _name({"corpus": ["general", "titles"], "lr": 0.0005, "repeats": 1, "epochs": 2.0})
    'general+titles-lr5e-4-r1-epochs2'
    """
    parts = [checks.format_value(axes["corpus"]), f"lr{checks.format_value(axes['lr'])}",
             f"r{checks.format_value(axes['repeats'])}"]
    parts += [f"{key}{checks.format_value(value)}" for key, value in axes.items() if key not in FIRST_AXES]
    return "-".join(parts)


def _check_budget(settings: dict, sources: dict, problems: checks.Problems) -> None:
    from esplade_eval.train.budget import BUDGETS

    where = sources.get("budget", "pretrain.budget")
    if settings.get("budget", "passes") not in BUDGETS:
        problems.add(where, f"{settings['budget']!r}: expected one of {', '.join(map(repr, BUDGETS))}")
    elif settings.get("budget") == "tokens" and settings.get("steps") is not None:
        problems.add(where, f"budget = \"tokens\" with a fixed steps = {settings['steps']}: the steps would "
                            "override the token budget; drop steps")


def _token_budgets(arms: list[Arm]) -> None:
    """``budget = "tokens"``: every such arm compares its corpora with every arm's (the smallest is a repeat)."""
    every = [list(c) for c in dict.fromkeys(tuple(a.corpora) for a in arms)]
    for arm in arms:
        if arm.pretrain.get("budget") == "tokens":
            arm.pretrain["budget_corpora"] = every
