"""Retrieval cost: posting-list spread, postings traversed, FLOPS, latency, and reports.

Numpy-only analytics (:mod:`~esplade_eval.cost.stats`, :mod:`~esplade_eval.cost.queries`,
re-exported here); the effectiveness-vs-cost table and its plots in
:mod:`~esplade_eval.cost.report`, their text renderings in :mod:`~esplade_eval.cost.render`.
The numbers come from the Lucene index through :mod:`esplade_eval.lucene.postings`, which
is imported only by the functions that read an index.

>>> from esplade_eval.cost import gini
>>> gini([5, 5, 5])
0.0
"""

from esplade_eval.cost.queries import QueryCosts, query_costs, set_flops, summarize
from esplade_eval.cost.stats import distribution, gini, postings_statistics, query_terms

__all__ = ["QueryCosts", "distribution", "gini", "postings_statistics", "query_costs", "query_terms", "set_flops",
           "summarize"]
