"""Retrieval cost: posting-list spread, postings traversed, FLOPS, latency, and reports.

Numpy-only analytics (:mod:`~esplade_eval.cost.stats`, :mod:`~esplade_eval.cost.queries`);
the numbers come from the Lucene index through :mod:`esplade_eval.lucene.postings`, which
is imported only by the functions that read an index.

>>> from esplade_eval.cost import gini
>>> gini([5, 5, 5])
0.0
"""

from esplade_eval.cost.queries import QueryCosts, query_costs, set_flops, summarize
from esplade_eval.cost.report import (
    LevelSpec,
    cost_rows,
    cost_table,
    effectiveness,
    levels_in_folder,
    levels_of,
    measure_level,
    pareto_front,
    plot_pareto,
    plot_posting_lengths,
)
from esplade_eval.cost.stats import distribution, gini, postings_statistics, query_terms

__all__ = [
    "LevelSpec", "QueryCosts", "cost_rows", "cost_table", "distribution", "effectiveness", "gini", "levels_in_folder",
    "levels_of", "measure_level", "pareto_front", "plot_pareto", "plot_posting_lengths", "postings_statistics",
    "query_costs", "query_terms", "set_flops", "summarize",
]
