"""``esplade-eval cost`` and ``esplade-eval cost-table``: retrieval cost, and effectiveness vs cost.

Examples::

    esplade-eval cost --index artifacts/demo/indexes/d8-q4 \\
        --queries artifacts/demo/vectors/d8-q4/queries.test.jsonl --repeats 5 --json cost.d8-q4.json
    esplade-eval cost-table --flow artifacts/demo --split test --plots artifacts/demo/plots
"""

from esplade_eval.cli._args import define_progress_args, positive_int, progress_of


def _define_timing_args(p):
    g = p.add_argument_group("latency")
    g.add_argument("--hits", type=positive_int, default=1000, help="top-k of each timed search")
    g.add_argument("--repeats", type=positive_int, default=5, help="timed passes over the query set")
    g.add_argument("--warmup", type=int, default=2, help="untimed passes first (JIT, caches)")
    g.add_argument("--no-latency", action="store_true", help="skip timing (postings and FLOPS only)")
    define_progress_args(p)


def register(sub):
    p = sub.add_parser("cost", help="per-query retrieval cost: postings traversed, FLOPS, latency",
                       description="Postings traversed by exhaustive evaluation, query length, FLOPS and "
                                   "single-threaded warm latency of every query, aggregated over the query set.")
    p.add_argument("--index", required=True, help="Lucene impact index folder")
    p.add_argument("--queries", required=True, help="pre-encoded queries (JSONL: id, contents, vector)")
    p.add_argument("--json", metavar="OUT", help="write the aggregate as JSON")
    p.add_argument("--per-query", metavar="OUT.tsv", help="write one row per query")
    _define_timing_args(p)
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
    t.add_argument("--measures", nargs="+", default=["nDCG@10", "R@100"], help="ir_measures names")
    t.add_argument("--output", help="write the table (.md, .csv or .json: CSV and JSON hold every column)")
    t.add_argument("--all-columns", action="store_true",
                   help="print every cost column (default: the ones papers report)")
    t.add_argument("--plots", metavar="DIR", help="write pareto.png and posting_lengths.png here")
    _define_timing_args(t)
    t.set_defaults(func=run_table, repeats=3)


def run_cost(args):

    from esplade_eval._io import atomic_file, write_json
    from esplade_eval.cost.queries import query_costs, set_flops, summarize
    from esplade_eval.cost.report import load_queries, time_queries
    from esplade_eval.lucene.postings import check_index, read_index_terms

    check_index(args.index)
    queries = load_queries(args.queries)
    terms = read_index_terms(args.index)
    times = None
    if not args.no_latency:
        times = time_queries(args.index, queries, args.hits, args.repeats, args.warmup, progress_of(args))
    costs = query_costs(terms, queries, times)
    summary = {"index": str(args.index), "queries_file": str(args.queries), "documents": terms.documents,
               "hits": args.hits, **summarize(costs, set_flops(terms, queries))}
    from esplade_eval.cli.postings import kv_table

    print(kv_table(summary))
    if args.json:
        write_json(args.json, summary)
        print(f"\naggregate -> {args.json}")
    if args.per_query:
        with atomic_file(args.per_query) as fh:
            costs.to_frame().to_csv(fh, sep="\t", float_format="%.6g")
        print(f"per query -> {args.per_query}")
    return 0


def _parse_level(text: str):
    from pathlib import Path

    from esplade_eval.cost.report import LevelSpec
    from esplade_eval.errors import EspladeError

    name, sep, paths = text.partition("=")
    parts = paths.split(",")
    if not sep or len(parts) not in (2, 3) or not all(parts):
        raise EspladeError(f"--level {text!r}: expected NAME=INDEX,QUERIES[,RUN]")
    checkpoint, _, level = name.rpartition("/")
    return LevelSpec(checkpoint or "-", level, Path(parts[0]), Path(parts[1]), Path(parts[2]) if len(parts) == 3 else None)


def run_table(args):
    from pathlib import Path

    from esplade_eval._io import atomic_file
    from esplade_eval.cost.report import (
        cost_rows,
        levels_in_folder,
        plot_pareto,
        plot_posting_lengths,
        render_cost_table,
    )
    from esplade_eval.errors import EspladeError

    specs = [s for out in args.flow for s in levels_in_folder(out, split=args.split)]
    specs += [_parse_level(text) for text in args.level]
    if not specs:
        raise EspladeError("no levels: give --flow OUT and/or --level NAME=INDEX,QUERIES[,RUN]")
    qrels, topics = args.qrels, args.topics
    if args.flow:
        data = Path(args.flow[0]) / "data"
        qrels = qrels or (data / f"qrels.{args.split}.txt" if (data / f"qrels.{args.split}.txt").is_file() else None)
        topics = topics or (data / f"topics.{args.split}.tsv" if (data / f"topics.{args.split}.tsv").is_file() else None)
    table, _ = cost_rows(specs, qrels=qrels, measures=args.measures, topics=topics, hits=args.hits,
                         repeats=args.repeats, warmup=args.warmup, latency=not args.no_latency,
                         progress=progress_of(args))
    columns = "all" if args.all_columns else "paper"
    print(render_cost_table(table, columns=columns), end="")
    if args.output:
        out = Path(args.output)
        fmt = {".csv": "csv", ".json": "json"}.get(out.suffix, "markdown")
        with atomic_file(out) as fh:
            fh.write(render_cost_table(table, fmt, columns=columns))
        print(f"\ntable -> {out}")
    if args.plots:
        if qrels is None:
            print("no qrels: Pareto plot skipped")
        else:
            print(f"plot -> {plot_pareto(table, Path(args.plots) / 'pareto.png')}")
        print(f"plot -> {plot_posting_lengths(table, Path(args.plots) / 'posting_lengths.png')}")
    return 0
