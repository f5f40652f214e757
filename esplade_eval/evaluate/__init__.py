"""Evaluation harness: ir_measures metrics, paired significance tests, reports, TREC run checks.

>>> from esplade_eval.evaluate import evaluate, compare
>>> qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
>>> runs = {"base": {"q1": {"x": 2.0, "a": 1.0}, "q2": {"b": 1.0}}, "new": {"q1": {"a": 1.0}, "q2": {"b": 1.0}}}
>>> report = compare(evaluate(qrels, runs, ["RR@10"]), baseline="base")
>>> float(report.to_dataframe().at["new", "RR@10 delta"])
0.25
"""

from esplade_eval.evaluate.checkrun import CheckResult, Problem, check_run, package_run
from esplade_eval.evaluate.compare import compare, correct, paired_stats, wilcoxon_p
from esplade_eval.evaluate.metrics import (
    DEFAULT_MEASURES,
    Evaluation,
    Evaluator,
    QuerySet,
    evaluate,
    parse_measures,
    query_set,
)
from esplade_eval.evaluate.report import FORMATS, Report, render_frame

__all__ = [
    "DEFAULT_MEASURES", "FORMATS", "CheckResult", "Evaluation", "Evaluator", "Problem", "QuerySet", "Report",
    "check_run", "compare", "correct", "evaluate", "package_run", "paired_stats", "parse_measures", "query_set",
    "render_frame", "wilcoxon_p",
]
