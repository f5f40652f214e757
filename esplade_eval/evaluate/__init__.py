"""Evaluation harness: ir_measures metrics, paired significance tests, reports, TREC run checks, fusion.

Layers inside, imports pointing down: :mod:`.measures` (names) and :mod:`.metrics`
(scoring, the :class:`Evaluation` data) < :mod:`.stats` (tests) < :mod:`.report`
(renderings) < :mod:`.compare` (baseline and all-pairs comparisons). Over queries x seeds:
:mod:`.seeds` (the seed-aware test) < :mod:`.contrasts` (2 x 2 factorial contrasts) and
:mod:`.verdicts` (decision rules with their text); :mod:`.association` (Spearman with an
exact p for few points).

>>> from esplade_eval.evaluate import evaluate, compare
>>> qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
>>> runs = {"base": {"q1": {"x": 2.0, "a": 1.0}, "q2": {"b": 1.0}}, "new": {"q1": {"a": 1.0}, "q2": {"b": 1.0}}}
>>> report = compare(evaluate(qrels, runs, ["RR@10"]), baseline="base")
>>> float(report.to_dataframe().at["new", "RR@10 delta"])
0.25
"""

from esplade_eval.evaluate.association import Association, spearman
from esplade_eval.evaluate.checkrun import CheckResult, Problem, check_run, package_run
from esplade_eval.evaluate.compare import Settings as CompareSettings
from esplade_eval.evaluate.compare import compare, compare_all_pairs
from esplade_eval.evaluate.contrasts import Contrast, Factor, factorial_contrasts
from esplade_eval.evaluate.measures import parse_measure, parse_measures, trec_eval_name
from esplade_eval.evaluate.metrics import (
    DEFAULT_MEASURES,
    Evaluation,
    Evaluator,
    QuerySet,
    evaluate,
    query_set,
)
from esplade_eval.evaluate.pairs_report import PairsReport
from esplade_eval.evaluate.report import FORMATS, Report, render_frame
from esplade_eval.evaluate.seeds import SeedTest, TTest, compare_seeds, seed_test
from esplade_eval.evaluate.stats import (
    CORRECTIONS,
    TESTS,
    bootstrap_ci,
    correct,
    paired_stats,
    permutation_p,
    wilcoxon_p,
)
from esplade_eval.evaluate.treceval import trec_eval_text
from esplade_eval.evaluate.verdicts import Verdict, equivalence

__all__ = [
    "CORRECTIONS", "DEFAULT_MEASURES", "FORMATS", "TESTS", "Association", "CheckResult", "CompareSettings", "Contrast",
    "Evaluation",
    "Evaluator", "Factor", "PairsReport", "Problem", "QuerySet", "Report", "SeedTest", "TTest", "Verdict",
    "bootstrap_ci", "check_run", "compare", "compare_all_pairs", "compare_seeds", "correct", "equivalence",
    "evaluate", "factorial_contrasts", "package_run", "paired_stats", "parse_measure", "parse_measures",
    "permutation_p", "query_set", "render_frame", "seed_test", "spearman", "trec_eval_name", "trec_eval_text",
    "wilcoxon_p",
]
