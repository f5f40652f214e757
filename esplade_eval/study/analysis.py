"""From the stage records to the study's tables, comparisons and verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field

from esplade_eval.study import findings as fnd
from esplade_eval.study import stats, twins


@dataclass
class Analysis:
    data: stats.StudyData
    table: object  # aggregate DataFrame
    findings: list = field(default_factory=list)
    vs_bm25: list = field(default_factory=list)
    correlations: list = field(default_factory=list)
    pairs: dict = field(default_factory=dict)  # level -> PairsReport over every system (unpruned, strictest)
    twins: list = field(default_factory=list)  # ESPLADE arm vs its WordPiece twin, per level (study.twins)


def analyse(cfg, plan, store) -> Analysis:
    """Tables, comparisons and verdicts from the complete stages of ``plan``."""
    data = stats.collect(plan, store, cfg.evaluation.measures)
    if not len(data.rows):
        return Analysis(data, None)
    table = stats.aggregate(data.rows, order=list(plan.systems))
    ev, alpha = cfg.evaluation, cfg.findings["alpha"]
    pairs = {lv: stats.all_pairs(data, list(plan.systems), lv, ev.measures, alpha, cfg.findings["seeds"])
             for lv in dict.fromkeys([ev.unpruned, ev.strictest])}
    return Analysis(data, table, fnd.judge(cfg, data), fnd.versus_bm25(cfg, data, plan), fnd.correlations(cfg, data),
                    {lv: rep for lv, rep in pairs.items() if rep is not None}, twins.compare_twins(cfg, data, alpha))
