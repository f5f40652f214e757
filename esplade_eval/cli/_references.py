"""What the ``bm25`` and ``dense`` verbs share: the collection, the output folder, the run."""

from esplade_eval.cli._args import define_collection_args, define_progress_args, define_threads_arg, positive_int
from esplade_eval.defaults import HITS


def define_reference_args(parser) -> None:
    """``--collection/--registry/--split``, ``--out``, ``--hits``, ``--threads``, progress."""
    define_collection_args(parser)
    parser.add_argument("--out", default="artifacts/demo",
                        help="flow folder: the index goes to OUT/references/<name>/, the run to "
                             "OUT/runs/run.<split>.<name>.txt, a collection spec is prepared into OUT/data "
                             "(default: artifacts/demo, the demo's folder)")
    parser.add_argument("--hits", type=positive_int, default=HITS, help=f"hits per query (default {HITS})")
    define_threads_arg(parser)
    define_progress_args(parser)


def reference_job(args):
    """The :class:`~esplade_eval.study.references.ReferenceJob` of parsed arguments; an ``--out``
    that is, or lies inside, an input is refused before any work."""
    from pathlib import Path

    from esplade_eval.cli._args import progress_of
    from esplade_eval.errors import EspladeError
    from esplade_eval.study.flow import resolve_collection
    from esplade_eval.study.references import ReferenceJob, refuse_input_as_output

    out = Path(args.out)
    spec = Path(args.collection)
    if spec.is_dir():  # a source folder named as the collection is an input too
        refuse_input_as_output(out, spec)
    elif spec.is_file() and out.resolve() == spec.resolve():
        raise EspladeError(f"--out {out}: is the collection file {spec} (an input)")
    collection = resolve_collection(args.collection, out, args.registry)
    refuse_input_as_output(out, collection.root)
    collection.require_split(args.split, qrels=False)
    return ReferenceJob(out, collection, args.split, args.hits, args.threads, progress_of(args))


def report(result, collection, split: str) -> None:
    """Print where the run went and, when the split has judgments, its nDCG@10 and R@1000."""
    from esplade_eval.evaluate import Evaluator

    print(f"{result.name}: {result.info['queries']} queries -> {result.run} (index {result.index})")
    if collection.qrels(split).is_file():
        evaluation = Evaluator(collection.qrels(split), ["nDCG@10", "R@1000"],
                               topics=collection.topics(split)).evaluate({result.name: str(result.run)})
        means = evaluation.aggregate()
        print(f"{result.name} on {collection.name} {split}: nDCG@10 {means.loc[result.name, 'nDCG@10']:.4f}, "
              f"R@1000 {means.loc[result.name, 'R@1000']:.4f}")
