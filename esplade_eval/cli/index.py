"""``esplade-eval index``: JsonVectorCollection -> Lucene impact index (Anserini), whole or sharded."""

from esplade_eval import guard
from esplade_eval.cli._args import define_progress_args, define_ray_args, define_threads_arg, positive_int, progress_of
from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser("index", help="build a Lucene impact index from an exported collection",
                       description="Validate a JsonVectorCollection and index it with Anserini (-impact "
                                   "-pretokenized); the index appears only when complete. With --shards N: N Lucene "
                                   "indexes under one folder that every other verb accepts as the index.")
    p.add_argument("--collection", required=True,
                   help="an export level folder (OUT/<level>) or a folder of JsonVectorCollection files")
    p.add_argument("--index", required=True, help="index folder to create")
    define_threads_arg(p, "indexing threads in all (with --shards: shared by the shards built at once)")
    p.add_argument("--shards", type=positive_int, default=None, help="build a sharded index of N Lucene indexes")
    p.add_argument("--parallel", type=positive_int, default=None,
                   help="shards built at once, each with threads / parallel indexing threads "
                        "(default: as many as --threads allows, at most N)")
    define_ray_args(p, "build the shards as Ray tasks (with --shards)")
    p.add_argument("--no-validate", dest="validate", action="store_false",
                   help="skip the line-by-line check (positive integer weights, no whitespace in terms, unique ids)")
    p.add_argument("--no-optimize", dest="optimize", action="store_false", help="do not merge to one segment")
    p.add_argument("--allow-empty", action="store_true",
                   help="index a collection with no document to index (default: an error, nothing written)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing index")
    define_progress_args(p)
    declare_paths(p, inputs=["collection"], outputs={"index": guard.INDEX}, names=["ray"])
    p.set_defaults(func=run)


def run(args):
    from esplade_eval._io import check_unclaimed
    from esplade_eval.errors import EspladeError

    if args.ray is not None and args.shards is None:
        raise EspladeError("--ray builds shards: give --shards N")
    check_unclaimed(args.index)  # before the collection is read through
    if args.shards is None:
        from esplade_eval.lucene.index import build_index

        info = build_index(args.collection, args.index, threads=args.threads, validate=args.validate,
                           optimize=args.optimize, overwrite=args.overwrite, progress=progress_of(args),
                           allow_empty=args.allow_empty)
        print(f"indexed {info['documents_indexed']} documents into {args.index} in {info['seconds']:.1f}s")
        return 0
    from esplade_eval.lucene.shards import build_sharded_index

    runner = None
    if args.ray is not None:
        from esplade_eval.distributed.index import ray_runner

        runner = ray_runner(args.ray or None)
    parallel = args.parallel or min(args.shards, args.threads)
    info = build_sharded_index(args.collection, args.index, args.shards, threads=max(1, args.threads // parallel),
                               parallel=parallel, validate=args.validate, optimize=args.optimize,
                               overwrite=args.overwrite, runner=runner, progress=progress_of(args),
                               allow_empty=args.allow_empty)
    sizes = ", ".join(str(s["documents_indexed"]) for s in info["shards"])
    print(f"indexed {info['documents_indexed']} documents into {args.shards} shards ({sizes}) under {args.index} "
          f"in {info['seconds']:.1f}s")
    return 0
