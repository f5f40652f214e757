"""Formatting for the results folder: numbers, mean ± sd, p-values, Markdown tables.

The pages themselves are put together by :mod:`esplade_eval.study.report`.
"""

from __future__ import annotations

import math
import os
import platform
import sys

from esplade_eval._format import DAGGER, MISSING, md_table
from esplade_eval._format import mean_sd as pm
from esplade_eval._format import pvalue as pval
from esplade_eval._format import readable as num
from esplade_eval._format import readable_signed as signed
from esplade_eval.study.schema import format_value

# --- formatting: esplade_eval._format, under the names this package's pages call -----------

def jsonable(obj):
    """NaN/inf become null; numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


# --- the grid table -----------------------------------------------------------------------------

def grid_columns(cfg) -> list[tuple[str, str, int]]:
    """(column, header, digits) of the summary's grid table."""
    cols = [("mlm_general_acc", "MLM acc. (general)", 3), ("mlm_titles_acc", "MLM acc. (titles)", 3)]
    cols += [(m, m, 4) for m in cfg.evaluation.measures]
    cols += [("postings", "postings traversed / query", 0), ("flops", "FLOPS", 4),
             ("df_variance", "posting-length variance", 0), ("df_gini", "Gini (df)", 3),
             ("latency_ms_p50", "latency p50 (ms)", 2)]
    return cols


def grid_markdown(cfg, analysis) -> list[str]:
    t = analysis.table
    cols = grid_columns(cfg)
    rows = []
    for (system, level), row in t.iterrows():
        cells = [system, level, int(row["seeds"])]
        cells += [pm(row.get(f"{c} mean"), row.get(f"{c} sd"), d) for c, _, d in cols]
        rows.append(cells)
    return md_table(["system", "level", "seeds", *[h for _, h, _ in cols]], rows)


def budget_markdown(cfg, analysis, plan) -> list[str]:
    t = analysis.table
    rows = []
    for name, system in plan.systems.items():
        if not system.pretrained or (name, cfg.evaluation.unpruned) not in t.index:
            continue
        r = t.loc[(name, cfg.evaluation.unpruned)]
        settings = ", ".join(f"{k} {format_value(v)}" for k, v in system.axes.items()) or system.description
        rows.append([name, settings, pm(r["pt_passes mean"], r["pt_passes sd"], 2),
                     pm(r["pt_steps mean"], r["pt_steps sd"], 0), pm(r["pt_tokens mean"], r["pt_tokens sd"], 0),
                     pm(r["ft_best_step mean"], r["ft_best_step sd"], 0), pm(r["ft_dev mean"], r["ft_dev sd"], 4)])
    return md_table(["system", "settings", "passes over the corpus", "steps", "tokens", "fine-tuning step kept",
                     "dev nDCG@10 (kept)"], rows)


def twins_markdown(rows: list[dict]) -> list[str]:
    """ESPLADE vs SPLADE arm by arm (:func:`esplade_eval.study.twins.compare_twins`)."""
    table = [[r["arm"], r["level"], r["seeds"], num(r["expanded"]), num(r["wordpiece"]), signed(r["delta"]),
              pval(r["p"]), pval(r["p_holm"]), pval(r["p_query_only"]), num(r["postings_expanded"], 0),
              num(r["postings_wordpiece"], 0)] for r in rows]
    m = rows[0]["measure"] if rows else "nDCG@10"
    return md_table(["arm", "level", "seeds", f"{m} ESPLADE", f"{m} SPLADE (-wp)", "Δ = ESPLADE − SPLADE",
                     "p (seed-aware)", "p (Holm)", "p (query-only)", "postings / query ESPLADE",
                     "postings / query SPLADE"], table)
def budget_note(cfg) -> str:
    """How the pre-training budget was set (``[pretrain] budget``, :mod:`esplade_eval.train.budget`)."""
    if not any(a.pretrain.get("budget") == "tokens" for a in cfg.arms):
        return "Budget in passes: repeats x epochs passes over each arm's whole corpus."
    return ("Budget in tokens: every arm sees the same tokens per repeat, the smallest arm corpus's token count; "
            "a larger corpus is subsampled per seed (a seeded shuffle's prefix) and `repeats = N` sees that same "
            "subsample N times, so 'passes' count passes over the subsample.")


