"""The tiny pre-training study: does MLM pre-training of an ESPLADE model pay off?

Four systems, all evaluated on the Semanlink **test** split (nDCG@10, exact sparse
retrieval over quantised vectors, :mod:`esplade_eval.train.validation`):

* ``a-esplade-pt-ft``: ESPLADE tiny, MLM pre-trained (``pretrain`` section), then fine-tuned;
* ``b-esplade-random-ft``: the same architecture and output vocabulary, fine-tuned from random init;
* ``c-splade-tiny-zs``: SPLADE-tiny zero-shot;
* ``d-splade-tiny-ft``: SPLADE-tiny fine-tuned with the same recipe.

Fine-tuning uses one recipe (the ``finetune`` section) for a, b and d. Per-query nDCG@10
comes from :mod:`esplade_eval.evaluate` (ir_measures); every pair of systems gets a
paired t-test (``scipy.stats.ttest_rel``) with Holm's correction over all pairs.
With ``"ablations": true`` two more systems separate the parts of (a): ``e`` (SPLADE-tiny
encoder and a mapped head, no MLM pre-training) and ``f`` (MLM pre-training from random
init, no encoder init).
Checkpoints live under ``work`` and are reused when their config is unchanged, so a
re-run resumes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SYSTEMS = {
    "a-esplade-pt-ft": "ESPLADE tiny, MLM pre-trained, then fine-tuned",
    "b-esplade-random-ft": "ESPLADE tiny, random init, fine-tuned",
    "c-splade-tiny-zs": "SPLADE-tiny zero-shot",
    "d-splade-tiny-ft": "SPLADE-tiny fine-tuned",
}
#: with ``"ablations": true``: what the MLM pre-training of (a) adds, and what its encoder init adds
ABLATIONS = {
    "e-esplade-mapped-ft": "ESPLADE tiny, SPLADE-tiny encoder + mapped head, no MLM pre-training, fine-tuned",
    "f-esplade-scratch-pt-ft": "ESPLADE tiny, MLM pre-trained from random init (no encoder init), fine-tuned",
}
#: system -> the pre-training run it starts from (folder name, overrides of the pretrain section)
PRETRAINED = {
    "a-esplade-pt-ft": ("esplade-pretrained", {}),
    "e-esplade-mapped-ft": ("esplade-mapped", {"steps": 0}),
    "f-esplade-scratch-pt-ft": ("esplade-scratch-pretrained", {"init_encoder": None}),
}


def _key(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def _cached(folder: Path, key: str) -> bool:
    return (folder / "study_key.txt").is_file() and (folder / "study_key.txt").read_text().strip() == key


def _mark(folder: Path, key: str) -> None:
    from esplade_eval._io import atomic_file

    with atomic_file(folder / "study_key.txt") as fh:
        fh.write(key + "\n")


def run_study(config: str | os.PathLike, work: str | os.PathLike, results: str | os.PathLike,
              threads: int | None = None) -> str:
    """Run (or resume) the study; write ``<results>.md`` and ``<results>.json``; return the markdown."""
    import torch

    from esplade_eval._io import atomic_file, write_json
    from esplade_eval.data.collection import collection_from_config

    with open(config, encoding="utf-8") as fh:
        cfg = json.load(fh)
    threads = threads or cfg.get("threads")
    if threads:
        torch.set_num_threads(threads)
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    collection = collection_from_config(cfg.get("collection"))  # a spec, or where Semanlink is built
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    systems = dict(SYSTEMS) | (ABLATIONS if cfg.get("ablations") else {})
    pt_keys = _pretrain_systems(cfg, work, systems, threads, timings)
    checkpoints = _finetune_systems(cfg, work, systems, collection, threads, pt_keys, timings)
    test, runs, stats_by_system = _test_systems(cfg, collection, systems, checkpoints, threads, timings)
    names = list(systems)
    means, pairs, n_queries = _paired_tests(test.qrels, runs, names)
    budget = _budget(work, names)
    compute_s = sum(v.get("wall_time_s") or 0 for v in budget.values()) + sum(
        v for k, v in timings.items() if k.startswith("test "))
    total_s = time.perf_counter() - t0
    out = {"config": cfg, "queries": n_queries, "documents": len(test.doc_ids), "means": means,
           "pairs": pairs, "systems": {n: {"description": systems[n], "checkpoint": checkpoints[n], **stats_by_system[n]}
                                       for n in names},
           "budget": budget, "timings_this_run_s": {k: round(v, 1) for k, v in timings.items()},
           "study_wall_time_this_run_s": round(total_s, 1),
           "compute_time_all_stages_s": round(compute_s, 1), "threads": torch.get_num_threads(),
           "platform": platform.platform(), "cpu_count": os.cpu_count()}
    md = render_markdown(out)
    results = Path(results)
    results.parent.mkdir(parents=True, exist_ok=True)
    write_json(results.with_suffix(".json"), out)
    with atomic_file(results.with_suffix(".md")) as fh:
        fh.write(md)
    return md


def _pretrain_systems(cfg: dict, work: Path, systems: dict, threads, timings: dict) -> dict[str, str]:
    """Pre-train what the systems start from (cached by config); ``{system: pretrain key}``."""
    from esplade_eval.train.pretrain import PretrainConfig, pretrain

    seed = cfg.get("seed", 0)
    pt_keys = {}
    for name, (folder_name, overrides) in PRETRAINED.items():
        if name not in systems:
            continue
        section = {**cfg["pretrain"], **overrides}
        folder = work / folder_name
        pt_keys[name] = _key(section | {"seed": seed})
        if not _cached(folder, pt_keys[name]):
            t = time.perf_counter()
            pretrain(PretrainConfig(**{**section, "seed": seed, "threads": threads,
                                       "progress": cfg.get("progress", True)}), folder, overwrite=True)
            _mark(folder, pt_keys[name])
            timings[f"pretrain {folder_name}"] = time.perf_counter() - t
    return pt_keys


def _finetune_systems(cfg: dict, work: Path, systems: dict, collection, threads, pt_keys: dict,
                      timings: dict) -> dict[str, str]:
    """Fine-tune every system with the one recipe (cached by config); ``{system: checkpoint}``."""
    from esplade_eval.train.finetune import FinetuneConfig, finetune

    seed = cfg.get("seed", 0)
    # every pre-training run builds the same output vocabulary (same corpora, size, seed-free)
    pt_dir = work / PRETRAINED["a-esplade-pt-ft"][0]
    ft_common = {**cfg["finetune"], "collection": str(collection.root), "seed": seed, "threads": threads,
                 "progress": cfg.get("progress", True)}
    inits = {n: {"init": str(work / PRETRAINED[n][0])} for n in PRETRAINED if n in systems}
    inits["b-esplade-random-ft"] = {"init": "random", "vocab": str(pt_dir), "preset": cfg.get("preset", "tiny")}
    inits["d-splade-tiny-ft"] = {"init": "splade-tiny"}
    checkpoints = {"c-splade-tiny-zs": "splade-tiny"}
    for name in systems:
        if name not in inits:
            continue
        init = inits[name]
        folder = work / name
        key = _key(cfg["finetune"] | init | {"seed": seed, "pretrain": pt_keys.get(name)})
        if not _cached(folder, key):
            t = time.perf_counter()
            finetune(FinetuneConfig(**{**ft_common, **init}), folder, overwrite=True)
            _mark(folder, key)
            timings[f"finetune {name}"] = time.perf_counter() - t
        checkpoints[name] = str(folder)
    return checkpoints


def _test_systems(cfg: dict, collection, systems: dict, checkpoints: dict, threads, timings: dict):
    """``(test split, {system: run}, {system: stats})`` on the test split."""
    from esplade_eval.model.encoder import SpladeEncoder
    from esplade_eval.train.validation import evaluate_encoder, load_split

    test = load_split(collection, "test")
    runs, stats_by_system = {}, {}
    max_len = cfg["finetune"].get("max_doc_length", 64)
    for name in systems:
        t = time.perf_counter()
        enc = SpladeEncoder.from_checkpoint(checkpoints[name], max_length=max_len, threads=threads)
        res = evaluate_encoder(enc, test)
        runs[name] = res["run"]
        stats_by_system[name] = {**res["stats"], "vocab_size": enc.info.vocab_size, "vocab_source": enc.info.vocab_source,
                                 "nDCG@10 (own)": res["aggregate"]["nDCG@10"]}
        timings[f"test {name}"] = time.perf_counter() - t
    return test, runs, stats_by_system


def _paired_tests(qrels, runs: dict, names: list[str]) -> tuple[dict, list[dict], int]:
    """Means, every pair's paired t-test on per-query nDCG@10 (Holm over the pairs), query count."""
    from scipy import stats

    from esplade_eval.evaluate import correct  # statsmodels' multipletests
    from esplade_eval.evaluate.metrics import evaluate as evaluate_runs

    evaluation = evaluate_runs(qrels, runs, ["nDCG@10"])
    per_query = {n: evaluation.per_query(n)["nDCG@10"] for n in names}
    means = {n: float(per_query[n].mean()) for n in names}
    pairs = []
    for x, y in itertools.combinations(names, 2):
        a, b = per_query[x].to_numpy(), per_query[y].to_numpy()
        t_stat, p = stats.ttest_rel(a, b)
        pairs.append({"a": x, "b": y, "mean_a": means[x], "mean_b": means[y], "delta": float((a - b).mean()),
                      "t": float(t_stat), "p": float(p), "wins": int((a > b).sum()), "ties": int((a == b).sum()),
                      "losses": int((a < b).sum())})
    adjusted, _ = correct(np.array([p["p"] for p in pairs]), "holm")
    for pair, padj in zip(pairs, adjusted.tolist()):
        pair["p_holm"] = padj
    return means, pairs, len(evaluation.queries)


