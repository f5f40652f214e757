"""``esplade-eval cost`` and ``esplade-eval cost-table``: retrieval cost, and effectiveness vs cost.

Examples::

    esplade-eval cost --index artifacts/demo/indexes/d8-q4 \\
        --queries artifacts/demo/vectors/d8-q4/queries.test.jsonl --passes 5 --json cost.d8-q4.json
    esplade-eval cost-table --flow artifacts/demo --split test --plots artifacts/demo/plots
"""

from esplade_eval.cli._args import define_latency_args, define_measures_arg, emit_json, progress_of, write_output
from esplade_eval.defaults import COST_MEASURES
from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser("cost", help="per-query retrieval cost: postings traversed, FLOPS, latency",
                       description="Postings traversed by exhaustive evaluation, query length, FLOPS and "
                                   "single-threaded warm latency of every query, aggregated over the query set.")
    p.add_argument("--index", required=True, help="Lucene impact index folder, or a sharded index")
    p.add_argument("--queries", required=True, help="pre-encoded queries (JSONL: id, contents, vector)")
    p.add_argument("--json", metavar="OUT", help="write the aggregate as JSON")
    p.add_argument("--per-query", metavar="OUT.tsv", help="write one row per query")
    define_latency_args(p, passes=5)
    declare_paths(p, inputs=["index", "queries"], outputs={"json": "JSON file", "per_query": "table"})
    p.set_defaults(func=run_cost)

    t = sub.add_parser("cost-table", help="effectiveness beside cost for several levels, with plots",
                       description="One row per (checkpoint, pruning level): measures of its run beside postings "
                                   "traversed, FLOPS, posting-length spread and latency; optional Pareto and "
                                   "posting-length plots (PNG).")
    src = t.add_argument_group("levels (give --flow and/or --level)")
    src.add_argument("--flow", action="append", default=[], metavar="OUT",
                     help="a flow/demo output folder (indexes/, vectors/, runs/); repeatable, one per checkpoint")
    src.add_argument("--level", action="append", default=[], metavar="NAME=INDEX,QUERIES[,RUN]",
                     help="an explicit level, e.g. ckpt/d8-q4=idx,queries.jsonl,run.txt (repeatable)")
    t.add_argument("--split", default="test", help="query split of the flow folders")
    t.add_argument("--qrels", help="TREC qrels (default: OUT/data/qrels.<split>.txt of the first --flow)")
    t.add_argument("--topics", help="restrict evaluation to these topics (default: the flow's topics.<split>.tsv)")
    define_measures_arg(t, COST_MEASURES)
    t.add_argument("--output", help="write the table (.md, .csv or .json: CSV and JSON hold every column)")
    t.add_argument("--all-columns", action="store_true",
                   help="print every cost column (default: the ones papers report)")
    t.add_argument("--plots", metavar="DIR", help="write pareto.png and posting_lengths.png here")
    define_latency_args(t)
    declare_paths(t, inputs=["level", "qrels", "topics"], workspaces=["flow"],
                  outputs={"output": "table", "plots": "plots folder"}, names=["split", "measures"])
    t.set_defaults(func=run_table)


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
        raise EspladeError("no levels: give --flow OUT and/or --level NAME=INDEX,QUERIES[,RUN]")
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
