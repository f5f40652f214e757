"""The study's plots (PNG, written atomically; no pyplot, so no global state).

* ``ndcg_vs_postings.png``: effectiveness against postings traversed per query, one line
  per system, a point per pruning level, error bars = sd over seeds (BM25 as a level line);
* ``mlm_vs_ndcg.png``: held-out MLM accuracy against effectiveness per pre-trained system
  (whole-word accuracy: the WordPiece twins, whose accuracy is per piece, are left out),
  unpruned and at the strictest level, error bars over seeds;
* ``posting_lengths_strictest.png``: posting-list length distributions per arm at the
  strictest level (rank-size and box plots; the first seed's index of each arm).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from esplade_eval._format import figure as _figure
from esplade_eval._format import save_figure as _save


def write_plots(cfg, plan, analysis, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [ndcg_vs_postings(cfg, plan, analysis, folder / "ndcg_vs_postings.png"),
            mlm_vs_ndcg(cfg, plan, analysis, folder / "mlm_vs_ndcg.png"),
            posting_lengths(cfg, plan, analysis, folder / "posting_lengths_strictest.png")]


def _measure(cfg) -> str:
    return cfg.findings["general_high_lr"]["measure"]


def ndcg_vs_postings(cfg, plan, analysis, path: Path) -> Path:
    t, m = analysis.table, _measure(cfg)
    fig, ax = _figure(7.5, 5.2)
    for name, system in plan.systems.items():
        if name not in t.index.get_level_values(0):
            continue
        part = t.loc[name]
        if not system.levels:
            ax.axhline(part[f"{m} mean"].iloc[0], color="grey", linestyle=":", linewidth=1, label=f"{name} (no cost)")
            continue
        part = part.sort_values("postings mean")
        ax.errorbar(part["postings mean"], part[f"{m} mean"], xerr=part["postings sd"].fillna(0),
                    yerr=part[f"{m} sd"].fillna(0), marker="o" if system.kind == "arm" else "s", capsize=3,
                    linestyle="-" if system.kind == "arm" else "--", label=name)
        for level, row in part.iterrows():
            ax.annotate(level, (row["postings mean"], row[f"{m} mean"]), textcoords="offset points", xytext=(3, 3),
                        fontsize=6)
    ax.set_xscale("log")
    ax.set_xlabel("postings traversed per query (mean over queries; exhaustive evaluation)")
    ax.set_ylabel(f"{m} (mean over seeds ± sd)")
    ax.set_title(f"{cfg.name}: effectiveness vs cost, a point per pruning level")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def mlm_vs_ndcg(cfg, plan, analysis, path: Path) -> Path:
    t, m, ev = analysis.table, _measure(cfg), cfg.evaluation
    which = cfg.findings["general_high_lr"]["mlm_set"]
    levels = list(dict.fromkeys([ev.unpruned, ev.strictest]))
    fig, axes = _figure(5.2 * len(levels), 4.6, ncols=len(levels))
    axes = np.atleast_1d(axes)
    for ax, level in zip(axes, levels):
        for name, system in plan.systems.items():
            if not system.pretrained or system.vocab == "wordpiece" or (name, level) not in t.index:
                continue  # a WordPiece twin's accuracy is per piece: not on the whole-word axis
            row = t.loc[(name, level)]
            ax.errorbar(row[f"mlm_{which}_acc mean"], row[f"{m} mean"], xerr=_zero(row[f"mlm_{which}_acc sd"]),
                        yerr=_zero(row[f"{m} sd"]), marker="o" if system.kind == "arm" else "s", capsize=3,
                        linestyle="none", label=name)
        ax.set_xlabel(f"held-out MLM top-1 accuracy ({which})")
        ax.set_ylabel(f"{m} at {level}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{cfg.name}: MLM accuracy vs effectiveness (mean ± sd over seeds)")
    return _save(fig, path)


def _zero(v) -> float:
    return 0.0 if v is None or v != v else float(v)


def posting_lengths(cfg, plan, analysis, path: Path) -> Path:
    from esplade_eval.cost.plots import plot_posting_lengths

    strict, arrays = cfg.evaluation.strictest, {}
    for name, system in plan.systems.items():
        if system.kind != "arm":
            continue
        files = sorted(((seed, f) for (s, seed, lv), f in analysis.data.df_files.items() if s == name and lv == strict),
                       key=lambda x: -1 if x[0] is None else x[0])
        if files:
            seed, f = files[0]
            arrays[name if seed is None else f"{name} (seed {seed})"] = np.load(f)
    if not arrays:
        arrays = {"(no index)": np.zeros(1, dtype=np.int64)}
    return plot_posting_lengths(arrays, path, title=f"{cfg.name}: posting-list lengths at {strict}")
