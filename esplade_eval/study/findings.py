"""The paper's three findings as data: a small table and a verdict each, the rule beside it.

Verdicts are *supported*, *contradicted* or *inconclusive* (or *not applicable* when the
config has no arms to test a finding with). Findings are judged on the expanded (ESPLADE)
arms only: an arm whose ``vocab`` (attribute, or the per-seed ``vocab`` column) is
``wordpiece`` is left out. Every comparison counts seeds: its standard error holds query and
seed variance (:func:`esplade_eval.study.stats.paired`, variance components with
Satterthwaite df), the query-only paired t-test beside it; the comparisons of one finding
form one Holm family.

1. ``general_high_lr``: a general corpus with a higher learning rate gives better
   retrievers, unpruned and at the strictest pruning, despite lower MLM accuracy (the focal
   comparisons decide; the corpus x learning-rate factorial contrasts are reported beside).
2. ``cost``: at the strictest pruning the most effective models cost more and their
   posting-list lengths vary more: Spearman association over the arm x seed runs (exact or
   seeded permutation p), with the seed-aware effects of corpus and learning rate on cost.
3. ``repeats``: repeating the general corpus changes little
   (:func:`esplade_eval.evaluate.verdicts.equivalence`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from esplade_eval.errors import EspladeError
from esplade_eval.evaluate.verdicts import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from esplade_eval.study import stats
from esplade_eval.study.schema import MLM_SETS

NOT_APPLICABLE = "not applicable"
WORDPIECE = "wordpiece"
DESIGNS = {"independent": "each arm's seed variance its own", "paired": "seed i of every arm paired"}


def seed_aware(cfg) -> str:
    """How the finding's tests count seeds, as its rule states it."""
    return (f"seed-aware test (query and seed variance components, {DESIGNS[cfg.findings['seeds']]}, "
            "Satterthwaite df; the query-only paired t-test printed beside it)")


@dataclass
class Finding:
    name: str
    title: str
    verdict: str
    rule: str
    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "verdict": self.verdict, "rule": self.rule,
                "rows": self.rows, "notes": self.notes}


def expanded(arm, data) -> bool:
    """Whether ``arm`` has expanded (ESPLADE) outputs: not when its ``vocab`` attribute or its rows'
    per-seed ``vocab`` column say WordPiece; yes when neither is present."""
    if getattr(arm, "vocab", None) == WORDPIECE:
        return False
    rows = data.rows
    if len(rows) and "vocab" in rows.columns:
        return set(rows.loc[rows["system"] == arm.name, "vocab"].dropna()) != {WORDPIECE}
    return True


def _arms(cfg, data) -> list:
    """The expanded arms with results."""
    have = set(data.rows["system"]) if len(data.rows) else set()
    return [a for a in cfg.arms if a.name in have and expanded(a, data)]


def _levels(cfg) -> list[str]:
    ev = cfg.evaluation
    return list(dict.fromkeys([ev.unpruned, ev.strictest]))


def _per_seed(data, system: str, column: str, level: str | None = None) -> dict:
    """``{seed: value}`` of a per-seed column of ``system`` (at ``level``, else any level)."""
    rows = data.rows[data.rows["system"] == system]
    if level is not None:
        rows = rows[rows["level"] == level]
    rows = rows.drop_duplicates("seed")
    return {s: float(v) for s, v in zip(rows["seed"], rows[column]) if v is not None and not math.isnan(float(v))}


def _mlm(data, system: str, which: str) -> float | None:
    values = list(_per_seed(data, system, f"mlm_{which}_acc").values())
    return sum(values) / len(values) if values else None


# --- finding 1 --------------------------------------------------------------------------

def _focal(cfg, arms, settings):
    if settings.get("focal"):
        return next((a for a in arms if a.name == settings["focal"]), None)
    general = [a for a in arms if a.axes["corpus"] == settings["corpus"]]
    if not general:
        return None
    return sorted(general, key=lambda a: (-a.axes["lr"], a.axes["repeats"]))[0]


def design(arms, focal, corpus: str) -> list[tuple[str, dict]]:
    """The corpus x learning-rate contrasts (:func:`esplade_eval.evaluate.contrasts.contrast_weights`)
    over the arms that share the focal arm's other axes; an error unless they form a 2 x 2."""
    from esplade_eval.evaluate.contrasts import Factor, cells, contrast_weights

    same = [a for a in arms if all(a.axes.get(k) == v for k, v in focal.axes.items() if k not in ("corpus", "lr"))]
    corpora, lrs = sorted({a.axes["corpus"] for a in same}), sorted({a.axes["lr"] for a in same})
    if len(corpora) != 2 or len(lrs) != 2:
        raise EspladeError(f"the factorial contrasts need 2 corpora x 2 learning rates, got corpora {corpora} and "
                           f"learning rates {lrs}")
    factors = (Factor("corpus", next(c for c in corpora if c != corpus), corpus), Factor("lr", lrs[0], lrs[1]))
    levels = {a.name: {"corpus": a.axes["corpus"], "lr": a.axes["lr"]} for a in same}
    return contrast_weights(cells(levels, factors), factors)


