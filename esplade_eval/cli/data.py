"""``esplade-eval data``: build the bundled real test collections."""

from esplade_eval import guard
from esplade_eval.cli._args import positive_int
from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser("data", help="build a bundled test collection (semanlink)",
                       description="Build a bundled, real IR test collection from an installed data carrier.")
    p.add_argument("name", choices=["semanlink"], help="collection to build")
    p.add_argument("--out", required=True, help="output folder (written atomically)")
    p.add_argument("--min-docs", type=positive_int, default=5, help="a tag becomes a query when it labels at least this many documents")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    declare_paths(p, outputs={"out": guard.COLLECTION})
    p.set_defaults(func=run)


def run(args):
    import json

    from esplade_eval.data.semanlink import build_semanlink

    col = build_semanlink(args.out, min_docs=args.min_docs, overwrite=args.overwrite)
    print(json.dumps(json.loads((col.root / "stats.json").read_text()), indent=2))
    print(f"written: {col.root}")
    return 0
