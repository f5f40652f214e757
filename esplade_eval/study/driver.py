"""Run (or resume) a study: every stage of the plan on the engine (:mod:`.engine`), then its results.

A failing stage is recorded, its dependants are skipped, every other stage still runs, and
the outcome says which failed (the CLI's exit status is then 1). The tables are computed
afresh from the records at the end of every run (seconds), so the results folder always
reflects the artifacts on disk.
"""

from __future__ import annotations

from esplade_eval.study.cache import StageStore


def run_study(cfg, progress: bool = True, echo=print):
    """Run or resume ``cfg`` (a :class:`~esplade_eval.study.config.StudyConfig`); write its results folder.

    Returns ``(outcome, analysis)``.
    """
    from esplade_eval.study.analysis import analyse
    from esplade_eval.study.collection import check_splits, prepare_collection
    from esplade_eval.study.engine import opened, run_stages
    from esplade_eval.study.plan import build_plan
    from esplade_eval.study.report import write_results
    from esplade_eval.study.stages import Context

    store = StageStore(cfg.work)
    with opened(store, echo):
        collection = prepare_collection(cfg, echo=echo)
        check_splits(collection, cfg)
        plan = build_plan(cfg, collection.fingerprint)
        echo(f"study {cfg.name}: {len(plan.stages)} stages, work folder {cfg.work}")
        outcome = run_stages(plan.stages, store, Context(cfg, collection, store), progress, cfg.jobs)
        analysis = analyse(cfg, plan, store)
        write_results(cfg, plan, store, analysis, outcome)
    return outcome, analysis
