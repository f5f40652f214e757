"""``evaluate``: per-query measures of every level's run (a query without hits scores 0)."""

from __future__ import annotations

from dataclasses import dataclass

from esplade_eval.study.stages.base import FromConfig, Inputs, Record

KIND = "evaluate"
VERSION = 1
#: the files whose content is this kind's results (with its record's outputs, timings aside)
RESULT_FILES = ("per_query.csv",)
#: the kinds whose runs an evaluation reads (each Outputs has ``runs(folder)``)
SOURCES = ("flow", "bm25", "dense")


@dataclass(frozen=True)
class Params(FromConfig):
    measures: list
    split: str


@dataclass
class Outputs(Record):
    per_query: str  # per_query.csv: qid, level, one column per measure
    queries: int
    mean: dict  # {level: {measure: mean}}


def run(p: Params, inputs: Inputs) -> Outputs:
    import pandas as pd

    from esplade_eval.evaluate import Evaluator

    kind = next(k for k in SOURCES if k in inputs.deps)
    folder, source = inputs.dep(kind)
    runs = source.runs(folder)
    evaluation = Evaluator(inputs.collection.qrels(p.split), p.measures,
                           topics=inputs.collection.topics(p.split)).evaluate({k: str(v) for k, v in runs.items()})
    frames = [evaluation.per_query(level).assign(level=level) for level in runs]
    table = pd.concat(frames).reset_index().rename(columns={"index": "qid"})
    table.to_csv(inputs.tmp / "per_query.csv", index=False)
    means = evaluation.aggregate()
    return Outputs("per_query.csv", len(evaluation.queries),
                   {level: {m: float(means.loc[level, m]) for m in p.measures} for level in runs})
