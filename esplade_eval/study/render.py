"""The results folder: Markdown summary and findings, CSV and JSON of everything, plots.

``<results>/``::

    summary.md        grid table (a row per system x level, mean ± sd over seeds), budgets,
                      every system vs BM25, correlations across arms, verdicts, failures
    findings.md       the three findings: table, verdict, rule
    findings.json     the same as data
    grid.csv          mean and sd over seeds per (system, level)
    per_seed.csv      one row per (system, seed, level)
    per_query.csv.gz  per-query measures, postings traversed, FLOPS, query length
    results.json      all of the above plus the config, the machine, the stages' records
    plots/            ndcg_vs_postings.png, mlm_vs_ndcg.png, posting_lengths_strictest.png

The folder is written under a temporary name and renamed when complete. Timing fields
(latency, wall times, throughputs) are the only numbers that differ between two runs of
the same config with the same seeds.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from dataclasses import dataclass, field

from esplade_eval.study import findings as fnd
from esplade_eval.study import stats
from esplade_eval.study.schema import format_value


@dataclass
class Analysis:
    data: stats.StudyData
    table: object  # aggregate DataFrame
    findings: list = field(default_factory=list)
    vs_bm25: list = field(default_factory=list)
    correlations: list = field(default_factory=list)


def analyse(cfg, plan, store) -> Analysis:
    """Tables, comparisons and verdicts from the complete stages of ``plan``."""
    data = stats.collect(plan, store, cfg.evaluation.measures)
    if not len(data.rows):
        return Analysis(data, None)
    table = stats.aggregate(data.rows, order=list(plan.systems))
    return Analysis(data, table, fnd.judge(cfg, data), fnd.versus_bm25(cfg, data, plan), fnd.correlations(cfg, data))


# --- formatting ---------------------------------------------------------------------------

def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def num(v, digits: int = 4) -> str:
    if _missing(v):
        return "–"
    v = float(v)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def pm(mean, sd, digits: int = 4) -> str:
    """``mean ± sd``; the mean alone for one seed."""
    if _missing(mean):
        return "–"
    return num(mean, digits) if _missing(sd) else f"{num(mean, digits)} ± {num(sd, digits)}"


def signed(v, digits: int = 4) -> str:
    if _missing(v):
        return "–"
    return f"{v:+,.0f}" if abs(v) >= 100 else f"{v:+.{digits}f}"


def pval(p) -> str:
    if _missing(p):
        return "–"
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


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


def grid_markdown(cfg, analysis: Analysis) -> list[str]:
    t = analysis.table
    cols = grid_columns(cfg)
    rows = []
    for (system, level), row in t.iterrows():
        cells = [system, level, int(row["seeds"])]
        cells += [pm(row.get(f"{c} mean"), row.get(f"{c} sd"), d) for c, _, d in cols]
        rows.append(cells)
    return md_table(["system", "level", "seeds", *[h for _, h, _ in cols]], rows)


def budget_markdown(cfg, analysis: Analysis, plan) -> list[str]:
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


def comparison_cells(c: dict) -> list[str]:
    ci = "–" if c.get("ci_low") is None else f"[{signed(c['ci_low'])}, {signed(c['ci_high'])}]"
    seeds = f"{c['seeds_same_sign']}/{c['seed_pairs']}"
    return [num(c["mean_a"]), num(c["mean_b"]), signed(c["delta"]), ci, num(c.get("d_z"), 2), pval(c.get("p")),
            pval(c.get("p_holm")) + ("†" if c.get("significant") else ""), seeds]


COMPARISON_HEADER = ["A", "B", "Δ = A − B", "95% CI of Δ", "d_z", "p", "p (Holm)", "seeds, same sign"]


def bm25_markdown(analysis: Analysis) -> list[str]:
    rows = [[c["a"], c["level_a"], *comparison_cells(c)] for c in analysis.vs_bm25]
    return md_table(["system", "level", "mean", "BM25", *COMPARISON_HEADER[2:]], rows)


def correlation_markdown(analysis: Analysis) -> list[str]:
    rows = [[c["x"], c["y"], c["n"], num(c["pearson_r"], 3), pval(c["pearson_p"]), num(c["spearman_rho"], 3),
             pval(c["spearman_p"])] for c in analysis.correlations]
    return md_table(["x", "y", "arms", "Pearson r", "p", "Spearman ρ", "p"], rows)


# --- writing ------------------------------------------------------------------------------------

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


def write_results(cfg, plan, store, analysis: Analysis, outcome) -> None:
    """Write the results folder atomically (see the module docstring)."""
    from esplade_eval._io import atomic_dir
    from esplade_eval.study import plots, report

    with atomic_dir(cfg.results, overwrite=True) as tmp:
        payload = report.payload(cfg, plan, store, analysis, outcome)
        _write(tmp / "results.json", json.dumps(jsonable(payload), indent=1, ensure_ascii=False) + "\n")
        _write(tmp / "findings.json", json.dumps(jsonable([f.to_dict() for f in analysis.findings]), indent=1,
                                                 ensure_ascii=False) + "\n")
        _write(tmp / "summary.md", report.summary_markdown(cfg, plan, analysis, outcome, payload))
        _write(tmp / "findings.md", report.findings_markdown(cfg, analysis))
        if analysis.table is not None:
            analysis.table.to_csv(tmp / "grid.csv", float_format="%.10g")
            analysis.data.rows.to_csv(tmp / "per_seed.csv", index=False, float_format="%.10g")
            report.per_query_frame(analysis.data).to_csv(tmp / "per_query.csv.gz", index=False, float_format="%.10g")
            plots.write_plots(cfg, plan, analysis, tmp / "plots")


def _write(path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
