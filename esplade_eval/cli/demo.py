"""``esplade-eval demo`` (or ``flow``): the whole flow on a collection with one checkpoint."""

import os

from esplade_eval.cli._args import define_collection_args, positive_int, pruning_type


def register(sub):
    p = sub.add_parser("demo", aliases=["flow"], help="run the whole flow on a collection and print the tables",
                       description="A collection (default: the bundled Semanlink web-document titles) + a checkpoint "
                                   "(default: SPLADE-tiny): export at several pruning levels, index, search, evaluate, "
                                   "cost. Re-running resumes.")
    p.add_argument("--out", default="artifacts/demo", help="where every artifact goes")
    p.add_argument("--checkpoint", default="splade-tiny", help="checkpoint folder or name")
    p.add_argument("--levels", nargs="+", type=pruning_type, default=None,
                   help="pruning levels (default: full d32-q16 d16-q8 d8-q4)")
    define_collection_args(p)
    p.add_argument("--max-length", type=positive_int, default=256, help="tokens per text (recorded)")
    p.add_argument("--threads", type=positive_int, default=os.cpu_count() or 1)
    p.add_argument("--measures", nargs="+", default=["nDCG@10", "R@100", "R@1000", "RR@10"])
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.study.demo import run_demo

    run_demo(args.out, checkpoint=args.checkpoint, levels=args.levels, split=args.split, threads=args.threads,
             measures=args.measures, collection=args.collection, registry=args.registry, max_length=args.max_length)
    return 0