def contrast(data, name: str, weights: dict, at: tuple[str, str], seeds: str) -> dict:
    """One contrast ``sum_k w_k * arm_k`` on ``column`` at ``level`` (``at``), seed-aware, as a comparison row."""
    level, column = at
    mats = {arm: stats.matrix(data, arm, level, column) for arm in weights}
    row = stats.comparison_row(stats.seed_aware(mats, weights, seeds))
    same = len({tuple(m.columns) for m in mats.values()}) == 1
    per_seed = sum(w * mats[k].mean(axis=0).to_numpy() for k, w in weights.items()) if same else []
    agree = int(sum((v > 0) == (row["delta"] > 0) for v in per_seed))
    return {"a": name, "b": "contrast", "level_a": level, "level_b": level, "column": column, "mean_a": None,
            "mean_b": None, **row, "seeds_same_sign": agree, "seed_pairs": len(per_seed), "contrast": True}


def mlm_test(data, a: str, b: str, which: str) -> dict:
    """Held-out MLM accuracy of ``a`` vs ``b``: paired t-test over the seeds they share."""
    import numpy as np

    from esplade_eval.evaluate.seeds import t_test

    va, vb = _per_seed(data, a, f"mlm_{which}_acc"), _per_seed(data, b, f"mlm_{which}_acc")
    d = np.array([va[s] - vb[s] for s in va if s in vb])
    k = len(d)
    test = t_test(float(d.mean()), float(d.std(ddof=1) / math.sqrt(k)), k - 1, "paired t-test over seeds") \
        if k > 1 else None
    return {"a": a, "b": b, "column": f"MLM accuracy ({which})", "mean_a": _mlm(data, a, which),
            "mean_b": _mlm(data, b, which), "delta": float(d.mean()) if k else None, "seeds": k,
            "p": None if test is None else stats._f(test.p), "method": "paired t-test over seeds"}


def _f1_rule(cfg, focal_name: str, levels, m: str, mlm_set: str) -> str:
    alpha = cfg.findings["alpha"]
    return (f"supported when the focal arm ({focal_name}) has a significantly higher {m} than every other "
            f"expanded arm with its repeats at each of {levels} and a lower mean held-out MLM accuracy ({mlm_set}) "
            f"than each of them; contradicted when some of these comparisons is significantly lower; otherwise "
            f"inconclusive. Significant: Holm-corrected p < {alpha} of the {seed_aware(cfg)}; one Holm family holds "
            f"the focal comparisons and the factorial contrasts (corpus, learning rate, corpus x learning rate, "
            f"at each level), which are reported beside and do not decide. MLM accuracy: paired t-test over "
            f"seeds beside, its direction decides.")


def general_high_lr(cfg, data) -> Finding:
    settings, alpha = cfg.findings["general_high_lr"], cfg.findings["alpha"]
    m, mlm_set, levels = settings["measure"], settings["mlm_set"], _levels(cfg)
    arms = _arms(cfg, data)
    focal = _focal(cfg, arms, settings)
    others = [a for a in arms if focal and a.name != focal.name and a.axes["repeats"] == focal.axes["repeats"]]
    rule = _f1_rule(cfg, focal.name if focal else settings["corpus"] + ", highest lr", levels, m, mlm_set)
    finding = Finding("general_high_lr", "A general corpus with a higher learning rate gives better retrievers, "
                      "unpruned and at the strictest pruning, despite lower MLM accuracy", NOT_APPLICABLE, rule)
    if focal is None or not others:
        finding.notes.append("needs an arm on the general corpus and another arm with the same repeats")
        return finding
    seeds = cfg.findings["seeds"]
    rows = [stats.paired(data, focal.name, o.name, lv, lv, m, seeds=seeds) for o in others for lv in levels]
    try:
        rows += [contrast(data, name, w, (lv, m), seeds) for lv in levels
                 for name, w in design(arms, focal, settings["corpus"])]
    except EspladeError as err:
        finding.notes.append(f"no factorial contrasts: {err}")
    stats.holm(rows, alpha)
    mlm = {o.name: mlm_test(data, focal.name, o.name, mlm_set) for o in others}
    for row in rows:
        if not row.get("contrast"):
            row["mlm"] = mlm[row["b"]]
            row["mlm_a"], row["mlm_b"] = row["mlm"]["mean_a"], row["mlm"]["mean_b"]
            row["mlm_lower"] = None if None in (row["mlm_a"], row["mlm_b"]) else row["mlm_a"] < row["mlm_b"]
    focal_rows = [r for r in rows if not r.get("contrast")]
    better = all(r["delta"] > 0 and r["significant"] for r in focal_rows)
    worse = any(r["delta"] < 0 and r["significant"] for r in focal_rows)
    mlm_lower = all(r["mlm_lower"] for r in focal_rows)
    finding.rows = rows
    finding.verdict = CONTRADICTED if worse else SUPPORTED if better and mlm_lower else INCONCLUSIVE
    if better and not mlm_lower:
        finding.notes.append(f"the focal arm is the better retriever, but its {mlm_set} MLM accuracy is not lower "
                             "than every other arm's")
    return finding


