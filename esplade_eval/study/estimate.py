"""``--dry-run``: the plan, what is cached, and how long the rest should take.

Estimates come from throughputs measured by earlier stages in the same work folder
(pre-training tokens/s, fine-tuning seconds per step, seconds per flow, ...) and, where
there are none yet, from defaults measured on the 2-core development machine (2 torch
threads, tiny models, 7,300 Semanlink titles). Nothing here loads torch or starts a JVM.
"""

from __future__ import annotations

import statistics

#: measured on the 2-core development machine (tiny preset, batch 64, max length 64, 2 threads)
DEFAULTS = {
    "pretrain_tokens_per_s": 15000.0,
    "pretrain_overhead_s": 35.0,  # corpora, tokenisation, held-out MLM evaluation before and after, saving
    "finetune_step_s": {"esplade": 0.12, "splade": 0.30},
    "finetune_validation_s": {"esplade": 12.0, "splade": 18.0},
    "finetune_overhead_s": 10.0,
    "flow_s_per_document": 1 / 500,
    "flow_level_s": 6.0,
    "cost_s": 4.0,
    "evaluate_s": 2.0,
    "bm25_s": 20.0,
    "dense_s": 120.0,
    "vocab_s": 25.0,
}
#: WordPiece tokens per pass (training part, max length 64, texts cut at 40 words), measured
TOKENS_PER_PASS = {"general": 588_814, "wiki": 520_000, "lee": 69_000, "titles": 330_000, "semanlink": 140_000,
                   "films": 190_000}


def _median(values, default):
    values = [v for v in values if v is not None and v > 0]
    return statistics.median(values) if values else default


class Rates:
    """Throughputs from the work folder's earlier records, else :data:`DEFAULTS`."""

    def __init__(self, store):
        pt = [r["outputs"]["summary"] for r in store.history("pretrain")]
        trained = [s for s in pt if s.get("steps")]
        self.tokens_per_s = _median([s.get("tokens_per_s") for s in trained], DEFAULTS["pretrain_tokens_per_s"])
        self.pretrain_overhead = _median([s["wall_time_s"] - s["train_wall_time_s"] for s in pt
                                          if "wall_time_s" in s and "train_wall_time_s" in s],
                                         DEFAULTS["pretrain_overhead_s"])
        self.tokens_per_pass = {tuple(c.get("name") for c in s.get("corpora") or []): s.get("train_tokens_per_pass")
                                for s in pt}
        ft = store.history("finetune")
        self.step_s = {head: _median([r["outputs"]["summary"]["train_wall_time_s"] / r["outputs"]["summary"]["steps"]
                                      for r in ft if _head(r["params"]) == head and r["outputs"]["summary"].get("steps")],
                                     DEFAULTS["finetune_step_s"][head]) for head in ("esplade", "splade")}
        self.validation_s = {head: _median([_per_validation(r) for r in ft if _head(r["params"]) == head],
                                           DEFAULTS["finetune_validation_s"][head]) for head in ("esplade", "splade")}
        self.seconds = {kind: _median([r["seconds"] for r in store.history(kind)], None)
                        for kind in ("flow", "cost", "evaluate", "bm25", "dense", "vocab")}


def _head(params: dict) -> str:
    return "splade" if params.get("init") == "splade-tiny" else "esplade"


def _per_validation(record: dict) -> float | None:
    s = record["outputs"]["summary"]
    n = len(s.get("dev") or [])
    return s.get("validation_wall_time_s", 0) / n if n else None


def _pretrain(params: dict, rates: Rates) -> float:
    if params.get("steps") == 0:
        return rates.pretrain_overhead
    if params.get("steps"):
        tokens = params["steps"] * params.get("batch_size", 64) * 40
    else:
        per_pass = rates.tokens_per_pass.get(tuple(params["corpora"])) or sum(
            TOKENS_PER_PASS.get(c, 100_000) for c in params["corpora"])
        tokens = per_pass * params.get("epochs", 1.0) * params.get("repeats", 1)
    return rates.pretrain_overhead + tokens / rates.tokens_per_s


def _finetune(params: dict, rates: Rates) -> float:
    head, recipe = _head(params), params["recipe"]
    steps = recipe.get("steps", 200)
    every = recipe.get("eval_every") or steps
    validations = steps // every + (1 if recipe.get("validate_init", True) else 0) if recipe.get("validate", True) else 0
    return DEFAULTS["finetune_overhead_s"] + steps * rates.step_s[head] + validations * rates.validation_s[head]


def estimate(stage, rates: Rates, documents: int) -> float:
    """Seconds ``stage`` should take on this machine."""
    if stage.kind == "pretrain":
        return _pretrain(stage.params, rates)
    if stage.kind == "finetune":
        return _finetune(stage.params, rates)
    if rates.seconds.get(stage.kind):
        return rates.seconds[stage.kind]
    if stage.kind == "flow":
        return documents * DEFAULTS["flow_s_per_document"] + len(stage.params["levels"]) * DEFAULTS["flow_level_s"]
    return DEFAULTS[f"{stage.kind}_s"]


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
    return rows, total


def format_plan(rows: list[dict], total: float) -> str:
    lines = [f"{'stage':<9} {'name':<40} {'status':<26} {'estimate':>9}"]
    for r in rows:
        est = f"{r['estimate_s']:.0f} s" if r["status"] != "cached" else "-"
        lines.append(f"{r['kind']:<9} {r['name']:<40} {r['status']:<26} {est:>9}")
    kinds = {}
    for r in rows:
        k = kinds.setdefault(r["kind"], [0, 0, 0.0])
        k[0 if r["status"] == "cached" else 1] += 1
        k[2] += r["estimate_s"]
    lines.append("")
    lines += [f"{kind:<9} {c} cached, {n} to run, about {s / 60:.1f} min" for kind, (c, n, s) in kinds.items()]
    lines.append(f"total: {sum(1 for r in rows if r['status'] == 'cached')} of {len(rows)} stages cached; "
                 f"about {total / 60:.0f} min to run on this machine")
    return "\n".join(lines)
