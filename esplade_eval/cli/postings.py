"""``esplade-eval postings``: posting-list statistics of a Lucene impact index (whole vocabulary).

Example::

    esplade-eval postings --index artifacts/demo/indexes/full \\
        --queries artifacts/demo/vectors/full/queries.test.jsonl --top 10 --json postings.full.json
"""


def register(sub):
    p = sub.add_parser("postings", help="posting-list lengths and total impacts of every term of an index",
                       description="Read every term's document frequency (posting-list length) and total impact "
                                   "from a Lucene impact index, in bulk on the Java side, and summarise their spread "
                                   "(mean, variance, std, cv, Gini, max, p50/p90/p99), over the vocabulary and over "
                                   "the terms a query set uses.")
    p.add_argument("--index", required=True, help="Lucene impact index folder")
    p.add_argument("--queries", help="pre-encoded queries (JSONL: id, contents, vector) to restrict statistics to")
    p.add_argument("--json", metavar="OUT", help="write the statistics as JSON")
    p.add_argument("--terms", metavar="OUT.tsv", help="write every term as term<TAB>df<TAB>total_impact")
    p.add_argument("--top", type=int, default=10, metavar="N", help="list the N terms with the longest posting lists")
    p.set_defaults(func=run)


def run(args):

    from esplade_eval._io import atomic_file, write_json
    from esplade_eval.cost.report import load_queries
    from esplade_eval.cost.stats import postings_statistics
    from esplade_eval.lucene.postings import check_index, read_index_terms

    check_index(args.index)
    queries = load_queries(args.queries) if args.queries else None  # fail on a bad file before the JVM starts
    terms = read_index_terms(args.index)
    stats = postings_statistics(terms, queries, top=args.top)
    stats["seconds"] = round(terms.seconds, 3)
    if args.queries:
        stats["queries"]["file"] = str(args.queries)
    print(render(stats))
    if args.json:
        write_json(args.json, stats)
        print(f"\nstatistics -> {args.json}")
    if args.terms:
        with atomic_file(args.terms) as fh:
            fh.write("term\tdf\ttotal_impact\n")
            for t, d, c in zip(terms.terms, terms.df.tolist(), terms.total_impact.tolist()):
                fh.write(f"{t}\t{d}\t{c}\n")
        print(f"terms -> {args.terms}")
    return 0


def render(stats: dict) -> str:
    """Markdown tables: the index, the posting-length spread (vocabulary | query terms), top terms."""
    import pandas as pd

    head = {k: stats[k] for k in ("terms", "postings", "total_impact", "documents", "documents_indexed",
                                  "empty_documents", "mean_vector_length", "mean_vector_impact", "index_bytes")}
    parts = [f"index {stats['index']}", "", kv_table(head)]
    cols = {"vocabulary": stats["posting_lengths"]}
    if "queries" in stats:
        cols["query terms"] = stats["queries"]["posting_lengths"]
    frame = pd.DataFrame({name: {k: fmt(v) for k, v in col.items()} for name, col in cols.items()})
    parts += ["", "posting-list lengths (df)", "", frame.to_markdown(colalign=["left"] + ["right"] * len(cols), disable_numparse=True)]
    if "queries" in stats:
        q = stats["queries"]
        parts += ["", f"queries: {q['queries']} ({q['empty_queries']} empty), {q['distinct_terms']} distinct terms, "
                      f"{q['terms_missing']} absent from the index"]
    if stats.get("top_terms"):
        parts += ["", pd.DataFrame(stats["top_terms"]).to_markdown(index=False, floatfmt=".4g")]
    return "\n".join(parts)


def fmt(value) -> str:
    """Integers in full, other numbers to 4 significant digits, None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.4g}"


def kv_table(values: dict) -> str:
    """A two-column markdown table of ``{name: value}``."""
    import pandas as pd

    return pd.DataFrame({"value": {k: fmt(v) for k, v in values.items()}}).to_markdown(colalign=["left", "right"], disable_numparse=True)