# --- finding 2 --------------------------------------------------------------------------

DECIDING, BESIDE = ("postings", "df_cv"), ("flops", "df_gini", "df_variance")
COST_NAMES = {"postings": "postings traversed / query", "flops": "FLOPS", "df_cv": "CV of posting lengths",
              "df_gini": "Gini of posting lengths", "df_variance": "variance of posting lengths"}


def association(data, arms, level: str, x: str, y: str) -> dict:
    """Spearman's rho of ``x`` with ``y`` over the arm x seed runs at ``level`` (exact or seeded permutation p)."""
    rows = data.rows[data.rows["system"].isin([a.name for a in arms]) & (data.rows["level"] == level)]
    have = x in rows.columns and y in rows.columns
    r = stats.correlation(rows[x].tolist() if have else [], rows[y].tolist() if have else [])
    return {"x": x, "y": y, "level": level, "runs": r["n"], "rho": r["spearman_rho"], "p": r["spearman_p"],
            "p_min": r["spearman_p_min"], "method": r["spearman_method"], "association": True}


def _f2_rule(cfg, strict: str, m: str) -> str:
    alpha = cfg.findings["alpha"]
    return (f"at the strictest level ({strict}), over the expanded arms' arm x seed runs: supported when Spearman's "
            f"rho of {m} with postings traversed per query and with the CV of posting lengths are both positive "
            f"with Holm-corrected p < {alpha} (exact p over all pairings up to 9 runs, else a seeded permutation p, "
            f"never below the exact minimum 2/n!; Holm over these two); contradicted when either is negative with "
            f"Holm p < {alpha}; otherwise inconclusive. Beside: rho with FLOPS (postings / documents, the same "
            f"ranks), the Gini and the raw variance of posting lengths, and the effects of corpus, learning rate and "
            f"their interaction on postings traversed (factorial contrasts, each by the {seed_aware(cfg)}; Holm among "
            "themselves).")


def cost(cfg, data) -> Finding:
    settings, alpha, strict = cfg.findings["cost"], cfg.findings["alpha"], cfg.evaluation.strictest
    m = settings["measure"]
    arms = _arms(cfg, data)
    finding = Finding("cost", "At the strictest pruning the most effective models cost more (postings traversed, "
                      "FLOPS) and their posting-list lengths vary more", NOT_APPLICABLE, _f2_rule(cfg, strict, m))
    if len(arms) < 2:
        finding.notes.append("needs two arms")
        return finding
    deciding = stats.holm([association(data, arms, strict, m, y) for y in DECIDING], alpha)
    beside = [association(data, arms, strict, m, y) for y in BESIDE]
    finding.rows = deciding + beside + _cost_effects(cfg, data, arms, strict, finding.notes)
    up = all(r["rho"] is not None and r["rho"] > 0 and r["significant"] for r in deciding)
    down = any(r["rho"] is not None and r["rho"] < 0 and r["significant"] for r in deciding)
    finding.verdict = CONTRADICTED if down else SUPPORTED if up else INCONCLUSIVE
    return finding


def _cost_effects(cfg, data, arms, level: str, notes: list) -> list[dict]:
    """The seed-aware factorial contrasts of corpus and learning rate on postings traversed."""
    settings = cfg.findings["general_high_lr"]
    focal = _focal(cfg, arms, settings)
    if focal is None:
        return []
    try:
        return stats.holm([contrast(data, name, w, (level, "postings"), cfg.findings["seeds"])
                           for name, w in design(arms, focal, settings["corpus"])], cfg.findings["alpha"])
    except (EspladeError, KeyError) as err:
        notes.append(f"no effect of corpus and learning rate on cost: {err}")
        return []


