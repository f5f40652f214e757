"""``flow``: encode the corpus once, export every level, index with Anserini and search with
Lucene per level (:func:`esplade_eval.study.flow.run_flow`)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from esplade_eval.study.stages.base import FromConfig, Inputs, Record

KIND = "flow"
VERSION = 1
#: the files whose content is this kind's results (with its record's outputs, timings aside)
RESULT_FILES = ("runs/*",)

#: the export manifest's document counts a study reads
DOCUMENT_COUNTS = ("count", "empty_vectors", "postings", "mean_vector_length")
#: the artifacts of one level, relative to the stage folder
LEVEL_FILES = ("vectors", "queries", "index", "run")


@dataclass(frozen=True)
class Params(FromConfig):
    levels: list
    max_length: int
    scale: float
    hits: int
    split: str
    checkpoint: str | None  # None: the finetune (else the pretrain) dependency's checkpoint
    threads: int
    device: str | None = None
    keep_vectors: bool = False  # keep the document vectors (the index holds them too)


@dataclass
class Outputs(Record):
    levels: dict  # {level: {vectors, queries, index, run}} relative to the stage folder
    documents: dict  # {level: DOCUMENT_COUNTS}
    timings_s: dict

    def runs(self, folder: Path) -> dict[str, Path]:
        return {level: Path(folder) / lv["run"] for level, lv in self.levels.items()}


def run(p: Params, inputs: Inputs) -> Outputs:
    from esplade_eval.artifacts import COLLECTION_DIR, read_export_manifest
    from esplade_eval.sparse.prune import Pruning
    from esplade_eval.sparse.quantize import Quantizer
    from esplade_eval.study.flow import run_flow
    from esplade_eval.train import common

    tmp = inputs.tmp
    source = "finetune" if "finetune" in inputs.deps else "pretrain"  # a fine-tuned model, or a start as it is
    checkpoint = p.checkpoint or str(inputs.dep(source)[0] / "checkpoint")
    common.set_threads(p.threads)
    result = run_flow(tmp, checkpoint=checkpoint, levels=[Pruning.parse(x) for x in p.levels], split=p.split,
                      threads=p.threads, hits=p.hits, quantizer=Quantizer(scale=p.scale),
                      max_length=p.max_length, collection=inputs.collection, name=inputs.system, progress=False)
    levels, counts = {}, {}
    for name, lv in result.levels.items():
        manifest = read_export_manifest(lv.vectors)
        counts[name] = {k: manifest["documents"].get(k) for k in DOCUMENT_COUNTS}
        if not p.keep_vectors:  # the index holds the document vectors; keep the manifest and the queries only
            shutil.rmtree(Path(lv.vectors) / COLLECTION_DIR, ignore_errors=True)
        levels[name] = {k: str(Path(getattr(lv, k)).relative_to(tmp)) for k in LEVEL_FILES}
    return Outputs(levels, counts, {k: round(v, 2) for k, v in result.timings.items()})
