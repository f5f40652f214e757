"""Benchmark: the evaluation harness vs ir_measures alone, 10 runs x 1,000 queries x 1,000 hits.

What is timed, on the same in-memory qrels and runs (generated deterministically with numpy):

* **ir_measures alone**: build one ``ir_measures.evaluator(measures, qrels)`` and consume
  ``iter_calc(run)`` for each of the 10 runs;
* **harness**: :class:`esplade_eval.evaluate.Evaluator` (the same evaluator inside, plus the
  explicit query set and the zero fill) for the 10 runs, then :func:`compare` against the
  first run: paired t-tests, Holm correction, confidence intervals, effect sizes and
  win/tie/loss for the 9 others on every measure, and the Markdown rendering.

Each side is timed ``--repeat`` times, alternating, and the fastest of each is compared
(the least disturbed by the machine). The target is a ratio of at most 1.2.

    python benchmarks/evaluate.py            # the full size
    python benchmarks/evaluate.py --queries 100 --hits 100 --repeat 1   # a quick look
"""

from __future__ import annotations

import argparse
import time

import numpy as np

MEASURES = ("nDCG@10", "R@100", "R@1000", "RR@10")
STEP = 7919  # prime, coprime with the document count: (base + k * STEP) % N are distinct


def make_data(n_runs: int, n_queries: int, hits: int, seed: int = 0):
    """Deterministic qrels (30 judgments a query, grades 0-2) and runs of varying quality."""
    rng = np.random.default_rng(seed)
    n_docs, pool = 200_000, 2 * hits
    names = np.array([f"doc{i}" for i in range(n_docs)], dtype=object)
    qids = [f"q{i}" for i in range(n_queries)]
    pools = [(rng.integers(n_docs) + np.arange(pool) * STEP) % n_docs for _ in qids]
    qrels, relevant = {}, []
    for qid, docs in zip(qids, pools):
        judged = rng.permutation(pool)[:30]
        grades = rng.integers(0, 3, size=30)
        qrels[qid] = {names[docs[j]]: int(g) for j, g in zip(judged, grades)}
        rel = np.zeros(pool)
        rel[judged] = grades
        relevant.append(rel)
    runs = {}
    for r in range(n_runs):
        boost = 0.2 + 0.05 * r  # later systems rank relevant documents a little higher
        run = {}
        for qid, docs, rel in zip(qids, pools, relevant):
            take = (rng.integers(pool) + np.arange(hits)) % pool
            scores = rng.random(hits) + boost * rel[take]
            run[qid] = dict(zip(names[docs[take]].tolist(), scores.tolist()))
        runs[f"system{r}"] = run
    return qrels, runs


def time_ir_measures(qrels, runs) -> float:
    import ir_measures

    t0 = time.perf_counter()
    evaluator = ir_measures.evaluator([ir_measures.parse_measure(m) for m in MEASURES], qrels)
    for run in runs.values():
        for _ in evaluator.iter_calc(run):
            pass
    return time.perf_counter() - t0


def time_harness(qrels, runs, test: str = "t", ci: str = "t") -> tuple[float, object]:
    from esplade_eval.evaluate import Evaluator, compare

    t0 = time.perf_counter()
    evaluation = Evaluator(qrels, MEASURES).evaluate(runs)
    report = compare(evaluation, baseline=next(iter(runs)), test=test, ci=ci)
    report.to_markdown()
    return time.perf_counter() - t0, report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--hits", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--test", choices=["t", "wilcoxon", "permutation"], default="t",
                        help="the paired test of the harness (permutation: 10,000 sign patterns)")
    parser.add_argument("--ci", choices=["t", "bootstrap"], default="t", help="interval (bootstrap: 10,000 resamples)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    qrels, runs = make_data(args.runs, args.queries, args.hits)
    print(f"data: {args.runs} runs x {args.queries} queries x {args.hits} hits, "
          f"{sum(len(d) for d in qrels.values())} judgments, generated in {time.perf_counter() - t0:.1f}s")
    # warm-up: imports (ir_measures, pytrec_eval, scipy, statsmodels, pandas) are not what is compared
    small = {q: qrels[q] for q in list(qrels)[:5]}
    time_ir_measures(small, {k: {q: r[q] for q in small} for k, r in list(runs.items())[:2]})
    time_harness(small, {k: {q: r[q] for q in small} for k, r in list(runs.items())[:2]})

    base, ours = [], []
    for i in range(args.repeat):
        base.append(time_ir_measures(qrels, runs))
        took, report = time_harness(qrels, runs, args.test, args.ci)
        ours.append(took)
        print(f"repeat {i + 1}: ir_measures alone {base[-1]:.2f}s, harness with paired tests {ours[-1]:.2f}s")
    ratio = min(ours) / min(base)
    significant = int(sum(report.significant(s, m) for s in report.systems for m in report.measures))
    print(f"{len(report.systems) - 1} systems x {len(MEASURES)} measures tested ({args.test} test, {args.ci} interval), "
          f"{significant} significant after Holm")
    print(f"fastest: ir_measures alone {min(base):.2f}s, harness {min(ours):.2f}s")
    print(f"ratio harness / ir_measures = {ratio:.3f} (target <= 1.2): {'OK' if ratio <= 1.2 else 'OVER'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