# --- finding 3 --------------------------------------------------------------------------

def _repeat_pairs(arms, corpus) -> list[tuple]:
    """(fewest repeats, more repeats) pairs of arms on ``corpus`` that differ in repeats only."""
    general = [a for a in arms if a.axes["corpus"] == corpus]
    pairs = []
    for a in general:
        for b in general:
            rest_a = {k: v for k, v in a.axes.items() if k != "repeats"}
            rest_b = {k: v for k, v in b.axes.items() if k != "repeats"}
            if rest_a == rest_b and a.axes["repeats"] < b.axes["repeats"]:
                pairs.append((a, b))
    return pairs


def repeats(cfg, data) -> Finding:
    from types import SimpleNamespace

    from esplade_eval.evaluate.verdicts import equivalence, equivalence_rule

    settings, alpha = cfg.findings["repeats"], cfg.findings["alpha"]
    m, margin, levels = settings["measure"], settings["margin"], _levels(cfg)
    rule = (f"for every pair of expanded {settings['corpus']} arms that differ only in repeats and at each of "
            f"{levels}, the {m} difference (more repeats - fewer) is judged by the equivalence rule: "
            f"{equivalence_rule(margin)} The finding is contradicted when some pair is, supported when every pair "
            "is, otherwise inconclusive. Holm p (over the finding's comparisons) printed beside.")
    finding = Finding("repeats", "Repeating the general corpus changes little", NOT_APPLICABLE, rule)
    pairs = _repeat_pairs(_arms(cfg, data), settings["corpus"])
    if not pairs:
        finding.notes.append(f"needs two {settings['corpus']} arms that differ only in repeats")
        return finding
    rows = stats.holm([stats.paired(data, b.name, a.name, lv, lv, m, confidence=0.90, seeds=cfg.findings["seeds"])
                       for a, b in pairs for lv in levels], alpha)
    for row in rows:
        ci90, ci95 = (tuple(math.nan if x is None else x for x in row[k]) for k in ("ci90", "ci95"))
        row["margin"] = margin
        row["equivalence"] = equivalence(SimpleNamespace(delta=row["delta"], ci90=ci90, ci95=ci95), margin).verdict
        row["equivalent"] = row["equivalence"] == SUPPORTED
    outcomes = {r["equivalence"] for r in rows}
    finding.rows = rows
    finding.verdict = (CONTRADICTED if CONTRADICTED in outcomes else SUPPORTED if outcomes == {SUPPORTED}
                       else INCONCLUSIVE)
    return finding


FINDINGS = {"general_high_lr": general_high_lr, "cost": cost, "repeats": repeats}


def judge(cfg, data) -> list[Finding]:
    """Every enabled finding of ``cfg`` on ``data``."""
    return [fn(cfg, data) for name, fn in FINDINGS.items() if cfg.findings[name]["enabled"]]


def versus_bm25(cfg, data, plan) -> list[dict]:
    """Every system (at every level) vs BM25 on the first finding's measure; Holm per level."""
    m, alpha = cfg.findings["general_high_lr"]["measure"], cfg.findings["alpha"]
    if "bm25" not in set(data.rows.get("system", [])):
        return []
    out = []
    for level in cfg.evaluation.levels:
        family = [stats.paired(data, name, "bm25", level, stats.NO_LEVEL, m, seeds=cfg.findings["seeds"])
                  for name, system in plan.systems.items()
                  if system.levels and ((data.rows["system"] == name) & (data.rows["level"] == level)).any()]
        out += stats.holm(family, alpha)
    return out


def correlations(cfg, data) -> list[dict]:
    """Across arms (seed means): MLM accuracy vs effectiveness; effectiveness vs postings at the strictest level."""
    ev, m = cfg.evaluation, cfg.findings["general_high_lr"]["measure"]
    arms = [a.name for a in _arms(cfg, data)]
    rows = data.rows[data.rows["system"].isin(arms)] if len(data.rows) else data.rows
    if len(arms) < 3:
        return []
    means = rows.groupby(["system", "level"]).mean(numeric_only=True)

    def col(level, column):
        return [means.loc[(a, level), column] for a in arms]

    out = []
    for which in MLM_SETS:
        for level in _levels(cfg):
            out.append({"x": f"MLM accuracy ({which})", "y": f"{m} at {level}",
                        **stats.correlation(col(level, f"mlm_{which}_acc"), col(level, m))})
    for column in ("postings", "flops", "df_variance"):
        out.append({"x": f"{m} at {ev.strictest}", "y": f"{column} at {ev.strictest}",
                    **stats.correlation(col(ev.strictest, m), col(ev.strictest, column))})
    return out
