"""The results folder of a study: Markdown pages, JSON payload, CSV tables, plots.

``<results>/``::

    summary.md        grid table (a row per system x level, mean ± sd over seeds), budgets,
                      ESPLADE vs SPLADE arm by arm (each arm vs its WordPiece twin),
                      every system vs BM25, correlations across arms, verdicts, failures
    findings.md       the three findings: table, verdict, rule
    findings.json     the same as data
    pairs.md          every pair of systems at the unpruned and the strictest level (ranx-style
                      letters, Δ, 95% CI, p Holm-corrected per measure); pairs.tex the same in LaTeX
    grid.csv          mean and sd over seeds per (system, level)
    per_seed.csv      one row per (system, seed, level); ``vocab``: expanded, wordpiece or empty
    per_query.csv.gz  per-query measures, postings traversed, FLOPS, query length
    results.json      all of the above (``vocab_comparison``: the arm-by-arm table), plus the config,
                      the machine, the stages' outcome
    plots/            ndcg_vs_postings.png, mlm_vs_ndcg.png, posting_lengths_strictest.png

The folder is written under a temporary name and renamed when complete. Timing fields
(latency, wall times, throughputs) are the only numbers that differ between two runs of
the same config with the same seeds.
"""

from __future__ import annotations

import json

from esplade_eval.study import render
from esplade_eval.study.config import describe
from esplade_eval.study.vocabulary import vocabulary, vocabulary_sentence

VERDICT_MARK = {"supported": "**supported**", "contradicted": "**contradicted**", "inconclusive": "**inconclusive**",
                "not applicable": "*not applicable*"}


def timing(plan, store) -> dict:
    """When the complete stages ran (whichever invocation ran them): compute seconds and the span."""
    from datetime import datetime, timedelta

    records = [r for r in (store.record(s) for s in plan.stages) if r]
    if not records:
        return {"compute_s": 0.0, "first_started": None, "last_finished": None, "span_s": 0.0}
    starts = [datetime.fromisoformat(r["started"]) for r in records]
    ends = [t + timedelta(seconds=r["seconds"]) for t, r in zip(starts, records)]
    return {"compute_s": round(sum(r["seconds"] for r in records), 1), "first_started": min(starts).isoformat(),
            "last_finished": max(ends).isoformat(timespec="seconds"),
            "span_s": round((max(ends) - min(starts)).total_seconds(), 1)}


def eval_docs(cfg, plan, store) -> dict:
    """Whether the evaluation documents were kept out of pre-training (vocabulary and every arm)."""
    from esplade_eval.study.stages import outputs

    vocab = plan.of_kind("vocab")
    record = store.record(vocab[0]) if vocab else None
    allowed = [a.name for a in cfg.arms if a.pretrain.get("allow_eval_docs")]
    return {"vocabulary": outputs("vocab", record).eval_docs if record else None, "arms_allowing": allowed}


def eval_docs_sentence(info: dict) -> str:
    vocab = info["vocabulary"] or {}
    if info["arms_allowing"] or vocab.get("excluded") is False:
        who = ", ".join(info["arms_allowing"]) or "the vocabulary"
        return (f"**The collection's own document text is in pre-training** ({who}): the titles corpus is the "
                "collection's document titles, unlabelled (no queries, no judgments); declared, not filtered out.")
    if not vocab:
        return ""
    return (f"Evaluation documents ({', '.join(vocab.get('sources', []))}, {vocab.get('documents', 0):,} distinct "
            f"titles) were kept out of pre-training and the vocabulary: {vocab.get('dropped_total', 0):,} training "
            f"texts dropped ({vocab.get('dropped_texts')}).")


def parity(plan, store) -> dict | None:
    """The parity stage's outputs (:mod:`esplade_eval.study.stages.parity`), or None (not planned or not run)."""
    from esplade_eval.study.stages import outputs

    stages = plan.of_kind("parity")
    record = store.record(stages[0]) if stages else None
    return outputs("parity", record).to_dict() if record else None


def payload(cfg, plan, store, analysis, outcome) -> dict:
    data = analysis.data
    return {
        "vocabulary": vocabulary(plan, store),
        "eval_docs": eval_docs(cfg, plan, store),
        "parity": parity(plan, store),
        "study": describe(cfg),
        "command": f"esplade-eval study {cfg.path}",
        "environment": render.environment(),
        "run": {"wall_s": round(outcome.wall_s, 1), "summary": outcome.describe(),
                "stages": [r.to_dict() for r in outcome.results]},
        "timing": timing(plan, store),
        "systems": {n: {"kind": s.kind, "description": s.description, "seeds": list(s.seeds), "axes": s.axes,
                        "vocab": s.vocab}
                    for n, s in plan.systems.items()},
        "per_seed": data.rows.to_dict(orient="records") if len(data.rows) else [],
        "grid": [] if analysis.table is None else
        [{"system": k[0], "level": k[1], **v} for k, v in analysis.table.to_dict(orient="index").items()],
        "vs_bm25": analysis.vs_bm25, "correlations": analysis.correlations, "vocab_comparison": analysis.twins,
        "all_pairs": {lv: rep.to_dict() for lv, rep in analysis.pairs.items()},
        "findings": [f.to_dict() for f in analysis.findings],
        "failures": [r.to_dict() for r in outcome.failed], "incomplete_stages": data.missing,
    }


