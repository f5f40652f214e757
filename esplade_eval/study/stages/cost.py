"""``cost``: posting-list statistics of one level's index, per-query postings traversed and
FLOPS, latency (:func:`esplade_eval.cost.report.measure_level`, read from the Lucene index)."""

from __future__ import annotations

from dataclasses import dataclass

from esplade_eval.study.stages.base import FromConfig, Inputs, Record

KIND = "cost"
VERSION = 1
#: the files whose content is this kind's results (with its record's outputs, timings aside)
RESULT_FILES = ("df.npy",)
#: it measures latency: with ``jobs`` > 1 it runs alone, no other stage beside it (:mod:`esplade_eval.study.pool`)
EXCLUSIVE = True


@dataclass(frozen=True)
class Params(FromConfig):
    level: str
    hits: int
    passes: int
    warmup: int


@dataclass
class Outputs(Record):
    summary: dict  # the level's cost summary (esplade_eval.cost.report)
    postings: dict  # posting-list statistics
    per_query: str  # per_query_cost.csv
    df: str  # df.npy: the document frequency of every term


def run(p: Params, inputs: Inputs) -> Outputs:
    import numpy as np

    from esplade_eval.cost.report import LevelSpec, measure_level

    folder, flow = inputs.dep("flow")
    lv = flow.levels[p.level]
    spec = LevelSpec(inputs.system, p.level, folder / lv["index"], folder / lv["queries"], folder / lv["run"])
    measured = measure_level(spec, hits=p.hits, passes=p.passes, warmup=p.warmup, latency=True, progress=False)
    measured.costs.to_frame().to_csv(inputs.tmp / "per_query_cost.csv")
    np.save(inputs.tmp / "df.npy", np.asarray(measured.terms.df, dtype=np.int64))
    postings = {k: v for k, v in measured.postings.items() if k not in ("index", "top_terms")}
    return Outputs(measured.summary, postings, "per_query_cost.csv", "df.npy")

