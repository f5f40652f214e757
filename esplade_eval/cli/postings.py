"""``esplade-eval postings``: posting-list statistics of a Lucene impact index (whole vocabulary).

Example::

    esplade-eval postings --index artifacts/demo/indexes/full \\
        --queries artifacts/demo/vectors/full/queries.test.jsonl --top 10 --json postings.full.json
"""

from esplade_eval.cli._args import emit_json, non_negative_int
from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser("postings", help="posting-list lengths and total impacts of every term of an index",
                       description="Every term's document frequency (posting-list length) and total impact, read "
                                   "in bulk from a Lucene impact index, and their spread (mean, variance, std, cv, "
                                   "Gini, max, p50/p90/p99) over the vocabulary and over a query set's terms.")
    p.add_argument("--index", required=True, help="Lucene impact index folder, or a sharded index (sums over shards)")
    p.add_argument("--queries", help="pre-encoded queries (JSONL: id, contents, vector) to restrict statistics to")
    p.add_argument("--json", metavar="OUT", help="write the statistics as JSON")
    p.add_argument("--terms", metavar="OUT.tsv", help="write every term as term<TAB>df<TAB>total_impact")
    p.add_argument("--top", type=non_negative_int, default=10, metavar="N", help="list the N terms with the longest posting lists")
    declare_paths(p, inputs=["index", "queries"], outputs={"json": "JSON file", "terms": "table"})
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.cost.measure import index_postings
    from esplade_eval.cost.render import render_postings

    stats, terms = index_postings(args.index, args.queries, top=args.top)
    print(render_postings(stats))
    emit_json(stats, args.json, "statistics")
    if args.terms:
        terms.write_tsv(args.terms)
        print(f"terms -> {args.terms}")
    return 0
