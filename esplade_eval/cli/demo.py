"""``esplade-eval demo``: the whole flow on the bundled Semanlink titles with SPLADE-tiny."""

import os

from esplade_eval.cli._args import positive_int, pruning_type


def register(sub):
    p = sub.add_parser("demo", help="run the whole flow on the bundled real data and print the table",
                       description="Semanlink web-document titles (test split) + SPLADE-tiny: export at several "
                                   "pruning levels, index, search, evaluate. Re-running resumes.")
    p.add_argument("--out", default="artifacts/demo", help="where every artifact goes")
    p.add_argument("--checkpoint", default="splade-tiny", help="checkpoint folder or name")
    p.add_argument("--levels", nargs="+", type=pruning_type, default=None,
                   help="pruning levels (default: full d32-q16 d16-q8 d8-q4)")
    p.add_argument("--split", default="test", choices=["train", "dev", "test"])
    p.add_argument("--threads", type=positive_int, default=os.cpu_count() or 1)
    p.add_argument("--measures", nargs="+", default=["nDCG@10", "R@100", "R@1000", "RR@10"])
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.study.demo import run_demo

    run_demo(args.out, checkpoint=args.checkpoint, levels=args.levels, split=args.split, threads=args.threads,
             measures=args.measures)
    return 0