def summary_markdown(cfg, plan, analysis, outcome, pay: dict) -> str:
    ev = cfg.evaluation
    env = pay["environment"]
    lines = [f"# Study {cfg.name}", "", cfg.description, "",
             f"Config `{cfg.path}`, command `{pay['command']}`. Collection: {cfg.collection['name']}"
             + (f" (first {cfg.collection['documents']} documents)" if cfg.collection.get("documents") else "")
             + f", {cfg.split} split, {_queries(analysis)} queries. "
             f"Seeds {list(cfg.seeds)}; pruning levels {list(ev.levels)} (unpruned: {ev.unpruned}, strictest: "
             f"{ev.strictest}); impacts rint x{ev.scale:g}; max length {ev.max_length}; top {ev.hits}.", "",
             eval_docs_sentence(pay["eval_docs"]), "", vocabulary_sentence(pay.get("vocabulary"), cfg.split), "",
             f"This invocation: {outcome.describe()}. {_timing_sentence(pay['timing'])} "
             f"Machine: {env['platform']}, {env['cpu_count']} CPUs, {cfg.threads} torch thread{'' if cfg.threads == 1 else 's'}.", ""]
    if outcome.failed:
        lines += ["## Failures", ""] + [f"- {r.stage.label}: {r.status}: {r.error}" for r in outcome.failed] + [""]
    if plan.of_kind("parity"):
        lines += render.parity_markdown(pay["parity"]) + [""]
    if analysis.table is None:
        return "\n".join(lines + ["No complete system yet.", ""])
    lines += ["## Verdicts", ""]
    lines += [f"- {f.title}: {VERDICT_MARK[f.verdict]}. Rule: {f.rule} (see `findings.md`)"
              for f in analysis.findings] + [""]
    lines += ["## Grid: every system x level, mean ± sd over seeds", "",
              "Postings traversed = sum of the query terms' posting-list lengths (exhaustive evaluation); FLOPS = "
              "postings / documents; posting-length variance and Gini over the vocabulary's document frequencies; "
              "latency = single-thread Lucene top-k, median of the timed passes per query, p50 over queries "
              "(a timing field). MLM accuracy = held-out top-1 at masked whole words (WordPiece twins, `-wp`: at every "
              "piece of the masked words, over 30,522 pieces: not comparable with the whole-word accuracy).", ""]
    lines += render.grid_markdown(cfg, analysis) + [""]
    lines += ["## Pre-training and fine-tuning budget (mean ± sd over seeds)", ""]
    lines += [render.budget_note(cfg), ""] + render.budget_markdown(cfg, analysis, plan) + [""]
    if analysis.twins:
        lines += ["## ESPLADE vs SPLADE, arm by arm", "",
                  "Each expanded-vocabulary arm against its WordPiece twin (`-wp`: SPLADE-tiny's own head, the same "
                  "corpus, learning rate, repeats, budget and seeds). Means over seeds; p: seed-aware test (queries "
                  "and seeds in the standard error, seed i paired with seed i), Holm over the arms of each level; "
                  "the query-only paired t-test on seed-averaged scores beside it. Postings traversed per query, "
                  "mean over seeds. The findings judge the ESPLADE arms only.", ""]
        lines += render.twins_markdown(analysis.twins) + [""]
    if analysis.vs_bm25:
        m = cfg.findings["general_high_lr"]["measure"]
        lines += [f"## Every system vs BM25 ({m})", "",
                  render.SEED_AWARE_NOTE + " Holm over the systems of each level; † = significant after "
                  "correction; seeds = in how many seeds the system's own difference has the sign of Δ.", ""]
        lines += render.bm25_markdown(analysis) + [""]
    if analysis.correlations:
        lines += ["## Correlations across arms (seed means)", ""] + render.correlation_markdown(analysis) + [""]
    if analysis.pairs:
        lines += ["Every pair of systems at " + " and ".join(f"`{lv}`" for lv in analysis.pairs)
                  + ": `pairs.md` (LaTeX: `pairs.tex`).", ""]
    return "\n".join(lines)


def pairs_markdown(cfg, analysis) -> str:
    """Every pair of systems per level, ranx-style letters (:func:`stats.all_pairs`)."""
    lines = [f"# Every pair of systems, study {cfg.name}", "",
             "Means over each system's seeds; p-values, intervals and letters from the seed-aware test (query and "
             "seed variance); systems without pruning levels (BM25) take part at every level through their only "
             "run.", ""]
    for level, rep in analysis.pairs.items():
        lines += [f"## Level `{level}`", "", rep.to_markdown()]
    return "\n".join(lines)


def pairs_latex(cfg, analysis) -> str:
    return "\n".join(rep.to_latex(caption=f"Study {cfg.name}, level {level}: every pair of systems "
                                          f"(seed-aware test, Holm).", label=f"tab:{cfg.name}-pairs-{level}")
                     for level, rep in analysis.pairs.items())


