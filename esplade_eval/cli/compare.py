"""``esplade-eval compare``: paired significance tests of runs, against a baseline or all pairs."""

from esplade_eval.cli._args import define_seed_arg, emit, fraction, named_args, positive_int
from esplade_eval.cli.evaluate import add_eval_args, evaluation_of, split_runs_from_measures
from esplade_eval.defaults import FORMATS
from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser("compare", help="compare runs: paired tests vs a baseline or all pairs, correction, report",
                       description="Every run vs the baseline (or every pair with --all-pairs), per measure: mean, "
                                   "delta, its confidence interval (1 - alpha unless --confidence; Student t or "
                                   "--ci bootstrap), Cohen's d_z, wins/ties/losses, the p-value of the paired test "
                                   "(--test t, wilcoxon or permutation) and Holm (default) or Bonferroni correction "
                                   "across runs. Runs must answer the same queries, unless --intersect or "
                                   "--fill-missing says what to do.")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--baseline", metavar="RUN", help="the baseline run (PATH or NAME=PATH)")
    mode.add_argument("--all-pairs", action="store_true",
                      help="test every pair of runs (ranx-style superscript markers) instead of a baseline")
    add_eval_args(p, "the runs compared (PATH or NAME=PATH); before or after the options")
    p.add_argument("--format", choices=FORMATS, default="markdown", help="output format (default: markdown)")
    p.add_argument("--correction", choices=["holm", "bonferroni", "none"], default="holm",
                   help="multiple-testing correction across runs (or pairs), per measure (default: holm)")
    p.add_argument("--alpha", type=fraction, default=0.05, help="significance level (default: 0.05)")
    p.add_argument("--confidence", type=fraction, default=None,
                   help="level of the interval of the mean difference (default: 1 - alpha)")
    p.add_argument("--test", choices=["t", "wilcoxon", "permutation"], default="t",
                   help="the paired test behind p and the markers (default: t)")
    p.add_argument("--ci", choices=["t", "bootstrap"], default="t",
                   help="interval of the mean difference: Student t (default) or percentile bootstrap")
    p.add_argument("--permutations", type=positive_int, default=10_000,
                   help="sign patterns of the randomisation test (exact when 2^queries is fewer; default 10000)")
    p.add_argument("--resamples", type=positive_int, default=10_000, help="bootstrap resamples (default 10000)")
    define_seed_arg(p, "seed of the randomisation test and bootstrap")
    p.add_argument("--wilcoxon", action="store_true", help="also report Wilcoxon signed-rank p-values")
    miss = p.add_mutually_exclusive_group()
    miss.add_argument("--intersect", action="store_true",
                      help="compare on the queries every run answers (default: error when they differ)")
    miss.add_argument("--fill-missing", action="store_true",
                      help="score a query a run does not answer 0 (trec_eval -c) instead of failing")
    declare_paths(p, inputs=["baseline", "qrels", "topics", "runs", "measures"], outputs={"output": "table"})
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.errors import EspladeError
    from esplade_eval.evaluate import compare, compare_all_pairs

    split_runs_from_measures(args)
    named = named_args(([args.baseline] if args.baseline else []) + list(args.runs))
    result = evaluation_of(args, named)
    options = dict(correction=None if args.correction == "none" else args.correction, alpha=args.alpha,
                   test=args.test, ci=args.ci, confidence=args.confidence, permutations=args.permutations,
                   resamples=args.resamples, seed=args.seed,
                   missing="intersect" if args.intersect else "zero" if args.fill_missing else "error")
    if args.all_pairs:
        if args.wilcoxon:
            raise EspladeError("--wilcoxon adds a column to baseline comparisons; with --all-pairs use --test wilcoxon")
        report = compare_all_pairs(result, **options)
    else:
        report = compare(result, baseline=next(iter(named)), wilcoxon=args.wilcoxon, **options)
    emit(report.render(args.format), args.output)
    return 0
