"""Per-query output in ``trec_eval -q`` form, for tools that parse trec_eval's output.

One line per (query, measure), ``measure<TAB>qid<TAB>value``, the measure padded to 22
characters and values printed ``%6.4f`` (counts as integers), exactly trec_eval's
``printf``; queries in query-id order, then the ``all`` lines (``runid``, ``num_q`` and each
measure's mean). Measures carry trec_eval's names where trec_eval has one (``ndcg_cut_10``,
``map``, ``recall_100``, ``P_5``, ``recip_rank``), their ir_measures text otherwise
(``RR@10``, ``Judged@10``).

Two differences from trec_eval, both this toolkit's policy: every evaluated query is
listed (a query the run does not answer appears with 0, where trec_eval omits its lines),
and the ``all`` mean is over every evaluated query, as ``trec_eval -c`` computes it.

>>> from esplade_eval.evaluate import evaluate
>>> ev = evaluate({"q1": {"a": 1}, "q2": {"b": 1}}, {"r": {"q1": {"a": 1.0}}}, ["nDCG@10", "AP"])
>>> for line in trec_eval_text(ev, "r").splitlines(): print(line.split())
['ndcg_cut_10', 'q1', '1.0000']
['map', 'q1', '1.0000']
['ndcg_cut_10', 'q2', '0.0000']
['map', 'q2', '0.0000']
['runid', 'all', 'r']
['num_q', 'all', '2']
['ndcg_cut_10', 'all', '0.5000']
['map', 'all', '0.5000']
"""

from __future__ import annotations

import math

from esplade_eval.evaluate.measures import INTEGER_MEASURES, parse_measures, trec_eval_name


def _value(name: str, value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "failed"
    return str(int(round(value))) if name in INTEGER_MEASURES else f"{value:6.4f}"


def trec_eval_text(evaluation, system: str, per_query: bool = True) -> str:
    """``trec_eval -q -c`` style text for one system of an :class:`~esplade_eval.evaluate.metrics.Evaluation`.

    A measure that could not be computed prints ``failed`` instead of a number.
    """
    names = [trec_eval_name(m) for m in parse_measures(evaluation.measures)]
    values = evaluation.scores[system]
    lines = []
    if per_query:
        for i, qid in enumerate(evaluation.queries):
            lines += [f"{name:<22}\t{qid}\t{_value(name, values[i, j])}" for j, name in enumerate(names)]
    lines += [f"{'runid':<22}\tall\t{system}", f"{'num_q':<22}\tall\t{len(evaluation.queries)}"]
    means = values.mean(axis=0) if len(evaluation.queries) else [math.nan] * len(names)
    lines += [f"{name:<22}\tall\t{_value(name, float(means[j]))}" for j, name in enumerate(names)]
    return "\n".join(lines) + "\n"
