"""Statistics that respect seeds: per-seed rows, mean ± sd over seeds, paired arm comparisons.

* **Per seed**: one row per (system, seed, level) with every measure (mean over the
  queries), held-out MLM accuracy and loss, the cost read from the level's index and the
  training budget.
* **Over seeds**: mean and standard deviation (ddof 1) of every column per (system, level).
* **Comparisons** count seeds: each system's per-query values form a (queries x seeds)
  matrix and Δ is tested by :mod:`esplade_eval.evaluate.seeds` (variance components over
  queries and seeds, Satterthwaite df; seed ``i`` of each system paired, a single run
  broadcast, or each system's own seed variance when the seeds differ). The query-only
  paired t-test on seed-averaged scores stays beside it (``p_query``), with Cohen's d_z;
  families of comparisons are Holm-corrected on the seed-aware p-values with
  :func:`esplade_eval.evaluate.correct`. Beside each comparison: in how many seeds the
  system's own difference has the same sign as Δ.
* **Correlations** (Pearson, and Spearman with an exact or permutation p that never falls below its
  exact minimum 2/n!).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from esplade_eval.study.schema import MLM_SETS

MLM_COLUMNS = tuple(f"mlm_{arm}_{m}" for arm in MLM_SETS for m in ("acc", "loss"))
COST_COLUMNS = ("postings", "flops", "query_length", "doc_length", "terms", "df_variance", "df_cv", "df_gini",
                "query_df_variance", "query_df_gini")
TIMING_COLUMNS = ("latency_ms_mean", "latency_ms_p50", "latency_ms_p95")
BUDGET_COLUMNS = ("pt_steps", "pt_tokens", "pt_passes", "ft_best_step", "ft_dev")
PER_QUERY_COST = ("postings", "flops", "query_length")
NO_LEVEL = "-"


@dataclass
class StudyData:
    """Everything the tables are computed from, read back from the stage records."""

    rows: object  # pandas DataFrame, one row per (system, seed, level)
    per_query: dict = field(default_factory=dict)  # (system, seed, level) -> DataFrame qid x values
    df_files: dict = field(default_factory=dict)  # (system, seed, level) -> posting lengths (.npy)
    missing: list = field(default_factory=list)  # labels of stages without a complete record
    measures: tuple = ()


# --- reading the records ----------------------------------------------------------------

def _mlm(summary: dict) -> dict:
    mlm = summary.get("heldout_mlm") or {}
    out = {}
    for arm in MLM_SETS:
        part = mlm.get(arm) or {}
        out[f"mlm_{arm}_acc"] = part.get("accuracy")
        out[f"mlm_{arm}_loss"] = part.get("loss")
    return out


def _budget(pt: dict | None, ft: dict | None) -> dict:
    out = dict.fromkeys(BUDGET_COLUMNS)
    if pt:
        out.update(pt_steps=pt.get("steps"), pt_tokens=pt.get("tokens_seen"), pt_passes=pt.get("passes_over_corpus"))
    if ft:
        best = ft.get("best") or {}
        out.update(ft_best_step=best.get("step"), ft_dev=best.get("nDCG@10"))
    return out


def _cost_row(cost) -> dict:
    """The per-seed row's cost columns from a cost stage's ``Outputs`` (None: no cost stage)."""
    row = dict.fromkeys(COST_COLUMNS + TIMING_COLUMNS)
    if cost is None:
        return row
    s, p = cost.summary, cost.postings
    vocab, queries = p["posting_lengths"], p.get("queries", {}).get("posting_lengths", {})
    row.update(postings=s["postings_mean"], flops=s["flops"], query_length=s["query_length_mean"],
               doc_length=p["mean_vector_length"], terms=p["terms"], df_variance=vocab["variance"], df_cv=vocab["cv"],
               df_gini=vocab["gini"], query_df_variance=queries.get("variance"), query_df_gini=queries.get("gini"))
    row.update({k: s.get(k) for k in TIMING_COLUMNS})
    return row


def collect(plan, store, measures) -> StudyData:
    """Per-seed rows and per-query values of every complete stage of ``plan``."""
    import pandas as pd

    data = StudyData(rows=None, measures=tuple(measures))
    data.missing = [s.label for s in plan.stages if store.record(s) is None]
    rows = []
    for system in plan.systems.values():
        for seed in system.seeds:
            rows += _system_rows(plan, store, system, seed, data)
    data.rows = pd.DataFrame(rows)
    return data


def _outputs(plan, store, kind, system, seed=None, level=None) -> tuple[object, object]:
    """Folder and typed ``Outputs`` (:mod:`esplade_eval.study.stages`) of a complete stage, or Nones."""
    from esplade_eval.study.stages import outputs

    stage = plan.find(kind, system, seed, level)
    record = store.record(stage) if stage is not None else None
    return (store.folder(stage), outputs(kind, record)) if record else (None, None)


def _system_rows(plan, store, system, seed, data: StudyData) -> list[dict]:
    import pandas as pd

    _, pt = _outputs(plan, store, "pretrain", system.name, seed)
    _, ft = _outputs(plan, store, "finetune", system.name, seed)
    ev_dir, ev = _outputs(plan, store, "evaluate", system.name, seed)
    if ev is None:
        return []
    per_query = pd.read_csv(ev_dir / ev.per_query, dtype={"qid": str, "level": str}, keep_default_na=False)
    base = {"system": system.name, "kind": system.kind, "vocab": system.vocab, "seed": seed, **_mlm(pt.summary if pt else {}),
            **_budget(pt and pt.summary, ft and ft.summary)}
    rows = []
    for level, means in ev.mean.items():
        cost_dir, cost = _outputs(plan, store, "cost", system.name, seed, level if system.levels else None)
        frame = per_query[per_query["level"] == level].set_index("qid")[list(data.measures)]
        if cost is not None:
            qc = pd.read_csv(cost_dir / cost.per_query, dtype={"qid": str}).set_index("qid")
            frame = frame.join(qc[list(PER_QUERY_COST)], how="left")
            data.df_files[(system.name, seed, level)] = cost_dir / cost.df
        data.per_query[(system.name, seed, level)] = frame
        rows.append({**base, "level": level, **means, **_cost_row(cost)})
    return rows


# --- over seeds -----------------------------------------------------------------------------

def aggregate(rows, order: list[str] | None = None):
    """Mean, sd (ddof 1) and number of seeds of every numeric column per (system, level).

    Rows follow ``order`` (systems), then the levels from unpruned to strictest.
    """
    import pandas as pd

    numeric = [c for c in rows.columns if c not in ("system", "kind", "vocab", "seed", "level")]
    values = rows[["system", "level", *numeric]].copy()
    values[numeric] = values[numeric].apply(pd.to_numeric, errors="coerce")
    rank = {name: i for i, name in enumerate(order or dict.fromkeys(values["system"]))}
    keys = sorted({(s, lv) for s, lv in zip(values["system"], values["level"])},
                  key=lambda k: (rank.get(k[0], len(rank)), _level_rank(k[1])))
    grouped = values.groupby(["system", "level"], sort=False)
    mean, sd = grouped.mean(), grouped.std(ddof=1)
    out = mean.add_suffix(" mean").join(sd.add_suffix(" sd"))
    out["seeds"] = grouped.size()
    return out.loc[keys]


def _level_rank(level: str) -> tuple:
    from esplade_eval.sparse.prune import strictness

    return (1, *strictness(level)) if level != NO_LEVEL else (0,)


def seed_mean(data: StudyData, system: str, level: str, columns) -> object:
    """Per-query values of ``system`` at ``level``, averaged over its seeds (index qid)."""
    import pandas as pd

    frames = [f[list(columns)] for (s, _, lv), f in data.per_query.items() if s == system and lv == level]
    if not frames:
        raise KeyError(f"no per-query values for {system} at {level}")
    return pd.concat(frames).groupby(level=0, sort=True).mean()


def seed_means(data: StudyData, system: str, level: str, column: str) -> dict:
    """``{seed: mean of column}`` over the queries, per seed."""
    return {seed: float(f[column].mean()) for (s, seed, lv), f in data.per_query.items()
            if s == system and lv == level}


# --- paired comparisons ------------------------------------------------------------------------

def matrix(data: StudyData, system: str, level: str, column: str) -> object:
    """Per-query values of ``system`` at ``level``: a DataFrame qid x seed (seeds in order)."""
    import pandas as pd

    runs = {seed: f[column] for (s, seed, lv), f in data.per_query.items() if s == system and lv == level}
    if not runs:
        raise KeyError(f"no per-query values for {system} at {level}")
    return pd.DataFrame({seed: runs[seed] for seed in sorted(runs, key=_seed_order)}).sort_index().astype(float)


def seed_aware(mats: dict, weights: dict, seeds: str = "independent") -> object:
    """The seed-aware test (:mod:`esplade_eval.evaluate.seeds`) of ``sum_k w_k * mean(mats[k])``.

    ``mats``: ``{system: qid x seed}`` on the same queries. ``seeds="independent"``: each
    system's seed variance is its own (:func:`~esplade_eval.evaluate.seeds.independent_test`).
    ``"paired"``: seed ``i`` of every system shares its randomness, so the combination is formed
    per (query, seed) (:func:`~esplade_eval.evaluate.seeds.seed_test`; a single run broadcast);
    systems with different seeds fall back to independent.
    """
    from esplade_eval.errors import EspladeError
    from esplade_eval.evaluate.seeds import SEED_DESIGNS, independent_test, seed_test

    frames = [mats[k] for k in weights]
    first = frames[0].index
    for name, f in zip(weights, frames):
        if not f.index.equals(first):
            raise EspladeError(f"{name} is scored on other queries than {next(iter(weights))}: pair them first")
    shared = {tuple(f.columns) for f in frames}
    singles = [f.shape[1] == 1 for f in frames]
    if seeds not in SEED_DESIGNS:
        raise EspladeError(f"unknown seed design {seeds!r}; choose one of {SEED_DESIGNS}")
    if seeds == "paired" and (len(shared) == 1 or (len(frames) == 2 and any(singles))):
        return seed_test(sum(w * f.to_numpy() for w, f in zip(weights.values(), frames)))
    return independent_test({k: f.to_numpy() for k, f in zip(weights, frames)}, weights)


def comparison_row(test, confidence: float = 0.95) -> dict:
    """A seed-aware test as a comparison row: Δ, its CI, p, SE, df, and the query-only test beside it."""
    q = test.query_only
    ci = test.ci(confidence)
    q_ci = q.ci(confidence)
    sd = q.se * math.sqrt(test.queries) if q.se and math.isfinite(q.se) else None
    return {"delta": float(test.delta), "ci_low": _f(ci[0]), "ci_high": _f(ci[1]), "confidence": confidence,
            "ci90": [_f(x) for x in test.ci90], "ci95": [_f(x) for x in test.ci95], "se": _f(test.se),
            "df": _f(test.df), "p": _f(test.p), "method": test.method, "seeds": test.seeds,
            "queries": test.queries, "seed_variance": _f(test.components.get("seed")),
            "d_z": _f(q.delta / sd) if sd else None, "p_query": _f(q.p), "ci_query_low": _f(q_ci[0]),
            "ci_query_high": _f(q_ci[1]), "notes": list(test.notes)}


def paired(data: StudyData, a: str, b: str, level_a: str, level_b: str, column: str,
           confidence: float = 0.95, seeds: str = "independent") -> dict:
    """System ``a`` vs ``b`` on ``column``, paired over queries, with seed variance in its SE.

    Δ = mean(a - b) with its ``confidence`` interval and two-sided p from the seed-aware test
    (:func:`seed_aware` with ``seeds``: variance components over queries x seeds, Satterthwaite
    df); beside it
    the query-only paired t-test on seed-averaged scores (``p_query``, ``ci_query_*``), d_z and
    the per-seed sign agreement.
    """
    ka, kb = f"{a} at {level_a}", f"{b} at {level_b}"
    mats = {ka: matrix(data, a, level_a, column), kb: matrix(data, b, level_b, column)}
    row = comparison_row(seed_aware(mats, {ka: 1.0, kb: -1.0}, seeds), confidence)
    agree, pairs = _seed_agreement(data, a, b, level_a, level_b, column, row["delta"])
    return {"a": a, "b": b, "level_a": level_a, "level_b": level_b, "column": column,
            "mean_a": float(mats[ka].to_numpy().mean()), "mean_b": float(mats[kb].to_numpy().mean()),
            **row, "seeds_same_sign": agree, "seed_pairs": pairs}


def all_pairs(data: StudyData, systems: list[str], level: str, measures, alpha: float = 0.05,
              seeds: str = "independent"):
    """Every pair of ``systems`` at ``level`` (:func:`esplade_eval.evaluate.compare_all_pairs`).

    Means are over each system's seeds; a system without pruning levels (BM25) takes part
    through its only level. Each pair's p, interval, Holm-corrected p (across the pairs of each
    measure) and letters come from the seed-aware test (:func:`seed_aware` with ``seeds``); the
    paired t-test on seed-averaged scores stays beside as ``p-value (queries only)``. Returns a
    ``PairsReport`` (None with fewer than two systems).
    """
    from esplade_eval.evaluate import compare_all_pairs

    frames, chosen = {}, {}
    for system in systems:
        levels = {lv for (s, _, lv) in data.per_query if s == system}
        chosen[system] = level if level in levels else NO_LEVEL if NO_LEVEL in levels else None
        if chosen[system] is not None:
            frames[system] = seed_mean(data, system, chosen[system], list(measures))
    if len(frames) < 2:
        return None
    report = compare_all_pairs(frames, correction="holm", alpha=alpha, confidence=0.95)
    return _seed_aware_pairs(report, data, chosen, seeds)


def _seed_aware_pairs(report, data: StudyData, levels: dict, seeds: str):
    """``report`` with every pair re-tested over queries x seeds and Holm applied again per measure."""
    from esplade_eval.evaluate import correct

    pairs = report.pairs.copy()
    pairs.insert(list(pairs.columns).index("p-value") + 1, "p-value (queries only)", pairs["p-value"])
    for i, row in pairs.iterrows():
        if row["measure"] in report.failed:
            continue
        a, b = row["system"], row["other"]
        mats = {a: matrix(data, a, levels[a], row["measure"]), b: matrix(data, b, levels[b], row["measure"])}
        test = seed_aware(mats, {a: 1.0, b: -1.0}, seeds)
        pairs.loc[i, ["p-value", "ci low", "ci high"]] = [test.p, *test.ci(report.confidence)]
    for index in pairs.groupby("measure").groups.values():
        corrected, reject = correct(pairs.loc[index, "p-value"].to_numpy(dtype=float), "holm", report.alpha)
        pairs.loc[index, "p-value corrected"], pairs.loc[index, "reject"] = corrected, reject
    pairs["reject"] = pairs["reject"].astype(bool)
    report.pairs, report.test = pairs, "seeds"
    report.notes.append("p, interval, corrected p and letters: the seed-aware test (query and seed variance, "
                        f"{seeds} seeds); `p-value (queries only)` in the CSV/JSON: the paired t-test on "
                        "seed-averaged scores.")
    return report


def _seed_agreement(data, a, b, level_a, level_b, column, delta) -> tuple[int, int]:
    ma, mb = seed_means(data, a, level_a, column), seed_means(data, b, level_b, column)
    sa, sb = sorted(ma, key=_seed_order), sorted(mb, key=_seed_order)
    if len(sb) == 1:
        diffs = [ma[s] - mb[sb[0]] for s in sa]
    elif len(sa) == 1:
        diffs = [ma[sa[0]] - mb[s] for s in sb]
    else:
        diffs = [ma[x] - mb[y] for x, y in zip(sa, sb)]
    sign = np.sign(delta)
    return int(sum(np.sign(d) == sign for d in diffs)), len(diffs)


def _seed_order(seed):
    return -1 if seed is None else seed


def _f(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def holm(comparisons: list[dict], alpha: float = 0.05) -> list[dict]:
    """Add ``p_holm`` and ``significant`` to every comparison of one family (in place)."""
    from esplade_eval.evaluate import correct

    p = np.array([np.nan if c["p"] is None else c["p"] for c in comparisons], dtype=float)
    corrected, reject = correct(p, "holm", alpha) if len(p) else (p, p.astype(bool))
    for c, pc, r in zip(comparisons, corrected, reject):
        c["p_holm"] = _f(pc)
        c["significant"] = bool(r)
    return comparisons


def all_seeds_agree(c: dict) -> bool:
    return c["seed_pairs"] > 0 and c["seeds_same_sign"] == c["seed_pairs"]


def correlation(x, y) -> dict:
    """Pearson r (with its p) and Spearman rho with its exact or permutation p
    (:func:`esplade_eval.evaluate.spearman`, never below ``2 / n!``); None where undefined."""
    from scipy import stats

    from esplade_eval.evaluate.association import spearman

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    rank = spearman(x, y)
    out = {"n": int(len(x)), "pearson_r": None, "pearson_p": None, "spearman_rho": rank.rho, "spearman_p": rank.p,
           "spearman_method": rank.method, "spearman_p_min": rank.p_min}
    if len(x) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        r = stats.pearsonr(x, y)
        out.update(pearson_r=_f(r.statistic), pearson_p=_f(r.pvalue))
    return out
