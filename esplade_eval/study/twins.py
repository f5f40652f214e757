"""ESPLADE vs SPLADE, arm by arm: every expanded arm against its WordPiece twin (``-wp``).

The twins share the corpus, learning rate, repeats, budget and seed and differ in their
output vocabulary only (:mod:`esplade_eval.study.expand`), so the difference is the
expanded vocabulary's effect at that point of the grid. Per arm and pruning level: the
measure's mean over seeds of each twin, Δ = expanded − WordPiece, and the postings
traversed per query of each (the cost beside the effectiveness).

Δ's p is the seed-aware test (:func:`esplade_eval.evaluate.seeds.compare_seeds`: queries
and seeds in the standard error, seed ``i`` of one twin paired with seed ``i`` of the
other, as they share the data order), Holm-corrected over the arms of each level; the
query-only paired t-test on seed-averaged scores stands beside it.

>>> from esplade_eval.study.twins import twin_pairs
>>> from esplade_eval.study.expand import Arm
>>> arms = [Arm("g", {}, {}), Arm("g-wp", {}, {}, vocab="wordpiece"), Arm("t", {}, {})]
>>> twin_pairs(arms, {"g", "g-wp", "t"})
[('g', 'g-wp')]
"""

from __future__ import annotations

import numpy as np

from esplade_eval.study.expand import VOCAB_SUFFIX


def twin_pairs(arms, have: set[str]) -> list[tuple[str, str]]:
    """``(expanded arm, its WordPiece twin)`` for every expanded arm whose twin has results too."""
    names = {a.name: a for a in arms}
    out = []
    for arm in arms:
        twin = arm.name + VOCAB_SUFFIX["wordpiece"]
        if arm.vocab == "expanded" and twin in names and names[twin].vocab == "wordpiece" \
                and {arm.name, twin} <= have:
            out.append((arm.name, twin))
    return out


def measure_of(cfg) -> str:
    """The measure the comparison reads: nDCG@10 when the study computes it, else its first measure."""
    measures = list(cfg.evaluation.measures)
    return "nDCG@10" if "nDCG@10" in measures else measures[0]


def scores(data, system: str, level: str, measure: str) -> tuple[list, np.ndarray]:
    """Per-query values of ``system`` at ``level`` as ``(qids, (queries, seeds))``, seeds in order."""
    runs = sorted(((seed, f) for (s, seed, lv), f in data.per_query.items() if s == system and lv == level),
                  key=lambda item: item[0])
    qids = sorted(set.intersection(*(set(f.index) for _, f in runs)))
    return qids, np.column_stack([f.loc[qids, measure].to_numpy(dtype=float) for _, f in runs])


def _mean(rows, system: str, level: str, column: str) -> float | None:
    part = rows[(rows["system"] == system) & (rows["level"] == level)][column]
    values = part.dropna().astype(float)
    return float(values.mean()) if len(values) else None


def compare_twins(cfg, data, alpha: float = 0.05) -> list[dict]:
    """One row per (expanded arm, level): the twins' means, Δ, postings, seed-aware and query-only p."""
    from esplade_eval.evaluate.seeds import compare_seeds, holm

    if not len(data.rows):
        return []
    measure = measure_of(cfg)
    pairs = twin_pairs(cfg.arms, set(data.rows["system"]))
    out = []
    for level in cfg.evaluation.levels:
        rows, tests = [], []
        for arm, twin in pairs:
            qa, a = scores(data, arm, level, measure)
            qb, b = scores(data, twin, level, measure)
            if qa != qb:
                raise ValueError(f"{arm} and {twin} are scored on different queries at {level}")
            tests.append(compare_seeds(a, b) if a.shape == b.shape else None)  # a missing seed: no p
            rows.append({"arm": arm, "twin": twin, "level": level, "measure": measure,
                         "expanded": float(a.mean()), "wordpiece": float(b.mean()), "delta": float(a.mean() - b.mean()),
                         "postings_expanded": _mean(data.rows, arm, level, "postings"),
                         "postings_wordpiece": _mean(data.rows, twin, level, "postings"),
                         "seeds": int(a.shape[1]), "queries": len(qa)})
        done = iter(holm([t for t in tests if t is not None], alpha))
        for row, test in zip(rows, tests):
            test = next(done) if test is not None else None
            row.update(p=test and test.p, p_holm=test and test.p_holm, method=test and test.method,
                       p_query_only=test and test.query_only.p)
        out += rows
    return out
