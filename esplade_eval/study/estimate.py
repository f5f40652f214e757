"""``--dry-run``: the plan, what is cached, and how long the rest should take.

Estimates come from throughputs measured by earlier stages in the same work folder
(pre-training tokens/s, fine-tuning seconds per step, seconds per flow, ...) and, where
there are none yet, from :data:`DEFAULTS`, scaled by what each stage's time grows with
(documents, lengths, batch sizes, latency passes, held-out texts). The defaults are fitted
to two runs on the 2-core development machine (one torch thread, tiny models): the study
``configs/semanlink-cpu.toml`` (7,300 titles, 152 stages, 58.6 min) and the smoke study
``configs/smoke.toml`` (600 titles, 55 stages, 68 s). Defaults taken from the first alone,
as constants, put the smoke study at 12 min, 11x too high: a fine-tuning run's 10 s of
set-up or a pruning level's 6 s do not hold for 600 titles.
Nothing here loads torch or starts a JVM.
"""

from __future__ import annotations

import statistics

#: fitted to the two runs of the docstring: (smoke, semanlink-cpu) measured -> modelled, in seconds
DEFAULTS = {
    "pretrain_tokens_per_s": 15000.0,  # at batch 64 x length 64, x (batch x length / 4096) ** (1/3) (smoke: 9,500)
    "pretrain_overhead_s": 0.5,  # a run's fixed part, plus:
    "pretrain_tokenise_tokens_per_s": 160_000.0,  # the arm's corpus, once per run
    "pretrain_eval_text_s": 0.062,  # per held-out text, x length / 64 (overhead: 1.2-3.1 -> 2.3; 35 -> 35)
    "finetune_step_s": {"esplade": 0.053, "splade": 0.08},  # a step's fixed part, plus:
    "finetune_step_s_per_token": {"esplade": 3.3e-5, "splade": 1.07e-4},  # x batch x length (0.061 -> 0.061)
    "finetune_validation_s_per_document": {"esplade": 7e-4, "splade": 1.2e-3},  # x length / 32 (0.35 -> 0.42)
    "finetune_overhead_s": 0.25,
    "finetune_overhead_s_per_document": 1.3e-3,  # (0.25 -> 1.0; 10 -> 9.7)
    "flow_s_per_document": 6.7e-4,  # encoding and export, x length / 32
    "flow_level_s": 0.5,  # one Lucene index and search per pruning level, plus:
    "flow_level_s_per_document": 1e-3,  # (2.5 -> 2.6; 33 -> 33)
    "cost_s": 0.05,
    "cost_s_per_document_pass": 1.4e-4,  # x (latency passes + warm-up) (0.1 -> 0.13; 4 -> 4.1)
    "evaluate_s": 0.1,
    "evaluate_s_per_document": 2.5e-4,  # (0.1 -> 0.25; 2 -> 1.9)
    "bm25_s": 0.2,
    "bm25_s_per_document": 2.7e-3,  # (1.0 -> 1.8; 20 -> 20)
    "parity_s": 0.05,  # reads the other stages' records
    "parity_s_per_document": 0.0,
    "dense_s": 2.0,
    "dense_s_per_document": 2.7e-3,  # MiniLM over 7,300 titles: 20 s on 2 quiet cores
    "vocab_s_per_token": 25 / 918_000,  # tokens per pass of its corpora (25 s for general + titles)
    "start_s": 20.0,  # the start stage: loading, mapping the head, reading the corpora
    "start_s_per_align_step": 3.0,
    "startup_s": 5.0,  # the process: imports, the collection, the JVM, results and plots
}
#: WordPiece tokens per pass (training part, max length 64, texts cut at 40 words), measured
TOKENS_PER_PASS = {"general": 588_814, "wiki": 520_000, "lee": 69_000, "titles": 140_000, "semanlink": 140_000,
                   "films": 190_000}


def _median(values, default):
    values = [v for v in values if v is not None and v > 0]
    return statistics.median(values) if values else default


