"""``esplade-eval evaluate``: score TREC runs with ir_measures over an explicit query set.

Never starts a JVM nor imports torch: only ir_measures, numpy and pandas are loaded.
Runs may come before or after the options: ``--measures AP P@5 run.txt`` reads
``run.txt`` as a run (an existing file is never a measure).
"""

import os

DEFAULT_MEASURES = ("nDCG@10", "R@100", "R@1000", "RR@10")  # = esplade_eval.evaluate.DEFAULT_MEASURES
FORMATS = ("markdown", "latex", "csv", "json")  # = esplade_eval.evaluate.FORMATS


def add_eval_args(p, runs_help: str) -> None:
    """Arguments shared by ``evaluate`` and ``compare`` (reusable builder, Pyserini-style)."""
    p.add_argument("--qrels", required=True,
                   help="TREC qrels 'qid iter docid grade' (integer grades), or irds:DATASET (ir_datasets, "
                        "from its local cache only)")
    p.add_argument("--topics", help="qid<TAB>text topics, or irds:DATASET: evaluate only qrels ∩ topics")
    p.add_argument("--measures", nargs="+", default=list(DEFAULT_MEASURES), metavar="MEASURE",
                   help=f"ir_measures strings or trec_eval names (default: {' '.join(DEFAULT_MEASURES)}); "
                        "e.g. AP Judged@10 P@5, or map ndcg_cut.10 recall.100 P.5 recip_rank")
    p.add_argument("--output", help="also write the rendered table to this file (atomically)")
    p.add_argument("runs", nargs="*", metavar="RUN", help=runs_help)


def split_runs_from_measures(args, required: bool = True) -> None:
    """Move run files that ``--measures`` swallowed (``--measures AP run.txt``) to the runs.

    ``nargs='+'`` options take every following word; a word naming an existing file (or
    ``NAME=FILE``) is a run, never a measure, so runs may stand before or after options.
    """
    from esplade_eval.errors import EspladeError

    measures, moved = [], []
    for word in args.measures:
        (moved if _names_a_file(word) else measures).append(word)
    args.measures, args.runs = measures, list(args.runs) + moved
    if not args.measures:
        raise EspladeError("--measures: no measure given (only run files)")
    if required and not args.runs:
        raise EspladeError("no runs given: name one or more TREC run files (PATH or NAME=PATH)")


def _names_a_file(word: str) -> bool:
    if os.path.isfile(word):
        return True
    name, sep, rest = word.partition("=")
    return bool(sep and name and os.path.isfile(rest))


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
                                   "(∩ topics with --topics); a query a run lacks scores 0 (trec_eval -c). "
                                   "A measure that cannot be computed is reported as 'failed' in its own cells.")
    add_eval_args(p, "TREC run file(s), optionally named as NAME=PATH; before or after the options")
    p.add_argument("--format", choices=FORMATS + ("trec_eval",), default="markdown",
                   help="output format (default: markdown); trec_eval: trec_eval's -q -c text, one run")
    p.add_argument("--per-query", action="store_true", help="print one row per (run, query) instead of means")
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.evaluate import compare, evaluate, render_frame, trec_eval_text
    from esplade_eval.evaluate.metrics import split_named

    split_runs_from_measures(args)
    result = evaluate(load_qrels_arg(args.qrels), split_named(args.runs), args.measures,
                      topics=load_topics_arg(args.topics))
    if args.format == "trec_eval":
        if len(result.systems) != 1:
            from esplade_eval.errors import EspladeError

            raise EspladeError(f"--format trec_eval prints one run, got {len(result.systems)}: "
                               "evaluate them one at a time, or use --format csv")
        text = trec_eval_text(result, result.systems[0], per_query=args.per_query)
    elif args.per_query:
        text = render_frame(result.per_query(), args.format)
    else:
        text = compare(result, missing="zero").render(args.format)  # means: a query without hits is 0
    emit(text, args.output)
    return 0


def load_qrels_arg(value):
    """A qrels path, or ``irds:DATASET`` read from ir_datasets' local cache."""
    if value and value.startswith("irds:"):
        from esplade_eval.data.irds import irds_qrels

        return irds_qrels(value[len("irds:"):])
    return value


def load_topics_arg(value):
    """A topics path, ``irds:DATASET`` (ir_datasets' local cache), or None."""
    if value and value.startswith("irds:"):
        from esplade_eval.data.irds import irds_topics

        return irds_topics(value[len("irds:"):])
    return value
