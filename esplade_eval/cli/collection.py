"""``esplade-eval collection``: prepare and check a collection, or list the registry."""

from esplade_eval import guard
from esplade_eval.cli._args import define_collection_args
from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser("collection", help="prepare a collection from its files and check it (counts, judgments)",
                       description="Read a collection's corpus, topics and qrels in their own formats (a registry "
                                   "entry, or a folder as BEIR or the SMART files of CISI, CACM, Cranfield and "
                                   "Medline hold them), write the "
                                   "canonical files (corpus.jsonl, topics.<split>.tsv, qrels.<split>.txt) and print "
                                   "counts and the judgment check. --list shows the registry.")
    define_collection_args(p, default=None, split=False)
    p.add_argument("--root", default=None,
                   help="where to prepare it (default: artifacts/collections/<name>; a prepared folder is used in place)")
    p.add_argument("--list", action="store_true", help="list the registered collections and their files")
    declare_paths(p, inputs=["collection", "registry"], outputs={"root": guard.COLLECTION})
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.data.collection import load_collection, load_registry, registry_files
    from esplade_eval.errors import EspladeError

    if args.list:
        print("registries: " + ", ".join(map(str, registry_files(args.registry))))
        for name, source in load_registry(args.registry).items():
            files = (f"built in ({source.builtin})" if source.builtin else
                     ", ".join(f"{key} {path}" for key, path in source.files().items()))
            print(f"{name}: {source.description + '; ' if source.description else ''}{files}")
        return 0
    if not args.collection:
        raise EspladeError("give --collection SPEC (or --list)")
    col = load_collection(args.collection, root=args.root, registry=args.registry)
    print(f"prepared: {col.root} (splits: {', '.join(col.splits)}; fingerprint {col.fingerprint[:16]})")
    return 0
