"""Retrieval cost: posting-list spread, postings traversed, FLOPS, latency, and reports.

One job a module: numpy-only analytics (:mod:`~esplade_eval.cost.stats`,
:mod:`~esplade_eval.cost.queries`); the levels a report is about
(:mod:`~esplade_eval.cost.levels`); what one level costs, measured on its index
(:mod:`~esplade_eval.cost.measure`); the effectiveness-vs-cost table
(:mod:`~esplade_eval.cost.report`), its figures (:mod:`~esplade_eval.cost.plots`) and its
text renderings (:mod:`~esplade_eval.cost.render`). Every public name is re-exported here.
The numbers come from the Lucene index through :mod:`esplade_eval.lucene.postings`, which
is imported only by the functions that read an index.

>>> from esplade_eval.cost import gini
>>> gini([5, 5, 5])
0.0
"""

from esplade_eval.cost.levels import LevelSpec, flow_judgments, levels_in_folder, levels_of, load_queries
from esplade_eval.cost.measure import LevelCost, index_postings, measure_level, query_set_cost, time_queries
from esplade_eval.cost.plots import pareto_front, plot_pareto, plot_posting_lengths
from esplade_eval.cost.queries import QueryCosts, query_costs, set_flops, summarize
from esplade_eval.cost.render import render_cost_table, table_measures
from esplade_eval.cost.report import CostOptions, cost_rows, cost_table, effectiveness
from esplade_eval.cost.stats import distribution, gini, postings_statistics, query_terms

__all__ = ["CostOptions", "LevelCost", "LevelSpec", "QueryCosts", "cost_rows", "cost_table", "distribution",
           "effectiveness", "flow_judgments", "gini", "index_postings", "levels_in_folder", "levels_of",
           "load_queries", "measure_level", "pareto_front", "plot_pareto", "plot_posting_lengths",
           "postings_statistics", "query_costs", "query_set_cost", "query_terms", "render_cost_table", "set_flops",
           "summarize", "table_measures", "time_queries"]