class Rates:
    """Throughputs from the work folder's earlier records, else :data:`DEFAULTS`."""

    def __init__(self, store):
        from esplade_eval.study.stages import outputs

        pt = [outputs("pretrain", r).summary for r in store.history("pretrain")]
        trained = [s for s in pt if s.get("steps")]
        self.tokens_per_s = _median([s.get("tokens_per_s") for s in trained], None)
        self.pretrain_overhead = _median([s["wall_time_s"] - s["train_wall_time_s"] for s in pt
                                          if "wall_time_s" in s and "train_wall_time_s" in s], None)
        self.tokens_per_pass = {tuple(c.get("name") for c in s.get("corpora") or []): s.get("train_tokens_per_pass")
                                for s in pt}
        ft = store.history("finetune")
        self.step_s = {head: _median([_per_step(r) for r in ft if _head(r["params"]) == head], None)
                       for head in ("esplade", "splade")}
        self.validation_s = {head: _median([_per_validation(r) for r in ft if _head(r["params"]) == head], None)
                             for head in ("esplade", "splade")}
        self.seconds = {kind: _median([r["seconds"] for r in store.history(kind)], None)
                        for kind in ("flow", "cost", "evaluate", "bm25", "dense", "vocab")}


def _head(params: dict) -> str:
    return "splade" if params.get("init") == "splade-tiny" else "esplade"


def _per_step(record: dict) -> float | None:
    from esplade_eval.study.stages import outputs

    s = outputs("finetune", record).summary
    return s["train_wall_time_s"] / s["steps"] if s.get("steps") else None


def _per_validation(record: dict) -> float | None:
    from esplade_eval.study.stages import outputs

    s = outputs("finetune", record).summary
    n = len(s.get("dev") or [])
    return s.get("validation_wall_time_s", 0) / n if n else None


def _tokens_per_pass(corpora, rates: Rates) -> float:
    return rates.tokens_per_pass.get(tuple(corpora)) or sum(TOKENS_PER_PASS.get(c, 100_000) for c in corpora)


def _pretrain(params: dict, rates: Rates) -> float:
    per_pass = _tokens_per_pass(params.get("corpora") or [], rates)
    if params.get("budget") == "tokens":  # a repeat is the smallest corpus list's tokens (train.budget)
        per_pass = params.get("budget_tokens") or min(
            [per_pass, *(_tokens_per_pass(c, rates) for c in params.get("budget_corpora") or [])])
    length = params.get("max_length", 64)
    overhead = rates.pretrain_overhead
    if overhead is None:
        overhead = (DEFAULTS["pretrain_overhead_s"] + per_pass / DEFAULTS["pretrain_tokenise_tokens_per_s"]
                    + params.get("eval_texts", 500) * DEFAULTS["pretrain_eval_text_s"] * length / 64)
    if params.get("steps") == 0:
        return overhead
    if params.get("steps"):
        tokens = params["steps"] * params.get("batch_size", 64) * 40
    else:
        tokens = per_pass * params.get("epochs", 1.0) * params.get("repeats", 1)
    speed = rates.tokens_per_s or DEFAULTS["pretrain_tokens_per_s"] * (params.get("batch_size", 64) * length
                                                                       / 4096) ** (1 / 3)
    return overhead + tokens / speed


def _finetune(params: dict, rates: Rates, documents: int) -> float:
    head, recipe = _head(params), params["recipe"]
    steps = recipe.get("steps", 200)
    every = recipe.get("eval_every") or steps
    validations = steps // every + (1 if recipe.get("validate_init", True) else 0) if recipe.get("validate", True) else 0
    length = recipe.get("max_doc_length", 64)
    step_s = rates.step_s[head] or (DEFAULTS["finetune_step_s"][head] + DEFAULTS["finetune_step_s_per_token"][head]
                                    * recipe.get("batch_size", 32) * length)
    validation_s = rates.validation_s[head] or (
        DEFAULTS["finetune_validation_s_per_document"][head] * documents * length / 32)
    overhead = DEFAULTS["finetune_overhead_s"] + documents * DEFAULTS["finetune_overhead_s_per_document"]
    return overhead + steps * step_s + validations * validation_s


