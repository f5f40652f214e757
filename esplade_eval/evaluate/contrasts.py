"""Factorial contrasts over arms x seeds x queries, each with the seed-aware test.

A 2 x 2 design (e.g. corpus ``titles``/``general`` x learning rate ``1e-4``/``1e-3``) has one
arm per cell. With ``y[A, B]`` the arm's per-(query, seed) scores (seed ``i`` of every arm
paired, as :func:`esplade_eval.evaluate.seeds.differences` pairs two systems):

* main effect of ``A``: ``(y[A+, B-] + y[A+, B+] - y[A-, B-] - y[A-, B+]) / 2``, the mean over
  ``B``'s levels of the effect of ``A`` (likewise for ``B``);
* interaction: ``(y[A+, B+] - y[A-, B+]) - (y[A+, B-] - y[A-, B-])``, how much ``A``'s
  effect changes when ``B`` goes from low to high.

Each contrast value is tested by :func:`esplade_eval.evaluate.seeds.seed_test`; the three
form one Holm family (:func:`esplade_eval.evaluate.seeds.holm`), to which a caller may add
other comparisons (``extra``) such as a focal arm's.

>>> rng = np.random.default_rng(0)
>>> q = rng.normal(0.5, 0.1, (30, 1))
>>> arms = {f"{c}-{lr}": q + 0.1 * (c == "g") + rng.normal(0, 0.01, (30, 3)) for c in "gt" for lr in (1, 2)}
>>> levels = {name: {"corpus": name[0], "lr": int(name[2])} for name in arms}
>>> out = factorial_contrasts(arms, levels, (Factor("corpus", "t", "g"), Factor("lr", 1, 2)))
>>> [c.name for c in out], round(out[0].test.delta, 2), bool(out[0].test.reject)
(['corpus: g - t', 'lr: 2 - 1', 'corpus x lr'], 0.1, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Mapping

import numpy as np

from esplade_eval.errors import EspladeError
from esplade_eval.evaluate.seeds import SEED_DESIGNS, SeedTest, holm, independent_test, seed_test


@dataclass(frozen=True)
class Factor:
    """A two-level factor: contrasts read ``high - low``."""

    name: str
    low: object
    high: object


@dataclass(frozen=True)
class Contrast:
    """One contrast: its name, the coefficient of every arm, and its seed-aware test (with Holm)."""

    name: str
    weights: dict
    test: SeedTest

    def to_dict(self) -> dict:
        return {"name": self.name, "weights": dict(self.weights), **self.test.to_dict()}


def cells(levels: Mapping[str, Mapping[str, object]], factors: tuple[Factor, Factor]) -> dict[tuple, str]:
    """``{(level of A, level of B): arm}``; an error unless each of the 4 cells holds exactly one arm."""
    for f in factors:
        if f.low == f.high:
            raise EspladeError(f"factor {f.name!r} has the same low and high level ({f.low!r})")
    out: dict[tuple, list[str]] = {(a, b): [] for a in (factors[0].low, factors[0].high)
                                   for b in (factors[1].low, factors[1].high)}
    for arm, lv in levels.items():
        missing = [f.name for f in factors if f.name not in lv]
        if missing:
            raise EspladeError(f"arm {arm!r} has no level for factor {missing[0]!r}")
        key = (lv[factors[0].name], lv[factors[1].name])
        if key in out:
            out[key].append(arm)
    names = [f.name for f in factors]
    for key, arms in out.items():
        where = ", ".join(f"{n}={v!r}" for n, v in zip(names, key))
        if not arms:
            raise EspladeError(f"no arm at {where}: a 2 x 2 design needs one arm per cell")
        if len(arms) > 1:
            raise EspladeError(f"arms {', '.join(arms)} all sit at {where}: pass one arm per cell "
                               "(select them by the other axes first)")
    return {key: arms[0] for key, arms in out.items()}


def contrast_weights(cell: dict[tuple, str], factors: tuple[Factor, Factor]) -> list[tuple[str, dict]]:
    """The three contrasts' names and ``{arm: coefficient}``: two main effects, then the interaction."""
    fa, fb = factors

    def sign(value, factor):
        return 1.0 if value == factor.high else -1.0

    main_a = {arm: sign(a, fa) / 2 for (a, _), arm in cell.items()}
    main_b = {arm: sign(b, fb) / 2 for (_, b), arm in cell.items()}
    inter = {arm: sign(a, fa) * sign(b, fb) for (a, b), arm in cell.items()}
    return [(f"{fa.name}: {fa.high} - {fa.low}", main_a), (f"{fb.name}: {fb.high} - {fb.low}", main_b),
            (f"{fa.name} x {fb.name}", inter)]


def _combine(scores: Mapping[str, np.ndarray], weights: dict) -> np.ndarray:
    arrays = {arm: np.asarray(scores[arm], dtype=float) for arm in weights}
    arrays = {arm: (x[:, None] if x.ndim == 1 else x) for arm, x in arrays.items()}
    shapes = {x.shape for x in arrays.values()}
    if len(shapes) != 1:
        listed = ", ".join(f"{arm} {x.shape}" for arm, x in arrays.items())
        raise EspladeError(f"the arms' scores differ in shape (queries, seeds): {listed}")
    return sum(w * arrays[arm] for arm, w in weights.items())


def factorial_contrasts(scores: Mapping[str, np.ndarray], levels: Mapping[str, Mapping[str, object]],
                        factors: tuple[Factor, Factor], alpha: float = 0.05,
                        extra: Mapping[str, SeedTest] | None = None, seeds: str = "paired") -> list[Contrast]:
    """Main effects and interaction of a 2 x 2 design, each seed-aware, Holm over the family.

    ``scores``: ``{arm: (queries, seeds)}`` on the same queries in the same order, seeds
    paired by index; ``levels``: ``{arm: {factor name: level}}`` for the arms of the design
    (exactly one per cell); ``extra``: other tests of the same family (e.g. a focal
    comparison), returned after the contrasts with their Holm p (their weights empty);
    ``seeds``: ``"paired"`` (seed ``i`` of every arm shares its randomness: the contrast is
    formed per (query, seed), :func:`seed_test`) or ``"independent"`` (each arm's seed
    variance its own, :func:`independent_test`; arms may then differ in their seed counts).
    """
    if seeds not in SEED_DESIGNS:
        raise EspladeError(f"unknown seed design {seeds!r}; choose one of {SEED_DESIGNS}")
    missing = [arm for arm in levels if arm not in scores]
    if missing:
        raise EspladeError(f"no scores for arm {missing[0]!r}")
    cell = cells(levels, factors)
    test = (lambda w: seed_test(_combine(scores, w))) if seeds == "paired" else partial(independent_test, scores)
    named = [(name, w, test(w)) for name, w in contrast_weights(cell, factors)]
    named += [(name, {}, t) for name, t in (extra or {}).items()]
    tests = holm([t for _, _, t in named], alpha)
    return [Contrast(name, w, t) for (name, w, _), t in zip(named, tests)]
