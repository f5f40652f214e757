"""``esplade-eval demo`` (or ``flow``): the whole flow on a collection with one checkpoint."""

from esplade_eval import guard
from esplade_eval.cli._args import (
    define_collection_args,
    define_levels_arg,
    define_measures_arg,
    define_progress_args,
    define_threads_arg,
    levels_of,
    positive_int,
    progress_of,
)
from esplade_eval.defaults import MAX_LENGTH
from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser("demo", aliases=["flow"], help="run the whole flow on a collection and print the tables",
                       description="A collection (default: the bundled Semanlink web-document titles) + a checkpoint "
                                   "(default: SPLADE-tiny): export at several pruning levels, index, search, evaluate, "
                                   "cost. Re-running resumes.")
    p.add_argument("--out", default=None, help="where every artifact goes (default: artifacts/demo for the bundled "
                                               "semanlink collection, artifacts/demo-<name> for another; a folder "
                                               "holding another collection's flow is refused)")
    p.add_argument("--checkpoint", default="splade-tiny", help="checkpoint folder or name")
    define_levels_arg(p)
    define_collection_args(p)
    p.add_argument("--max-length", type=positive_int, default=MAX_LENGTH, help="tokens per text (recorded)")
    define_threads_arg(p)
    define_progress_args(p)
    define_measures_arg(p)
    p.add_argument("--references", nargs="*", choices=["bm25", "dense", "hybrid"], default=None, metavar="ROW",
                   help="reference rows beside the levels: bm25, dense (MiniLM, faiss flat), hybrid (dense + the "
                        "first level, Pyserini's hybrid fusion); default all three; --references alone: none")
    declare_paths(p, inputs=["checkpoint", "collection", "registry"], outputs={"out": guard.FLOW},
                  names=["split", "measures"])
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.data.collection import resolve_spec
    from esplade_eval.guard import check_args
    from esplade_eval.study.demo import DemoJob, run_demo
    from esplade_eval.study.flow import default_flow_folder

    progress_of(args)  # --quiet silences every stage's bars
    if args.out is None:  # a folder per collection, guarded as a given one
        args.out = str(default_flow_folder(resolve_spec(args.collection or "semanlink", args.registry).name))
        check_args(args)

    run_demo(DemoJob(args.out, checkpoint=args.checkpoint, levels=levels_of(args), split=args.split,
                     threads=args.threads, measures=args.measures, collection=args.collection, registry=args.registry,
                     max_length=args.max_length,
                     **({} if args.references is None else {"references": tuple(args.references)})))
    return 0