def _timing_sentence(t: dict) -> str:
    if not t["first_started"]:
        return ""
    return (f"The stages ran from {t['first_started']} to {t['last_finished']} (UTC; {t['span_s'] / 3600:.2f} h "
            f"wall clock, {t['compute_s'] / 3600:.2f} h inside the stages).")


def _queries(analysis) -> int:
    frames = list(analysis.data.per_query.values())
    return len(frames[0]) if frames else 0


def findings_markdown(cfg, analysis) -> str:
    lines = [f"# Findings of study {cfg.name}", "",
             "Each finding of arXiv 2605.01407, judged on this study's expanded (ESPLADE) arms. "
             + render.SEED_AWARE_NOTE + " Holm-corrected within each finding (as its rule says); `seeds` counts the "
             "seeds whose own difference has the sign of Δ.", ""]
    for f in analysis.findings:
        lines += [f"## {f.title}", "", f"Verdict: {VERDICT_MARK[f.verdict]}", "", f"Rule: {f.rule}", ""]
        comparisons = [r for r in f.rows if not r.get("association")]
        associations = [r for r in f.rows if r.get("association")]
        if associations:
            lines += _association_table(associations) + [""]
        if comparisons:
            lines += _finding_table(comparisons) + [""]
        lines += [f"- {n}" for n in f.notes] + ([""] if f.notes else [])
    return "\n".join(lines)


def _association_table(rows) -> list[str]:
    cells = [[r["x"], r["y"], r["level"], r["runs"], render.num(r["rho"], 3), render.pval(r["p"]),
              render.pval(r.get("p_holm")) + (render.DAGGER if r.get("significant") else ""),
              render.pval(r["p_min"]), r["method"]] for r in rows]
    return render.md_table(["x", "y", "level", "arm x seed runs", "Spearman ρ", "p", "p (Holm)",
                            "smallest possible p", "p computed"], cells)


def _also(c: dict) -> str:
    if c.get("contrast"):
        return "factorial contrast (reported, does not decide)"
    if "mlm" in c:
        mlm = c["mlm"]
        return (f"MLM {render.num(c['mlm_a'], 3)} vs {render.num(c['mlm_b'], 3)} "
                f"(p {render.pval(mlm['p'])}, {mlm['method']}, {mlm['seeds']} seeds)")
    if "equivalence" in c:
        return (f"90% CI [{render.signed(c['ci90'][0])}, {render.signed(c['ci90'][1])}], 95% CI "
                f"[{render.signed(c['ci95'][0])}, {render.signed(c['ci95'][1])}] vs ±{c['margin']:g}: "
                f"{c['equivalence']}")
    return ""


def _finding_table(rows) -> list[str]:
    header = ["column", "level", *render.COMPARISON_HEADER]
    out = []
    for c in rows:
        cells = render.comparison_cells(c)
        cells[:2] = ([c["a"], render.MISSING] if c.get("contrast") else
                     [f"{c['a']}: {render.num(c['mean_a'])}", f"{c['b']}: {render.num(c['mean_b'])}"])
        if c.get("confidence") and c["confidence"] != 0.95:
            cells[3] += f" ({100 * c['confidence']:.0f}%)"
        out.append([c["column"], c["level_a"], *cells, _also(c)])
    return render.md_table(header + ["also"], out)


def per_query_frame(data):
    """Long per-query table: system, seed, level, qid, measures, postings, FLOPS, query length."""
    import pandas as pd

    frames = [f.reset_index().assign(system=s, seed=seed, level=level)
              for (s, seed, level), f in data.per_query.items()]
    table = pd.concat(frames, ignore_index=True)
    first = ["system", "seed", "level", "qid"]
    return table[first + [c for c in table.columns if c not in first]]


def write_results(cfg, plan, store, analysis, outcome) -> None:
    """Write the results folder atomically (see the module docstring)."""
    from esplade_eval._io import atomic_dir
    from esplade_eval.study import plots

    with atomic_dir(cfg.results, overwrite=True) as tmp:
        pay = payload(cfg, plan, store, analysis, outcome)
        _write(tmp / "results.json", json.dumps(render.jsonable(pay), indent=1, ensure_ascii=False) + "\n")
        _write(tmp / "findings.json", json.dumps(render.jsonable([f.to_dict() for f in analysis.findings]), indent=1,
                                                 ensure_ascii=False) + "\n")
        _write(tmp / "summary.md", summary_markdown(cfg, plan, analysis, outcome, pay))
        _write(tmp / "findings.md", findings_markdown(cfg, analysis))
        if analysis.pairs:
            _write(tmp / "pairs.md", pairs_markdown(cfg, analysis))
            _write(tmp / "pairs.tex", pairs_latex(cfg, analysis))
        if analysis.table is not None:
            analysis.table.to_csv(tmp / "grid.csv")
            analysis.data.rows.to_csv(tmp / "per_seed.csv", index=False)
            per_query_frame(analysis.data).to_csv(tmp / "per_query.csv.gz", index=False)
            plots.write_plots(cfg, plan, analysis, tmp / "plots")


def _write(path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