def comparison_cells(c: dict) -> list[str]:
    ci = MISSING if c.get("ci_low") is None else f"[{signed(c['ci_low'])}, {signed(c['ci_high'])}]"
    seeds = f"{c['seeds_same_sign']}/{c['seed_pairs']}"
    return [num(c["mean_a"]), num(c["mean_b"]), signed(c["delta"]), ci, num(c.get("df"), 1), num(c.get("d_z"), 2),
            pval(c.get("p")), pval(c.get("p_holm")) + (DAGGER if c.get("significant") else ""),
            pval(c.get("p_query")), seeds]


COMPARISON_HEADER = ["A", "B", "Δ = A − B", "95% CI of Δ", "df", "d_z", "p", "p (Holm)", "p (queries only)",
                     "seeds, same sign"]
SEED_AWARE_NOTE = ("CI, df, p and Holm p from the seed-aware test: per-query values of every seed, query and seed "
                   "variance components, Satterthwaite df (esplade_eval.evaluate.seeds); p (queries only) = the "
                   "paired t-test over queries on seed-averaged scores, beside it.")


def bm25_markdown(analysis) -> list[str]:
    rows = [[c["a"], c["level_a"], *comparison_cells(c)] for c in analysis.vs_bm25]
    return md_table(["system", "level", "mean", "BM25", *COMPARISON_HEADER[2:]], rows)


def correlation_markdown(analysis) -> list[str]:
    rows = [[c["x"], c["y"], c["n"], num(c["pearson_r"], 3), pval(c["pearson_p"]), num(c["spearman_rho"], 3),
             pval(c["spearman_p"]), pval(c.get("spearman_p_min")), c.get("spearman_method") or MISSING]
            for c in analysis.correlations]
    return md_table(["x", "y", "arms", "Pearson r", "p", "Spearman ρ", "p", "smallest possible p", "Spearman p"],
                    rows)


def environment() -> dict:
    import importlib.metadata as md

    versions = {}
    for pkg in ("torch", "transformers", "pyserini", "ir_measures"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
            "python": sys.version.split()[0], "versions": versions}


# --- the starting point's parity check -------------------------------------------------------

def parity_markdown(p: dict | None) -> list[str]:
    """The summary's section on the arms' starting point (:mod:`esplade_eval.study.stages.parity`)."""
    lines = ["## Starting point and parity", ""]
    if p is None:
        return lines + ["The parity check has not run yet (it needs esplade-no-mlm and SPLADE-tiny evaluated)."]
    start = p["start"] or {}
    lines += [f"Every arm and `esplade-no-mlm` start from {start.get('source', 'SPLADE-tiny')}'s encoder with its head "
              f"mapped to whole words: {start.get('head', 'unknown')}. Held-out MLM accuracy of that start: "
              + "; ".join(f"{arm} {num(m['accuracy'], 3)} (unigram baseline, always the most frequent word: "
                          f"{num(m['unigram_baseline'], 3)})" for arm, m in p["mlm"].items()) + ".", ""]
    names = {"esplade-start": "ESPLADE start, zero-shot", "splade-tiny-zs": "SPLADE-tiny, zero-shot",
             "esplade-no-mlm": "ESPLADE start, fine-tuned (esplade-no-mlm)",
             "splade-tiny-ft": "SPLADE-tiny, fine-tuned (splade-tiny-ft)"}
    rows = [[label, num(p["scores"].get(name)), str(len(p["per_seed"].get(name, {})))] for name, label in names.items()]
    lines += md_table(["system", f"{p['measure']} at `{p['level']}`", "seeds"], rows) + [""]
    if p["passed"] is None:
        verdict = "**not judged** (a score is missing)"
    else:
        verdict = "**passed**" if p["passed"] else "**FAILED: the starting point is not fair**"
    lines += [f"Parity: {verdict}. SPLADE-tiny fine-tuned - esplade-no-mlm = {signed(p['shortfall'])} "
              f"(tolerance {p['tolerance']:g}); zero-shot gap {signed(p['zero_shot_gap'])}. Rule: {p['rule']}."]
    if p["passed"] is False:
        lines += ["", "The study went on: the arms start from this point, so read their comparisons with SPLADE-tiny "
                  "with the shortfall above in mind."]
    return lines
