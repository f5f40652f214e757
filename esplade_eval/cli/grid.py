"""``esplade-eval grid``: checkpoints x pruning levels, effectiveness beside cost."""

import os

from esplade_eval.cli._args import define_collection_args, define_progress_args, positive_int, progress_of, pruning_type


def register(sub):
    p = sub.add_parser("grid", help="checkpoints x pruning levels: effectiveness beside Lucene cost, with tests",
                       description="Run the flow for every checkpoint at every pruning level on a collection "
                                   "(default: the bundled Semanlink titles), then one effectiveness-vs-cost table "
                                   "and per-level paired t-tests against the first checkpoint. Re-running resumes.")
    p.add_argument("--checkpoint", action="append", required=True, metavar="NAME=CKPT",
                   help="a named checkpoint (folder or splade-tiny), repeatable; the first is the baseline")
    p.add_argument("--levels", nargs="+", type=pruning_type, default=None,
                   help="pruning levels (default: full d32-q16 d16-q8 d8-q4)")
    p.add_argument("--out", default="artifacts/grid", help="artifacts folder")
    p.add_argument("--results", default=None, help="write RESULTS.md, RESULTS.json and RESULTS_plots/")
    define_collection_args(p)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--measures", nargs="+", default=["nDCG@10", "R@100"])
    p.add_argument("--repeats", type=positive_int, default=3, help="timed passes for latency")
    p.add_argument("--threads", type=positive_int, default=os.cpu_count() or 1)
    define_progress_args(p)
    p.set_defaults(func=run)


def parse_checkpoints(items):
    from esplade_eval.errors import EspladeError

    out = {}
    for item in items:
        name, sep, ckpt = item.partition("=")
        if not sep:
            name, ckpt = os.path.basename(os.path.normpath(item)) or item, item
        if not name or not ckpt or name in out:
            raise EspladeError(f"--checkpoint {item!r}: expected a unique NAME=CKPT")
        out[name] = ckpt
    return out


def run(args):
    from esplade_eval.study.flow import DEFAULT_LEVELS
    from esplade_eval.study.grid import run_grid

    result = run_grid(parse_checkpoints(args.checkpoint), args.out, levels=args.levels or DEFAULT_LEVELS,
                      split=args.split, threads=args.threads, max_length=args.max_length, measures=args.measures,
                      repeats=args.repeats, results=args.results, progress=progress_of(args),
                      collection=args.collection, registry=args.registry)
    print(result["markdown"])
    return 0
