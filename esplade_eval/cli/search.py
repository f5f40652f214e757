"""``esplade-eval search``: pre-encoded queries (or topics encoded on the fly) -> TREC run."""

from esplade_eval import guard
from esplade_eval.cli._args import (
    check_encoder_args,
    define_encoder_args,
    define_progress_args,
    define_ray_args,
    heap_type,
    load_encoder,
    positive_int,
    progress_of,
    pruning_type,
    tag_type,
)
from esplade_eval.defaults import HITS
from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser("search", help="impact search with pre-encoded queries or topics + checkpoint",
                       description="Search a Lucene impact index; writes a TREC run ranked by (-score, docid).")
    p.add_argument("--index", required=True,
                   help="Lucene impact index folder, or a sharded index (searched shard by shard, merged exactly)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--queries", help="pre-encoded queries (JSONL: id, contents, vector), e.g. OUT/full/queries.test.jsonl")
    src.add_argument("--topics", help="qid<TAB>text topics, encoded on the fly with --checkpoint")
    p.add_argument("--output", help="TREC run to write (default: runs/run.<topics name>.<index folder>.txt, refused "
                                    "when it exists unless --overwrite: two indexes in folders of one name would "
                                    "share it)")
    p.add_argument("--overwrite", action="store_true", help="replace the default run when it exists")
    p.add_argument("--hits", type=positive_int, default=HITS, help="hits per query")
    p.add_argument("--tag", type=tag_type, default=None, help="run tag (default: esplade_<index folder>)")
    p.add_argument("--query-prune", type=pruning_type, default=None, metavar="LEVEL",
                   help="query pruning when encoding on the fly (default: the index's export manifest)")
    p.add_argument("--allow-mismatch", action="store_true",
                   help="search even if the queries were encoded otherwise than the index (checkpoint, max length, "
                        "vocabulary, quantisation: the encoding a query file carries in its lines, or the "
                        "checkpoint's on the fly), or their encoding is unknown")
    p.add_argument("--allow-unknown-encoding", action="store_true",
                   help="search a query file whose encoding is unknown (written by another tool)")
    p.add_argument("--heap", type=heap_type, default=None,
                   help="JVM heap, e.g. 512m or 2g (default: $ESPLADE_EVAL_JAVA_HEAP, else sized from the index)")
    define_progress_args(p)  # queries done / total
    define_ray_args(p, "search every shard on its own Ray actor (a warm JVM each) and merge the hits")
    define_encoder_args(p, required=False)
    declare_paths(p, inputs=["index", "queries", "topics", "checkpoint"], outputs={"output": guard.RUN},
                  names=["tag", "ray", "device"])
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.artifacts import default_run
    from esplade_eval.guard import check_default_output
    from esplade_eval.lucene.search import checked_queries, search_to_run

    if not args.output:  # checked like a given one, before any query is read
        args.output = str(default_run(args.queries or args.topics, args.index))
        check_default_output(args, "output", args.overwrite)
    check_encoder_args(args)
    if args.queries:
        queries = checked_queries(args.queries, args.index, args.allow_mismatch, args.allow_unknown_encoding)
    else:
        queries = _encode_topics(args)
    output = args.output
    search = None
    if args.ray is not None:
        from esplade_eval.distributed.search import ray_searcher

        search = ray_searcher(args.ray or None)
    info = search_to_run(args.index, queries, output, k=args.hits, threads=args.threads, tag=args.tag,
                         heap=args.heap, progress=progress_of(args),
                         quick_jit=True, search=search)  # this process does nothing else with its JVM
    print(f"{info['queries']} queries in {info['seconds']:.2f}s ({info['threads']} threads, JVM heap "
          f"{info['heap']}) -> {info['output']}")
    return 0


def _encode_topics(args):
    from esplade_eval.artifacts import index_export_manifest
    from esplade_eval.data.trec import read_topics
    from esplade_eval.errors import EspladeError
    from esplade_eval.lucene.index import check_index
    from esplade_eval.model.export import encode_queries

    if not args.checkpoint:
        raise EspladeError("--topics needs --checkpoint to encode the queries")
    topics = read_topics(args.topics)  # a bad file fails before the model loads
    manifest = index_export_manifest(check_index(args.index, allow_sharded=True))
    return encode_queries(load_encoder(args), topics, manifest, pruning=args.query_prune, where=str(args.index),
                          allow_mismatch=args.allow_mismatch)
