"""What each kind of stage does, through the toolkit's own layers.

A runner takes the stage, a temporary folder (its outputs go there; it becomes the
stage's folder when the runner returns) and the run's context, and returns the
JSON-able ``outputs`` of its record (paths relative to the stage folder). Training goes
through :mod:`esplade_eval.train`, the flow through :func:`esplade_eval.study.flow.run_flow`
(Anserini indexes, Lucene search), scoring through :mod:`esplade_eval.evaluate`, cost
through :mod:`esplade_eval.cost` (read from the Lucene index).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from esplade_eval.artifacts import COLLECTION_DIR, read_export_manifest

PRETRAIN_SUMMARY = ("budget", "steps", "repeats", "passes_over_corpus", "passes_per_corpus", "tokens_seen",
                    "train_examples", "train_tokens_per_pass", "predicted_words", "tokens_per_s", "train_wall_time_s",
                    "wall_time_s", "heldout_mlm", "heldout_mlm_before", "output_vocab", "lr_schedule", "corpora",
                    "eval_docs")
FINETUNE_SUMMARY = ("steps", "passes_over_pairs", "train_pairs", "best", "dev", "probe_loss_before",
                    "probe_loss_after", "train_wall_time_s", "validation_wall_time_s", "wall_time_s",
                    "output_vocab_size", "negatives")


@dataclass
class Context:
    """What every runner may read: the config, the collection, the stage store."""

    cfg: object
    collection: object
    store: object  # esplade_eval.study.cache.StageStore

    def dep(self, stage, kind: str) -> tuple[Path, dict]:
        """Folder and record of ``stage``'s dependency of ``kind``."""
        for d in stage.deps:
            if d.kind == kind:
                record = self.store.record(d)
                if record is None:
                    raise RuntimeError(f"{stage.label}: {d.label} is not complete")
                return self.store.folder(d), record
        raise RuntimeError(f"{stage.label}: no {kind} dependency")


def _pick(state: dict, keys) -> dict:
    return {k: state[k] for k in keys if k in state}


def _eval_sources(sources, ctx: Context) -> list[str]:
    """``"collection"`` is the study's collection: its corpus file."""
    from esplade_eval.study.schema import EVAL_COLLECTION

    return [str(ctx.collection.corpus) if s == EVAL_COLLECTION else s for s in sources]


def run_vocab(stage, tmp: Path, ctx: Context) -> dict:
    """One output vocabulary for every arm, from the training parts of the named corpora
    (evaluation documents kept out unless the pre-training settings allow them)."""
    from collections import Counter

    from esplade_eval.errors import EspladeError
    from esplade_eval.train.texts import eval_docs, training_corpora
    from esplade_eval.train.vocab import count_words, top_words, write_vocab

    p = stage.params
    docs = eval_docs(_eval_sources(p["exclude_eval_docs"], ctx), p["allow_eval_docs"])
    counts: Counter = Counter()
    for corpus in training_corpora(p["corpora"], docs):
        counts += count_words(corpus.train)
    if not counts:
        raise EspladeError(f"{'+'.join(p['corpora'])}: no words to count for the output vocabulary")
    vocab = top_words(counts, p["size"], p["min_count"])
    meta = {"corpora": p["corpora"], "min_count": p["min_count"], "eval_docs": docs.record(),
            "distinct_words": len(counts), "tokens": sum(counts.values())}
    write_vocab(tmp, vocab, meta)
    return {"vocab": "output_vocab.txt", "size": len(vocab), **meta}


def run_pretrain(stage, tmp: Path, ctx: Context) -> dict:
    from esplade_eval.train.pretrain import PretrainConfig, pretrain

    vocab_dir, _ = ctx.dep(stage, "vocab")
    p = dict(stage.params)
    p["exclude_eval_docs"] = _eval_sources(p.get("exclude_eval_docs", []), ctx)
    cfg = PretrainConfig(**p, vocab=str(vocab_dir), progress=False)
    out = pretrain(cfg, tmp / "checkpoint")
    state = json.loads((out / "training_state.json").read_text(encoding="utf-8"))
    return {"checkpoint": "checkpoint", "summary": _pick(state, PRETRAIN_SUMMARY)}


def run_finetune(stage, tmp: Path, ctx: Context) -> dict:
    from esplade_eval.train.finetune import FinetuneConfig, finetune

    p = stage.params
    init = str(ctx.dep(stage, "pretrain")[0] / "checkpoint") if p["init"] == "pretrained" else p["init"]
    cfg = FinetuneConfig(**p["recipe"], init=init, collection=str(ctx.collection.root), seed=p["seed"],
                         threads=p["threads"], device=p["device"], progress=False)
    out = finetune(cfg, tmp / "checkpoint")
    state = json.loads((out / "finetune_state.json").read_text(encoding="utf-8"))
    return {"checkpoint": "checkpoint", "summary": _pick(state, FINETUNE_SUMMARY)}