def _by_size(stage, documents: int, rates: Rates) -> float:
    """The stages whose time grows with the collection (and their own settings)."""
    p, d = stage.params, DEFAULTS
    if stage.kind == "flow":
        return (documents * d["flow_s_per_document"] * p.get("max_length", 64) / 32
                + len(p["levels"]) * (d["flow_level_s"] + documents * d["flow_level_s_per_document"]))
    if stage.kind == "cost":
        return d["cost_s"] + documents * d["cost_s_per_document_pass"] * (p.get("passes", 3) + p.get("warmup", 1))
    if stage.kind == "vocab":
        return _tokens_per_pass(p.get("corpora") or [], rates) * d["vocab_s_per_token"]
    if stage.kind == "start":  # alignment steps (measured: ~3 s a step on one thread of the 2-core machine)
        return d["start_s"] + p.get("align_steps", 0) * d["start_s_per_align_step"]
    return d[f"{stage.kind}_s"] + documents * d[f"{stage.kind}_s_per_document"]


def estimate(stage, rates: Rates, documents: int) -> float:
    """Seconds ``stage`` should take on this machine."""
    if stage.kind == "pretrain":
        return _pretrain(stage.params, rates)
    if stage.kind == "finetune":
        return _finetune(stage.params, rates, documents)
    if rates.seconds.get(stage.kind):
        return rates.seconds[stage.kind]
    return _by_size(stage, documents, rates)


def plan_table(plan, store, documents: int) -> tuple[list[dict], float]:
    """One row per stage (kind, name, status, estimated seconds) and the estimated total to run."""
    rates = Rates(store)
    rows, total = [], 0.0
    for stage in plan.stages:
        if store.record(stage) is not None:
            status, seconds = "cached", 0.0
        else:
            status = "failed before, will retry" if store.failure(stage) else "to run"
            seconds = estimate(stage, rates, documents)
            total += seconds
        rows.append({"kind": stage.kind, "name": stage.name, "status": status, "estimate_s": round(seconds, 1),
                     "key": stage.key[:16]})
    if total:
        total += DEFAULTS["startup_s"]
    return rows, total


def format_plan(rows: list[dict], total: float) -> str:
    lines = [f"{'stage':<9} {'name':<40} {'status':<26} {'estimate':>9}"]
    for r in rows:
        est = _duration(r["estimate_s"]) if r["status"] != "cached" else "-"
        lines.append(f"{r['kind']:<9} {r['name']:<40} {r['status']:<26} {est:>9}")
    kinds = {}
    for r in rows:
        k = kinds.setdefault(r["kind"], [0, 0, 0.0])
        k[0 if r["status"] == "cached" else 1] += 1
        k[2] += r["estimate_s"]
    lines.append("")
    lines += [f"{kind:<9} {c} cached, {n} to run, about {_duration(s)}" for kind, (c, n, s) in kinds.items()]
    lines.append(f"total: {sum(1 for r in rows if r['status'] == 'cached')} of {len(rows)} stages cached; "
                 f"about {_duration(total)} to run on this machine")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def makespan(stages, seconds: list[float], jobs: int) -> float:
    """The wall time of ``stages`` (plan order, ``seconds`` each) on ``jobs`` workers scheduled as
    :mod:`esplade_eval.study.pool` does: the first ready stages in plan order start whenever a
    worker is free, a stage of an ``EXCLUSIVE`` kind alone. Assumes each job has a core of its
    own (``threads = 1`` per job on as many cores)."""
    import heapq

    from esplade_eval.study.pool import exclusive

    alone = [exclusive(s) for s in stages]
    index = {id(s): i for i, s in enumerate(stages)}
    deps = [[index[id(d)] for d in s.deps if id(d) in index] for s in stages]
    finished: dict[int, float] = {}
    pending, running, now = list(range(len(stages))), [], 0.0  # running: a heap of (end, stage)
    while pending or running:
        for i in [i for i in pending if all(d in finished for d in deps[i])]:
            if len(running) >= jobs or any(alone[r] for _, r in running) or (running and alone[i]):
                continue
            pending.remove(i)
            heapq.heappush(running, (now + seconds[i], i))
        now, done = heapq.heappop(running)
        finished[done] = now
    return now
