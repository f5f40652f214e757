"""The paper's three findings as data: a small table and a verdict each, the rule beside it.

Verdicts are *supported*, *contradicted* or *inconclusive* (or *not applicable* when the
config has no arms to test a finding with). Every comparison is paired over queries on
seed-averaged per-query values (:func:`esplade_eval.study.stats.paired`) and the
comparisons of one finding form one Holm family.

1. ``general_high_lr``: a general corpus with a higher learning rate gives better
   retrievers, unpruned and at the strictest pruning, despite lower MLM accuracy.
2. ``cost``: at the strictest pruning the most effective models cost more (postings
   traversed, FLOPS) and their posting-list lengths vary more.
3. ``repeats``: repeating the general corpus changes little (equivalence within a margin).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from esplade_eval.evaluate.verdicts import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from esplade_eval.study import stats
from esplade_eval.study.schema import MLM_SETS

NOT_APPLICABLE = "not applicable"


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


def _arms(cfg, data) -> list:
    """Expanded (ESPLADE) arms with results at every level: the findings are about them, so their
    WordPiece twins (``-wp``) never enter a finding."""
    have = set(data.rows["system"]) if len(data.rows) else set()
    return [a for a in cfg.arms if a.name in have and a.vocab == "expanded"]


def _levels(cfg) -> list[str]:
    ev = cfg.evaluation
    return list(dict.fromkeys([ev.unpruned, ev.strictest]))


def _mlm(data, system: str, which: str) -> float | None:
    rows = data.rows[(data.rows["system"] == system)]
    values = rows.drop_duplicates("seed")[f"mlm_{which}_acc"].dropna()
    return float(values.mean()) if len(values) else None


# --- finding 1 --------------------------------------------------------------------------

def _focal(cfg, arms, settings):
    if settings.get("focal"):
        return next((a for a in arms if a.name == settings["focal"]), None)
    general = [a for a in arms if a.axes["corpus"] == settings["corpus"]]
    if not general:
        return None
    return sorted(general, key=lambda a: (-a.axes["lr"], a.axes["repeats"]))[0]


def general_high_lr(cfg, data) -> Finding:
    settings, alpha = cfg.findings["general_high_lr"], cfg.findings["alpha"]
    m, mlm_set, levels = settings["measure"], settings["mlm_set"], _levels(cfg)
    arms = _arms(cfg, data)
    focal = _focal(cfg, arms, settings)
    others = [a for a in arms if focal and a.name != focal.name and a.axes["repeats"] == focal.axes["repeats"]]
    rule = (f"supported: the focal arm ({focal.name if focal else settings['corpus'] + ', highest lr'}) has a higher "
            f"{m} than every other arm with the same repeats at each of {levels} (paired t-test over queries on "
            f"seed-averaged scores, Holm over the finding's comparisons, corrected p < {alpha}, every seed "
            f"higher) and a lower held-out MLM accuracy ({mlm_set}, mean over seeds) than each of them; "
            f"contradicted: some comparison is significantly lower with every seed lower; otherwise inconclusive.")
    finding = Finding("general_high_lr", "A general corpus with a higher learning rate gives better retrievers, "
                      "unpruned and at the strictest pruning, despite lower MLM accuracy", NOT_APPLICABLE, rule)
    if focal is None or not others:
        finding.notes.append("needs an arm on the general corpus and another arm with the same repeats")
        return finding
    rows = stats.holm([stats.paired(data, focal.name, o.name, lv, lv, m) for o in others for lv in levels], alpha)
    mlm_focal = _mlm(data, focal.name, mlm_set)
    for row in rows:
        row["mlm_a"], row["mlm_b"] = mlm_focal, _mlm(data, row["b"], mlm_set)
        row["mlm_lower"] = None if None in (row["mlm_a"], row["mlm_b"]) else row["mlm_a"] < row["mlm_b"]
    better = all(r["delta"] > 0 and r["significant"] and stats.all_seeds_agree(r) for r in rows)
    worse = any(r["delta"] < 0 and r["significant"] and stats.all_seeds_agree(r) for r in rows)
    mlm_lower = all(r["mlm_lower"] for r in rows)
    finding.rows = rows
    finding.verdict = CONTRADICTED if worse else SUPPORTED if better and mlm_lower else INCONCLUSIVE
    if better and not mlm_lower:
        finding.notes.append(f"the focal arm is the better retriever, but its {mlm_set} MLM accuracy is not lower "
                             "than every other arm's")
    return finding


# --- finding 2 --------------------------------------------------------------------------

def cost(cfg, data) -> Finding:
    settings, alpha, strict = cfg.findings["cost"], cfg.findings["alpha"], cfg.evaluation.strictest
    m = settings["measure"]
    arms = _arms(cfg, data)
    rule = (f"at the strictest level ({strict}), the arms' most effective (highest mean {m}) vs least effective: "
            f"supported when its {m} is significantly higher and its postings traversed and FLOPS per query are "
            f"higher (paired t-tests over queries on seed-averaged values, one Holm family of the three, "
            f"corrected p < {alpha}, every seed agreeing) and the variance of its posting-list lengths over the "
            "vocabulary is higher in every seed; contradicted when the most effective is significantly more "
            "effective but postings or FLOPS are significantly lower (every seed agreeing) or its variance is "
            "lower in every seed; otherwise inconclusive.")
    finding = Finding("cost", "At the strictest pruning the most effective models cost more (postings traversed, "
                      "FLOPS) and their posting-list lengths vary more", NOT_APPLICABLE, rule)
    if len(arms) < 2:
        finding.notes.append("needs two arms")
        return finding
    means = {a.name: float(stats.seed_mean(data, a.name, strict, [m])[m].mean()) for a in arms}
    best, worst = max(means, key=means.get), min(means, key=means.get)
    rows = stats.holm([stats.paired(data, best, worst, strict, strict, c) for c in (m, "postings", "flops")], alpha)
    rows.append(_variance_row(data, best, worst, strict, "df_variance"))
    rows.append(_variance_row(data, best, worst, strict, "query_df_variance"))
    finding.rows = rows
    effective = rows[0]["delta"] > 0 and rows[0]["significant"]
    costs_up = all(r["delta"] > 0 and r["significant"] and stats.all_seeds_agree(r) for r in rows[1:3])
    costs_down = any(r["delta"] < 0 and r["significant"] and stats.all_seeds_agree(r) for r in rows[1:3])
    var = rows[3]
    var_up, var_down = var["seeds_higher"] == var["seed_pairs"] > 0, var["seeds_lower"] == var["seed_pairs"] > 0
    finding.verdict = (SUPPORTED if effective and costs_up and var_up else
                       CONTRADICTED if effective and (costs_down or var_down) else INCONCLUSIVE)
    finding.notes.append("FLOPS per query is postings traversed / documents, so its test equals the postings test")
    return finding


def _variance_row(data, a: str, b: str, level: str, column: str) -> dict:
    """A per-index statistic (one value per seed): means and the per-seed comparison, no test."""
    rows = data.rows[data.rows["level"] == level]
    va = rows[rows["system"] == a].sort_values("seed")[column].astype(float).tolist()
    vb = rows[rows["system"] == b].sort_values("seed")[column].astype(float).tolist()
    pairs = list(zip(va, vb)) if len(vb) > 1 else [(x, vb[0]) for x in va] if vb else []
    mean_a, mean_b = sum(va) / len(va), sum(vb) / len(vb)
    return {"a": a, "b": b, "level_a": level, "level_b": level, "column": column, "mean_a": mean_a, "mean_b": mean_b,
            "delta": mean_a - mean_b, "seeds_higher": sum(x > y for x, y in pairs),
            "seeds_lower": sum(x < y for x, y in pairs), "seed_pairs": len(pairs),
            "seeds_same_sign": sum((x > y) == (mean_a > mean_b) for x, y in pairs), "p": None, "p_holm": None,
            "test": "none (one value per index): compared seed by seed"}


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
    settings, alpha = cfg.findings["repeats"], cfg.findings["alpha"]
    m, margin, levels = settings["measure"], settings["margin"], _levels(cfg)
    rule = (f"supported (equivalent) when, for every pair of {settings['corpus']} arms that differ only in repeats and "
            f"at each of {levels}, the {100 * (1 - 2 * alpha):.0f}% confidence interval of the {m} difference (more "
            f"repeats - fewer, paired over queries on seed-averaged scores) lies inside ±{margin} (TOST at "
            f"alpha {alpha}); contradicted when a difference is significant (paired t-test, Holm over the finding's "
            f"comparisons, corrected p < {alpha}), larger than the margin and of the same sign in every seed; "
            "otherwise inconclusive.")
    finding = Finding("repeats", "Repeating the general corpus changes little", NOT_APPLICABLE, rule)
    pairs = _repeat_pairs(_arms(cfg, data), settings["corpus"])
    if not pairs:
        finding.notes.append(f"needs two {settings['corpus']} arms that differ only in repeats")
        return finding
    rows = stats.holm([stats.paired(data, b.name, a.name, lv, lv, m, confidence=1 - 2 * alpha)
                       for a, b in pairs for lv in levels], alpha)
    for row in rows:
        row["margin"] = margin
        row["equivalent"] = row["ci_low"] is not None and -margin < row["ci_low"] and row["ci_high"] < margin
    equivalent = all(r["equivalent"] for r in rows)
    differs = any(r["significant"] and abs(r["delta"]) > margin and stats.all_seeds_agree(r) for r in rows)
    finding.rows = rows
    finding.verdict = SUPPORTED if equivalent else CONTRADICTED if differs else INCONCLUSIVE
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
        family = [stats.paired(data, name, "bm25", level, stats.NO_LEVEL, m) for name, system in plan.systems.items()
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
