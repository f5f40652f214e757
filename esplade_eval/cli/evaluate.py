"""``esplade-eval evaluate``: score TREC runs with ir_measures over an explicit query set.

Never starts a JVM nor imports torch: only ir_measures, numpy and pandas are loaded.
"""

DEFAULT_MEASURES = ("nDCG@10", "R@100", "R@1000", "RR@10")  # = esplade_eval.evaluate.DEFAULT_MEASURES
FORMATS = ("markdown", "latex", "csv", "json")  # = esplade_eval.evaluate.FORMATS


def add_eval_args(p, runs_help: str) -> None:
    """Arguments shared by ``evaluate`` and ``compare`` (reusable builder, Pyserini-style)."""
    p.add_argument("--qrels", required=True, help="TREC qrels 'qid iter docid grade' (integer grades)")
    p.add_argument("--topics", help="qid<TAB>text topics: evaluate only qrels ∩ topics")
    p.add_argument("--measures", nargs="+", default=list(DEFAULT_MEASURES), metavar="MEASURE",
                   help=f"ir_measures measure strings (default: {' '.join(DEFAULT_MEASURES)}); e.g. AP Judged@10 P@5")
    p.add_argument("--format", choices=FORMATS, default="markdown", help="output format (default: markdown)")
    p.add_argument("--output", help="also write the rendered table to this file (atomically)")
    p.add_argument("runs", nargs="+", metavar="RUN", help=runs_help)


def emit(text: str, output: str | None) -> None:
    """Print the rendering; with ``--output`` also write it atomically."""
    print(text, end="" if text.endswith("\n") else "\n")
    if output:
        from esplade_eval._io import atomic_file

        with atomic_file(output) as fh:
            fh.write(text)


def register(sub):
    p = sub.add_parser("evaluate", help="score TREC runs (ir_measures), per query or aggregated",
                       description="Score TREC runs with ir_measures. The evaluated queries are the qrels' "
                                   "(∩ topics with --topics); a query a run lacks scores 0 (trec_eval -c).")
    add_eval_args(p, "TREC run file(s), optionally named as NAME=PATH")
    p.add_argument("--per-query", action="store_true", help="print one row per (run, query) instead of means")
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.evaluate import compare, evaluate, render_frame
    from esplade_eval.evaluate.metrics import split_named

    result = evaluate(args.qrels, split_named(args.runs), args.measures, topics=args.topics)
    if args.per_query:
        text = render_frame(result.per_query(), args.format)
    else:
        text = compare(result, baseline=None, missing="zero").render(args.format)  # means, no tests
    emit(text, args.output)
    return 0
