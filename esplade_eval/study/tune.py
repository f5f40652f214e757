"""Choosing the shared fine-tuning recipe on the **dev** split: ``esplade-eval study CONFIG --tune``.

The config's ``[tuning]`` section names a system (default ``esplade-no-mlm``: the arms'
starting point, so no arm is favoured) and candidate recipes (overrides of
``[finetune]``). Each candidate fine-tunes that system once per tuning seed; the score is
the dev nDCG@10 of the kept checkpoint (fine-tuning validates on dev and keeps its best
validated step; exact sparse retrieval over the quantised vectors, what Lucene impact
search computes). The test split is never read. Stages are cached like the study's (the
same work folder), and ``<results>-tuning/`` gets ``tuning.md`` and ``tuning.json``; the
chosen recipe is then written into the config's ``[finetune]`` by hand, with a comment.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import replace

from esplade_eval.study.cache import Stage, assign_keys


def tuning_plan(cfg, collection_fp: str) -> list[Stage]:
    """vocab and the tuned system's starting point (as in the study), then one fine-tuning per candidate and seed."""
    from esplade_eval.study import plan as study_plan

    t = cfg.tuning
    refs = {**cfg.references, "esplade_no_mlm": True}
    base = study_plan.build_plan(replace(cfg, seeds=tuple(t["seeds"]), references=refs), collection_fp)
    stages = [s for s in base.stages if s.kind in ("vocab", "pretrain") and s.system in (None, t["system"])]
    fp = {"collection": collection_fp}
    for cand in t["candidates"]:
        for seed in t["seeds"]:
            init = next((s for s in stages if s.kind == "pretrain" and s.seed == seed), None)
            params = {"recipe": cand["recipe"], "init": "pretrained" if init else "splade-tiny", "seed": seed,
                      "threads": cfg.threads, "device": cfg.device}
            stages.append(Stage("finetune", f"tune-{t['system']}-{cand['name']}.s{seed}", params,
                                (init,) if init else (), dict(fp), system=cand["name"], seed=seed))
    assign_keys(stages)
    return stages


def run_tuning(cfg, progress: bool = True, echo=print):
    """Run (or resume) the tuning stages; write ``<results>-tuning/``; returns (outcome, rows)."""
    from esplade_eval._io import atomic_dir
    from esplade_eval.errors import EspladeError
    from esplade_eval.study.cache import StageStore
    from esplade_eval.study.collection import check_splits, prepare_collection
    from esplade_eval.study.engine import opened, run_stages
    from esplade_eval.study.stages import Context

    if not cfg.tuning:
        raise EspladeError(f"{cfg.path}: no [tuning] section")
    store = StageStore(cfg.work)
    with opened(store, echo):
        collection = prepare_collection(cfg, echo=echo)
        check_splits(collection, cfg)
        stages = tuning_plan(cfg, collection.fingerprint)
        echo(f"tuning {cfg.name}: {len(stages)} stages, work folder {cfg.work}")
        outcome = run_stages(stages, store, Context(cfg, collection, store), progress, cfg.jobs)
        rows = tuning_rows(cfg, stages, store)
        folder = cfg.results.parent / f"{cfg.results.name}-tuning"
        with atomic_dir(folder, overwrite=True) as tmp:
            (tmp / "tuning.json").write_text(json.dumps({"config": str(cfg.path), "system": cfg.tuning["system"],
                                                         "seeds": cfg.tuning["seeds"], "candidates": rows,
                                                         "run": outcome.describe()}, indent=1) + "\n")
            (tmp / "tuning.md").write_text(tuning_markdown(cfg, rows, outcome))
    return outcome, rows


def tuning_rows(cfg, stages: list[Stage], store) -> list[dict]:
    from esplade_eval.study.stages import outputs

    rows = []
    for cand in cfg.tuning["candidates"]:
        runs = [store.record(s) for s in stages if s.kind == "finetune" and s.system == cand["name"]]
        runs = [outputs("finetune", r).summary for r in runs if r]
        dev = [r["best"]["nDCG@10"] for r in runs if r["best"]["nDCG@10"] is not None]
        rows.append({"name": cand["name"], "overrides": cand["overrides"], "recipe": cand["recipe"],
                     "dev_ndcg10": dev, "mean": statistics.mean(dev) if dev else None,
                     "sd": statistics.stdev(dev) if len(dev) > 1 else None,
                     "kept_steps": [r["best"]["step"] for r in runs],
                     "train_s": [r.get("train_wall_time_s") for r in runs]})
    return rows


def tuning_markdown(cfg, rows: list[dict], outcome) -> str:
    done = [r for r in rows if r["mean"] is not None]
    best = max(done, key=lambda r: r["mean"]) if done else None
    lines = [f"# Fine-tuning recipe chosen on the dev split ({cfg.name})", "",
             f"System fine-tuned: `{cfg.tuning['system']}`; seeds {cfg.tuning['seeds']}; score: dev nDCG@10 of the "
             "kept checkpoint (best validated step), exact sparse retrieval over rint x100 impacts. The test split "
             "is not read.", "", "| candidate | overrides of [finetune] | dev nDCG@10 | kept step | training s |",
             "|---|---|---|---|---|"]
    for r in rows:
        dev = "–" if r["mean"] is None else f"{r['mean']:.4f}" + (f" ± {r['sd']:.4f}" if r["sd"] is not None else "")
        mark = " **(chosen)**" if r is best else ""
        lines.append(f"| {r['name']}{mark} | `{json.dumps(r['overrides'])}` | {dev} | {r['kept_steps']} | "
                     f"{[round(s or 0) for s in r['train_s']]} |")
    if best:
        same = best["recipe"] == cfg.finetune
        lines += ["", f"Chosen: **{best['name']}**, recipe `{json.dumps(best['recipe'], sort_keys=True)}`.",
                  f"The config's [finetune] {'is' if same else 'is NOT'} this recipe."]
    lines += ["", f"Run: {outcome.describe()}.", ""]
    return "\n".join(lines)
