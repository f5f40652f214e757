"""``esplade-eval evaluate``: score TREC runs with ir_measures over an explicit query set.

Never starts a JVM nor imports torch: only ir_measures, numpy and pandas are loaded.
Runs may come before or after the options: ``--measures AP P@5 run.txt`` reads
``run.txt`` as a run (an existing file is never a measure).
"""

import os

from esplade_eval.cli._args import define_measures_arg, emit, named_args
from esplade_eval.defaults import FORMATS, MEASURES
from esplade_eval.guard import declare_paths

DEFAULT_MEASURES = MEASURES  # the defaults of the library (esplade_eval.defaults), read by the tests


def add_eval_args(p, runs_help: str) -> None:
    """Arguments shared by ``evaluate`` and ``compare`` (reusable builder, Pyserini-style)."""
    p.add_argument("--qrels", required=True,
                   help="TREC qrels 'qid iter docid grade' (integer grades), or irds:DATASET (ir_datasets, "
                        "from its local cache only)")
    p.add_argument("--topics", help="qid<TAB>text topics, or irds:DATASET: evaluate only qrels ∩ topics")
    define_measures_arg(p)
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
    from esplade_eval.artifacts import split_named

    return os.path.isfile(split_named(word)[1])


def evaluation_of(args, runs):
    """The evaluation of ``runs`` ({name: path}) under the shared arguments (qrels, topics, measures)."""
    from esplade_eval.data.irds import resolve
    from esplade_eval.evaluate import evaluate

    return evaluate(resolve(args.qrels, "qrels"), runs, args.measures, topics=resolve(args.topics, "topics"))


def disjoint(evaluation, strict: bool) -> None:
    """Warn (``strict``: fail) about a run that shares no query with the evaluated set: its zeros
    measure mismatched query ids, not retrieval."""
    import sys

    from esplade_eval.errors import EspladeError

    for name in evaluation.systems:
        if evaluation.answered.get(name):
            continue
        problem = (f"run {name} shares no query with the qrels ({evaluation.ignored.get(name, 0)} run queries, none "
                   f"among the {len(evaluation.queries)} evaluated, e.g. {', '.join(evaluation.queries[:3])}): "
                   "every value is 0; do the query ids match?")
        if strict:
            raise EspladeError(problem)
        print(f"esplade-eval evaluate: warning: {problem} (--strict makes this an error)", file=sys.stderr)


def register(sub):
    p = sub.add_parser("evaluate", help="score TREC runs (ir_measures), per query or aggregated",
                       description="Score TREC runs with ir_measures. The evaluated queries are the qrels' "
                                   "(∩ topics with --topics); a query a run lacks scores 0 (trec_eval -c). "
                                   "A measure that cannot be computed is reported as 'failed' in its own cells.")
    add_eval_args(p, "TREC run file(s), optionally named as NAME=PATH; before or after the options")
    p.add_argument("--format", choices=FORMATS + ("trec_eval",), default="markdown",
                   help="output format (default: markdown); trec_eval: trec_eval's -q -c text, one run")
    p.add_argument("--per-query", action="store_true", help="print one row per (run, query) instead of means")
    p.add_argument("--strict", action="store_true",
                   help="a run that shares no query with the qrels (∩ topics) is an error (exit 2), not a warning")
    declare_paths(p, inputs=["qrels", "topics", "runs", "measures"], outputs={"output": "table"})
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.evaluate.compare import render_evaluation

    split_runs_from_measures(args)
    result = evaluation_of(args, named_args(args.runs))
    disjoint(result, args.strict)
    emit(render_evaluation(result, args.format, per_query=args.per_query), args.output)
    return 0
