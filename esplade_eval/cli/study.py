"""``esplade-eval study CONFIG``: the pre-training study of a config file, cached and resumable."""

from __future__ import annotations

from esplade_eval import guard
from esplade_eval.cli._args import define_progress_args, positive_int, progress_of
from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser(
        "study", help="the pre-training study of a config: arms x seeds x pruning levels, references, findings",
        description="Run (or resume) the study a TOML config describes: pre-training arms (grid and/or explicit) "
                    "x seeds, one fine-tuning recipe, reference systems (BM25, SPLADE-tiny zero-shot and "
                    "fine-tuned, ESPLADE without MLM pre-training), every pruning level through Anserini and "
                    "Lucene, effectiveness and cost, and the three findings' verdicts. Every stage is cached by a "
                    "hash of what produced it: a rerun recomputes nothing, an interrupted study resumes. Exit "
                    "status 1 when a stage failed (the others still run), 2 for a bad config.")
    p.add_argument("config", help="study config (TOML), e.g. configs/smoke.toml")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan (stages to run, cached, estimated time) and stop; loads no model")
    p.add_argument("--tune", action="store_true",
                   help="run the config's [tuning] section instead: candidate fine-tuning recipes scored on dev")
    p.add_argument("--work", default=None, help="artifacts folder (default: the config's, or artifacts/study/NAME)")
    p.add_argument("--results", default=None, help="results folder (default: the config's, or results/NAME)")
    p.add_argument("--threads", type=positive_int, default=None, help="override the config's threads")
    p.add_argument("--jobs", type=positive_int, default=None,
                   help="stages run at once, each in a worker process (default: the config's jobs, else 1); "
                        "the same results and cache keys as 1")
    define_progress_args(p)
    declare_paths(p, inputs=["config"], outputs={"work": guard.STUDY_WORK, "results": guard.RESULTS})
    p.set_defaults(func=run)


def run(args):
    from dataclasses import replace

    from esplade_eval.study.config import load_config

    cfg = load_config(args.config, work=args.work, results=args.results)
    if args.threads:
        cfg = replace(cfg, threads=args.threads)
    if args.jobs:
        cfg = replace(cfg, jobs=args.jobs)
    if args.dry_run:
        return dry_run(cfg, args.tune)
    if args.tune:
        from esplade_eval.study.tune import run_tuning

        outcome, _ = run_tuning(cfg, progress=_bar(args))
        print(outcome.describe())
        print(f"written: {cfg.results.parent / (cfg.results.name + '-tuning')}/tuning.md")
        return 0 if outcome.ok else 1
    from esplade_eval.study.driver import run_study

    outcome, analysis = run_study(cfg, progress=_bar(args))
    print(outcome.describe())
    for f in analysis.findings:
        print(f"{f.name}: {f.verdict}")
    for r in outcome.failed:
        print(f"{r.status}: {r.stage.label}: {r.error}")
    print(f"written: {cfg.results}/summary.md, findings.md, grid.csv, per_seed.csv, results.json, plots/")
    return 0 if outcome.ok else 1


def dry_run(cfg, tune: bool = False) -> int:
    import os

    from esplade_eval.study.cache import StageStore
    from esplade_eval.study.collection import prepare_collection
    from esplade_eval.study.estimate import DEFAULTS, format_plan, makespan, plan_table
    from esplade_eval.study.plan import build_plan

    collection = prepare_collection(cfg, create=False)
    fp = collection.fingerprint if collection is not None else None
    if tune:
        from esplade_eval.study.plan import Plan
        from esplade_eval.study.tune import tuning_plan

        plan = Plan(tuning_plan(cfg, fp), {})
    else:
        plan = build_plan(cfg, fp)
    documents = cfg.collection.get("documents") or 7300
    rows, total = plan_table(plan, StageStore(cfg.work), documents)
    print(f"study {cfg.name} ({cfg.path}): {len(cfg.arms)} arms x {len(cfg.seeds)} seeds, references "
          f"{', '.join(cfg.reference_names) or 'none'}; levels {', '.join(cfg.evaluation.levels)} "
          f"(strictest {cfg.evaluation.strictest}); work {cfg.work}, results {cfg.results}")
    if collection is None:
        print("the collection is not built yet: every stage will run")
    print(format_plan(rows, total))
    if cfg.jobs > 1 and total:
        wall = makespan(plan.stages, [r["estimate_s"] for r in rows], cfg.jobs) + DEFAULTS["startup_s"]
        print(f"with --jobs {cfg.jobs}: about {wall / 60:.0f} min of wall time, if each job has a core of its own "
              f"(threads = {cfg.threads} per job, {os.cpu_count()} CPUs here)")
    return 0


def _bar(args) -> bool:
    """``--progress`` / ``--quiet``, else a bar only when stderr is a terminal."""
    import sys

    value = progress_of(args)
    return sys.stderr.isatty() if value is None else value