def run_flow_stage(stage, tmp: Path, ctx: Context) -> dict:
    """Encode once, export every level, index with Anserini and search with Lucene per level."""
    from esplade_eval.sparse.prune import Pruning
    from esplade_eval.sparse.quantize import Quantizer
    from esplade_eval.study.flow import run_flow
    from esplade_eval.train import common

    p = stage.params
    checkpoint = p["checkpoint"] or str(ctx.dep(stage, "finetune")[0] / "checkpoint")
    common.set_threads(p["threads"])
    result = run_flow(tmp, checkpoint=checkpoint, levels=[Pruning.parse(x) for x in p["levels"]], split=p["split"],
                      threads=p["threads"], hits=p["hits"], quantizer=Quantizer(scale=p["scale"]),
                      max_length=p["max_length"], collection=ctx.collection, name=stage.system, progress=False)
    levels, counts = {}, {}
    for name, lv in result.levels.items():
        manifest = read_export_manifest(lv.vectors)
        counts[name] = {k: manifest["documents"].get(k) for k in ("count", "empty_vectors", "postings",
                                                                   "mean_vector_length")}
        # the index holds the document vectors; keep the manifest and the queries only
        shutil.rmtree(Path(lv.vectors) / COLLECTION_DIR, ignore_errors=True)
        levels[name] = {k: str(Path(getattr(lv, k)).relative_to(tmp)) for k in ("vectors", "queries", "index", "run")}
    return {"levels": levels, "documents": counts, "timings_s": {k: round(v, 2) for k, v in result.timings.items()}}


def run_bm25(stage, tmp: Path, ctx: Context) -> dict:
    """BM25 over the same documents: an Anserini index of the corpus, searched with the split's topics."""
    import time

    from esplade_eval.data.trec import read_topics, write_run
    from esplade_eval.lucene.bm25 import BM25Params, bm25_search, build_bm25_index

    p = stage.params
    params = BM25Params(k1=p["k1"], b=p["b"])  # the bm25 verb's search, with the stage's k1 and b
    started = time.perf_counter()
    index = build_bm25_index(ctx.collection.corpus, tmp / "index", threads=p["threads"])
    topics = read_topics(ctx.collection.topics(p["split"]))
    hits = bm25_search(index, topics, k=p["hits"], threads=p["threads"], params=params)
    write_run(tmp / "run.txt", {q: dict(h) for q, h in hits.items()}, tag="bm25", k=p["hits"])
    return {"run": "run.txt", "index": "index", "model": {"k1": params.k1, "b": params.b},
            "timings_s": {"total": round(time.perf_counter() - started, 2)}}


def run_dense(stage, tmp: Path, ctx: Context) -> dict:
    """The dense reference (:func:`esplade_eval.study.references.dense_reference`, the ``dense``
    verb's code): MiniLM embeddings of the corpus, an exact faiss index, the split's run."""
    from esplade_eval.dense.faiss_index import FaissSpec
    from esplade_eval.study.references import DenseSettings, ReferenceJob, dense_reference

    p = stage.params
    job = ReferenceJob(tmp, ctx.collection, p["split"], p["hits"], p["threads"], progress=False)
    result = dense_reference(job, DenseSettings(p["checkpoint"], faiss=FaissSpec(p["index"])))
    return {"run": str(result.run.relative_to(tmp)), "index": str(result.index.relative_to(tmp)),
            "costs": result.info}


def _runs(stage, ctx: Context) -> dict[str, Path]:
    """``{level: run file}`` of the flow (or ``{"-": run}`` of BM25 and dense) this stage reads."""
    kind = stage.deps[0].kind
    folder, record = ctx.dep(stage, kind)
    if kind in ("bm25", "dense"):
        return {"-": folder / record["outputs"]["run"]}
    return {level: folder / lv["run"] for level, lv in record["outputs"]["levels"].items()}


def run_evaluate(stage, tmp: Path, ctx: Context) -> dict:
    """Per-query measures of every level's run (a query without hits scores 0)."""
    import pandas as pd

    from esplade_eval.evaluate import Evaluator

    p = stage.params
    runs = _runs(stage, ctx)
    evaluation = Evaluator(ctx.collection.qrels(p["split"]), p["measures"],
                           topics=ctx.collection.topics(p["split"])).evaluate({k: str(v) for k, v in runs.items()})
    frames = [evaluation.per_query(level).assign(level=level) for level in runs]
    table = pd.concat(frames).reset_index().rename(columns={"index": "qid"})
    table.to_csv(tmp / "per_query.csv", index=False)
    means = evaluation.aggregate()
    return {"per_query": "per_query.csv", "queries": len(evaluation.queries),
            "mean": {level: {m: float(means.loc[level, m]) for m in p["measures"]} for level in runs}}


def run_cost(stage, tmp: Path, ctx: Context) -> dict:
    """Posting-list statistics of one level's index, per-query postings traversed and FLOPS, latency."""
    import numpy as np

    from esplade_eval.cost.report import LevelSpec, measure_level

    p = stage.params
    folder, record = ctx.dep(stage, "flow")
    lv = record["outputs"]["levels"][p["level"]]
    spec = LevelSpec(stage.system, p["level"], folder / lv["index"], folder / lv["queries"], folder / lv["run"])
    measured = measure_level(spec, hits=p["hits"], passes=p["passes"], warmup=p["warmup"], latency=True,
                             progress=False)
    measured.costs.to_frame().to_csv(tmp / "per_query_cost.csv")
    np.save(tmp / "df.npy", np.asarray(measured.terms.df, dtype=np.int64))
    postings = {k: v for k, v in measured.postings.items() if k not in ("index", "top_terms")}
    return {"summary": measured.summary, "postings": postings, "per_query": "per_query_cost.csv", "df": "df.npy"}


RUNNERS = {"vocab": run_vocab, "pretrain": run_pretrain, "finetune": run_finetune, "flow": run_flow_stage,
           "bm25": run_bm25, "dense": run_dense, "evaluate": run_evaluate, "cost": run_cost}
