"""Defaults shared by the library and the command line, each stated once.

Import-light on purpose (the standard library only): the command line reads these while it
builds its parsers, and ``esplade-eval evaluate --help`` must not load numpy, torch or a JVM.
A library function and the verb that calls it take their default from here, so
``esplade-eval evaluate`` and ``Evaluator(...)`` report the same measures.

>>> MEASURES
('nDCG@10', 'R@100', 'R@1000', 'RR@10')
>>> threads() >= 1
True
"""

from __future__ import annotations

import os

#: measures of ``evaluate``, ``compare``, :class:`~esplade_eval.evaluate.Evaluator` and the demo's table
MEASURES: tuple[str, ...] = ("nDCG@10", "R@100", "R@1000", "RR@10")
#: measures shown beside cost (``cost --flow``, ``grid``, the demo's cost section)
COST_MEASURES: tuple[str, ...] = ("nDCG@10", "R@100")
#: renderings of an evaluation or comparison table (``--format``)
FORMATS: tuple[str, ...] = ("markdown", "latex", "csv", "json")
#: test-time pruning levels of the flow, the demo and the grid, from unpruned to strictest
LEVELS: tuple[str, ...] = ("full", "d32-q16", "d16-q8", "d8-q4")
#: hits per query of a run
HITS = 1000
#: timed passes over a query set for latency, and untimed passes before them
LATENCY_PASSES = 3
LATENCY_WARMUP = 2
#: seed of every random choice that takes one (training, randomisation test, bootstrap)
SEED = 0
#: tokens per text when encoding for retrieval (recorded in every manifest)
MAX_LENGTH = 256


def threads() -> int:
    """Threads for torch and Lucene when none are named: every CPU of the machine."""
    return os.cpu_count() or 1
