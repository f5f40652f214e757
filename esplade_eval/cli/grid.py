"""``esplade-eval grid``: checkpoints x pruning levels, effectiveness beside cost."""

import os

from esplade_eval import guard
from esplade_eval.cli._args import (
    define_collection_args,
    define_latency_args,
    define_levels_arg,
    define_measures_arg,
    define_threads_arg,
    levels_of,
    named_args,
    positive_int,
    progress_of,
)
from esplade_eval.defaults import COST_MEASURES, MAX_LENGTH
from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser("grid", help="checkpoints x pruning levels: effectiveness beside Lucene cost, with tests",
                       description="Run the flow for every checkpoint at every pruning level on a collection "
                                   "(default: the bundled Semanlink titles), then one effectiveness-vs-cost table "
                                   "and per-level paired t-tests against the first checkpoint. Each checkpoint's flow is a stage "
                                   "of the study engine (OUT/flow-stages/flow/NAME-KEY/): re-running resumes.")
    p.add_argument("--checkpoint", action="append", required=True, metavar="NAME=CKPT",
                   help="a named checkpoint (folder or splade-tiny), repeatable; the first is the baseline")
    define_levels_arg(p)
    p.add_argument("--out", default="artifacts/grid", help="artifacts folder")
    p.add_argument("--results", default=None, help="write RESULTS.md, RESULTS.json and RESULTS_plots/")
    define_collection_args(p)
    p.add_argument("--max-length", type=positive_int, default=MAX_LENGTH, help="tokens per text (recorded)")
    define_measures_arg(p, COST_MEASURES)
    define_latency_args(p, search=False)
    define_threads_arg(p)
    p.add_argument("--jobs", type=positive_int, default=1,
                   help="checkpoints' flows run at once, each in a worker process (default 1); the same results")
    p.add_argument("--references", nargs="*", choices=["bm25", "dense", "hybrid"], default=(), metavar="ROW",
                   help="reference rows in a table of their own: bm25, dense (MiniLM, faiss flat), hybrid (dense + "
                        "the first checkpoint's first level); default none")
    declare_paths(p, inputs=["checkpoint", "collection", "registry"], outputs={"out": guard.FLOW, "results": "table"},
                  names=["split", "measures"])
    p.set_defaults(func=run)


def parse_checkpoints(items) -> dict[str, str]:
    """``{name: checkpoint}`` for ``NAME=CKPT`` or ``CKPT`` (named by its folder)."""
    return named_args(items, "checkpoint", default=lambda ckpt: os.path.basename(os.path.normpath(ckpt)) or ckpt)


def run(args):
    from esplade_eval.study.grid import GridJob, run_grid

    job = GridJob(parse_checkpoints(args.checkpoint), args.out, levels=levels_of(args), split=args.split,
                  threads=args.threads, max_length=args.max_length, measures=args.measures, passes=args.passes,
                  results=args.results, collection=args.collection, registry=args.registry,
                  progress=progress_of(args), references=tuple(args.references), jobs=args.jobs)
    result = run_grid(job)
    print(result["markdown"])
    return 0
