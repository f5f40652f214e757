"""``esplade-eval index``: JsonVectorCollection -> Lucene impact index (Anserini)."""

from esplade_eval.cli._args import define_progress_args, define_threads_arg, progress_of


def register(sub):
    p = sub.add_parser("index", help="build a Lucene impact index from an exported collection",
                       description="Validate a JsonVectorCollection and index it with Anserini "
                                   "(-impact -pretokenized). The index appears under its name only when complete.")
    p.add_argument("--collection", required=True,
                   help="an export level folder (OUT/<level>) or a folder of JsonVectorCollection files")
    p.add_argument("--index", required=True, help="index folder to create")
    define_threads_arg(p, "indexing threads")
    p.add_argument("--no-validate", dest="validate", action="store_false",
                   help="skip the line-by-line check (positive integer weights, no whitespace in terms, unique ids)")
    p.add_argument("--no-optimize", dest="optimize", action="store_false", help="do not merge to one segment")
    p.add_argument("--overwrite", action="store_true", help="replace an existing index")
    define_progress_args(p)
    p.set_defaults(func=run)


def run(args):
    from esplade_eval._io import check_unclaimed
    from esplade_eval.lucene.index import build_index

    check_unclaimed(args.index)  # before the collection is read through

    info = build_index(args.collection, args.index, threads=args.threads, validate=args.validate,
                       optimize=args.optimize, overwrite=args.overwrite, progress=progress_of(args))
    print(f"indexed {info['documents_indexed']} documents into {args.index} in {info['seconds']:.1f}s")
    return 0
