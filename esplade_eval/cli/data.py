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

    check_min_docs(args.min_docs)
    col = build_semanlink(args.out, min_docs=args.min_docs, overwrite=args.overwrite)
    print(json.dumps(json.loads((col.root / "stats.json").read_text()), indent=2))
    print(f"written: {col.root}")
    return 0


def check_min_docs(min_docs: int) -> None:
    """Refuse a ``--min-docs`` that no tag reaches: the build would write empty topics, which
    evaluate to a table of nothing. (Checked here: ``data/semanlink.py``'s text keys the
    study's stage cache, so it stays as it is.)"""
    from collections import Counter

    from esplade_eval.data.semanlink import load_raw
    from esplade_eval.errors import EspladeError

    docs, tags = load_raw()
    counts = Counter(tag for d in docs for tag in dict.fromkeys(d["tag"]))
    most = max((n for tag, n in counts.items() if tag in tags and tags[tag].get("prefLabel")), default=0)
    if most < min_docs:
        raise EspladeError(f"--min-docs {min_docs}: no tag labels that many documents (the most is {most}), so "
                           "there would be no queries; give a smaller --min-docs")
