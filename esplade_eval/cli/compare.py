"""``esplade-eval compare``: paired significance tests of runs against a baseline run."""

from esplade_eval.cli.evaluate import add_eval_args, emit


def register(sub):
    p = sub.add_parser("compare", help="compare runs with a baseline: paired tests, correction, report",
                       description="Every run vs the baseline, per measure: mean, delta, paired t-test, 95%% CI "
                                   "of the mean difference, Cohen's d_z, wins/ties/losses, Holm (default) or "
                                   "Bonferroni correction across runs. Runs must answer the same queries, "
                                   "unless --intersect or --fill-missing says what to do.")
    p.add_argument("--baseline", required=True, metavar="RUN", help="the baseline run (PATH or NAME=PATH)")
    add_eval_args(p, "the runs compared with the baseline (PATH or NAME=PATH)")
    p.add_argument("--correction", choices=["holm", "bonferroni", "none"], default="holm",
                   help="multiple-testing correction across runs, per measure (default: holm)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default: 0.05)")
    p.add_argument("--wilcoxon", action="store_true", help="also report Wilcoxon signed-rank p-values")
    miss = p.add_mutually_exclusive_group()
    miss.add_argument("--intersect", action="store_true",
                      help="compare on the queries every run answers (default: error when they differ)")
    miss.add_argument("--fill-missing", action="store_true",
                      help="score a query a run does not answer 0 (trec_eval -c) instead of failing")
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.evaluate import compare, evaluate
    from esplade_eval.evaluate.metrics import split_named

    named = split_named([args.baseline, *args.runs])
    if len(named) != 1 + len(args.runs):
        raise SystemExit("esplade-eval compare: error: the same run is given twice")
    baseline = next(iter(named))
    result = evaluate(args.qrels, named, args.measures, topics=args.topics)
    missing = "intersect" if args.intersect else "zero" if args.fill_missing else "error"
    report = compare(result, baseline=baseline, correction=None if args.correction == "none" else args.correction,
                     alpha=args.alpha, wilcoxon=args.wilcoxon, missing=missing)
    emit(report.render(args.format), args.output)
    return 0
