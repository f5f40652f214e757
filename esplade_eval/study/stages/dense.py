"""``dense``: MiniLM embeddings of the corpus, an exact faiss index, the split's run
(:func:`esplade_eval.study.references.dense_reference`, the ``dense`` verb's code)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from esplade_eval.study.stages.base import FromConfig, Inputs, Record

KIND = "dense"
VERSION = 1
#: the files whose content is this kind's results (with its record's outputs, timings aside)
RESULT_FILES = ("runs/*",)


@dataclass(frozen=True)
class Params(FromConfig):
    split: str
    hits: int
    checkpoint: str
    index: str  # a faiss index spec ("flat")
    threads: int


@dataclass
class Outputs(Record):
    run: str
    index: str
    costs: dict

    def runs(self, folder: Path) -> dict[str, Path]:
        return {"-": Path(folder) / self.run}


def run(p: Params, inputs: Inputs) -> Outputs:
    from esplade_eval.dense.faiss_index import FaissSpec
    from esplade_eval.study.references import DenseSettings, ReferenceJob, dense_reference

    job = ReferenceJob(inputs.tmp, inputs.collection, p.split, p.hits, p.threads, progress=False)
    result = dense_reference(job, DenseSettings(p.checkpoint, faiss=FaissSpec(p.index)))
    return Outputs(str(result.run.relative_to(inputs.tmp)), str(result.index.relative_to(inputs.tmp)), result.info)
