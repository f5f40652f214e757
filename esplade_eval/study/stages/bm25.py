"""``bm25``: an Anserini index of the corpus searched with the split's topics (the bm25 verb's search)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from esplade_eval.study.stages.base import FromConfig, Inputs, Record

KIND = "bm25"
VERSION = 1
#: the files whose content is this kind's results (with its record's outputs, timings aside)
RESULT_FILES = ("run.txt",)


@dataclass(frozen=True)
class Params(FromConfig):
    split: str
    hits: int
    k1: float  # the plan states them from esplade_eval.lucene.bm25.BM25Params
    b: float
    threads: int


@dataclass
class Outputs(Record):
    run: str
    index: str
    model: dict
    timings_s: dict

    def runs(self, folder: Path) -> dict[str, Path]:
        return {"-": Path(folder) / self.run}


def run(p: Params, inputs: Inputs) -> Outputs:
    import time

    from esplade_eval.data.trec import read_topics, write_run
    from esplade_eval.lucene.bm25 import BM25Params, bm25_search, build_bm25_index

    model = BM25Params(k1=p.k1, b=p.b)
    started = time.perf_counter()
    index = build_bm25_index(inputs.collection.corpus, inputs.tmp / "index", threads=p.threads)
    topics = read_topics(inputs.collection.topics(p.split))
    hits = bm25_search(index, topics, k=p.hits, threads=p.threads, params=model)
    write_run(inputs.tmp / "run.txt", {q: dict(h) for q, h in hits.items()}, tag="bm25", k=p.hits)
    return Outputs("run.txt", "index", {"k1": model.k1, "b": model.b},
                   {"total": round(time.perf_counter() - started, 2)})
