"""``esplade-eval cost``: retrieval cost of one query set, or effectiveness beside cost of many levels.

One verb for both (``cost-table`` folded in, CHANGELOG.md): ``--index`` with ``--queries``
is one level, reported per query; ``--flow`` and ``--level`` give the table of many.

Examples::

    esplade-eval cost --index artifacts/demo/indexes/d8-q4 \\
        --queries artifacts/demo/vectors/d8-q4/queries.test.jsonl --passes 5 --json cost.d8-q4.json
    esplade-eval cost --flow artifacts/demo --split test --plots artifacts/demo/plots
"""

from esplade_eval.cli._args import define_latency_args, define_measures_arg, emit_json, progress_of, write_output
from esplade_eval.defaults import COST_MEASURES
from esplade_eval.guard import declare_paths

#: the options of each mode, refused in the other
ONE_LEVEL = ("index", "queries", "json", "per_query")
TABLE = ("flow", "level", "qrels", "topics", "output", "plots")


def register(sub):
    p = sub.add_parser("cost", help="retrieval cost of a query set, or effectiveness beside cost for many levels",
                       description="With --index and --queries: postings traversed by exhaustive evaluation, "
                                   "query length, FLOPS and single-threaded warm latency of every query, "
                                   "aggregated over the query set. With --flow and/or --level: one row per "
                                   "(checkpoint, pruning level), measures of its run beside postings traversed, "
                                   "FLOPS, posting-length spread and latency; optional Pareto and posting-length "
                                   "plots (PNG).")
    one = p.add_argument_group("one query set on one index")
    one.add_argument("--index", help="Lucene impact index folder, or a sharded index")
    one.add_argument("--queries", help="pre-encoded queries (JSONL: id, contents, vector)")
    one.add_argument("--json", metavar="OUT", help="write the aggregate as JSON")
    one.add_argument("--per-query", metavar="OUT.tsv", help="write one row per query")
    table = p.add_argument_group("levels, one row each (give --flow and/or --level)")
    table.add_argument("--flow", action="append", default=[], metavar="OUT",
                       help="a flow/demo output folder (indexes/, vectors/, runs/); repeatable, one per checkpoint")
    table.add_argument("--level", action="append", default=[], metavar="NAME=INDEX,QUERIES[,RUN]",
                       help="an explicit level, e.g. ckpt/d8-q4=idx,queries.jsonl,run.txt (repeatable)")
    table.add_argument("--split", default="test", help="query split of the flow folders")
    table.add_argument("--qrels", help="TREC qrels (default: OUT/data/qrels.<split>.txt of the first --flow)")
    table.add_argument("--topics", help="restrict evaluation to these topics (default: the flow's topics.<split>.tsv)")
    define_measures_arg(table, COST_MEASURES)
    table.add_argument("--output", help="write the table (.md, .csv or .json: CSV and JSON hold every column)")
    table.add_argument("--all-columns", action="store_true",
                       help="print every cost column (default: the ones papers report)")
    table.add_argument("--plots", metavar="DIR", help="write pareto.png and posting_lengths.png here")
    define_latency_args(p)
    declare_paths(p, inputs=["index", "queries", "level", "qrels", "topics"], workspaces=["flow"],
                  outputs={"json": "JSON file", "per_query": "table", "output": "table", "plots": "plots folder"},
                  names=["split", "measures"])
    p.set_defaults(func=run)


def run(args):
    """The one-level report or the table, by the options given (never a mixture)."""
    from esplade_eval.errors import EspladeError

    one = [f"--{name.replace('_', '-')}" for name in ONE_LEVEL if getattr(args, name)]
    many = [f"--{name.replace('_', '-')}" for name in TABLE if getattr(args, name)]
    if one and many:
        raise EspladeError(f"{', '.join(one)} (one query set) and {', '.join(many)} (a table of levels) do not go "
                           "together: give one or the other")
    if one:
        if not (args.index and args.queries):
            raise EspladeError("one query set needs both --index and --queries")
        return run_cost(args)
    return run_table(args)


def run_cost(args):
    from esplade_eval._io import atomic_file
    from esplade_eval.cost.measure import query_set_cost
    from esplade_eval.cost.render import render_query_set_cost

    summary, level = query_set_cost(args.index, args.queries, args.hits, args.passes, args.warmup,
                                    latency=not args.no_latency, progress=progress_of(args))
    print(render_query_set_cost(summary))
    emit_json(summary, args.json, "aggregate")
    if args.per_query:
        with atomic_file(args.per_query) as fh:
            level.costs.to_frame().to_csv(fh, sep="\t", float_format="%.6g")
        print(f"per query -> {args.per_query}")
    return 0


def run_table(args):
    from pathlib import Path

    from esplade_eval.cost.levels import LevelSpec, flow_judgments, levels_in_folder
    from esplade_eval.cost.plots import plot_pareto, plot_posting_lengths
    from esplade_eval.cost.render import render_cost_table
    from esplade_eval.cost.report import cost_rows
    from esplade_eval.errors import EspladeError

    specs = [s for out in args.flow for s in levels_in_folder(out, split=args.split)]
    specs += [LevelSpec.parse(text) for text in args.level]
    if not specs:
        raise EspladeError("no levels: give --flow OUT and/or --level NAME=INDEX,QUERIES[,RUN] (or --index and "
                           "--queries for one query set)")
    labels = [s.label for s in specs]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:  # one row per level: a name given twice would be two rows under one label
        raise EspladeError(f"level {', '.join(twice)} given twice (two --flow folders of one name, or --level); "
                           "give each a unique CHECKPOINT/LEVEL name")
    qrels, topics = flow_judgments(args.flow[0], args.split) if args.flow else (None, None)
    qrels, topics = args.qrels or qrels, args.topics or topics
    table, _ = cost_rows(specs, qrels, topics, measures=args.measures, hits=args.hits,
                         passes=args.passes, warmup=args.warmup, latency=not args.no_latency,
                         progress=progress_of(args))
    columns = "all" if args.all_columns else "paper"
    print(render_cost_table(table, columns=columns), end="")
    if args.output:
        fmt = {".csv": "csv", ".json": "json"}.get(Path(args.output).suffix, "markdown")
        write_output(render_cost_table(table, fmt, columns=columns), args.output, "table")
    if args.plots:
        if qrels is None:
            print("no qrels: Pareto plot skipped")
        else:
            print(f"plot -> {plot_pareto(table, Path(args.plots) / 'pareto.png')}")
        print(f"plot -> {plot_posting_lengths(table, Path(args.plots) / 'posting_lengths.png')}")
    return 0