def _budget(work: Path, names: list[str]) -> dict:
    budget = {}
    for name, (folder_name, _) in PRETRAINED.items():
        pt = work / folder_name / "training_state.json"
        if name in names and pt.is_file():
            s = json.loads(pt.read_text())
            budget[f"pretrain {folder_name}"] = {
                k: s.get(k) for k in ("steps", "tokens_seen", "passes_over_corpus", "train_wall_time_s", "wall_time_s",
                                      "tokens_per_s", "heldout_mlm", "heldout_mlm_before", "lr_schedule",
                                      "output_vocab", "corpora", "model")}
    for n in names:
        f = work / n / "finetune_state.json"
        if f.is_file():
            s = json.loads(f.read_text())
            budget[n] = {k: s.get(k) for k in ("steps", "passes_over_pairs", "train_pairs", "best", "dev",
                                                "train_wall_time_s", "validation_wall_time_s", "wall_time_s",
                                                "probe_loss_before", "probe_loss_after")}
    return budget


def render_markdown(out: dict) -> str:
    names = list(out["means"])
    lines = ["# Tiny ESPLADE pre-training study (Semanlink test split)", "",
             f"{out['queries']} test queries, {out['documents']} documents (titles); nDCG@10 via ir_measures over "
             "exact sparse retrieval (rint x100 impacts, brute-force dot product = Lucene impact search).", "",
             "| system | description | nDCG@10 | avg doc terms | avg query terms | output vocab |",
             "|---|---|---|---|---|---|"]
    for n in names:
        s = out["systems"][n]
        lines.append(f"| {n} | {s['description']} | {out['means'][n]:.4f} | {s['avg_doc_terms']:.1f} | "
                     f"{s['avg_query_terms']:.1f} | {s['vocab_size']} ({s['vocab_source']}) |")
    lines += ["", f"Paired t-tests on per-query nDCG@10 (scipy.stats.ttest_rel; Holm over the {len(out['pairs'])} pairs):", "",
              "| A | B | mean A | mean B | A - B | t | p | p (Holm) | A wins / ties / losses |",
              "|---|---|---|---|---|---|---|---|---|"]
    for p in out["pairs"]:
        lines.append(f"| {p['a']} | {p['b']} | {p['mean_a']:.4f} | {p['mean_b']:.4f} | {p['delta']:+.4f} | "
                     f"{p['t']:.2f} | {p['p']:.3g} | {p['p_holm']:.3g} | {p['wins']} / {p['ties']} / {p['losses']} |")
    b = out["budget"]
    lines += ["", "## Training budget", ""]
    for key, pt in b.items():
        if not key.startswith("pretrain "):
            continue
        mlm = pt.get("heldout_mlm") or {}
        before = pt.get("heldout_mlm_before") or {}
        acc = "; ".join(f"{arm}: {v['accuracy']:.3f} (before {before.get(arm, {}).get('accuracy', float('nan')):.3f}, "
                        f"frequency baseline {v['frequency_baseline_accuracy']:.3f})" for arm, v in mlm.items())
        rate = f"{pt['tokens_per_s']:,.0f} tokens/s" if pt.get("tokens_per_s") else "no training"
        lines.append(f"- {key}: {pt['steps']} steps, {pt['tokens_seen']:,} tokens, "
                     f"{pt['passes_over_corpus']:.2f} passes over the corpus, {pt['train_wall_time_s']:.0f} s training "
                     f"({rate}); encoder init: {pt['model'].get('init_encoder') or 'random'}; "
                     f"output vocabulary {pt['output_vocab']['size']} words; held-out MLM top-1: {acc}")
    for n in names:
        if n in b:
            f = b[n]
            dev = ", ".join(f"step {d['step']}: {d['nDCG@10']:.4f}" for d in f.get("dev") or [])
            lines.append(f"- fine-tuning {n}: {f['steps']} steps ({f['passes_over_pairs']:.2f} passes over "
                         f"{f['train_pairs']} train pairs), {f['train_wall_time_s']:.0f} s training, "
                         f"{f['validation_wall_time_s']:.0f} s validation; dev nDCG@10 {dev}; kept step {f['best']['step']}")
    lines += ["", f"Compute time of all stages (pre-training, fine-tuning with validation, test encoding): "
              f"{out['compute_time_all_stages_s']:.0f} s. "
              f"Wall time of the run that wrote this file: {out['study_wall_time_this_run_s']:.0f} s "
              f"({out['threads']} torch threads, {out['cpu_count']} CPUs, shared machine: {out['platform']}).",
              f"Stage times: {json.dumps(out['timings_this_run_s'])}", ""]
    return "\n".join(lines)
