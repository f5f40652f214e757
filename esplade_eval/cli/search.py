"""``esplade-eval search``: pre-encoded queries (or topics encoded on the fly) -> TREC run."""

import os

from esplade_eval.cli._args import (
    define_encoder_args,
    define_progress_args,
    heap_type,
    positive_int,
    progress_of,
    pruning_type,
)


def register(sub):
    p = sub.add_parser("search", help="impact search with pre-encoded queries or topics + checkpoint",
                       description="Search a Lucene impact index; writes a TREC run ranked by (-score, docid).")
    p.add_argument("--index", required=True, help="Lucene impact index folder")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--queries", help="pre-encoded queries (JSONL: id, contents, vector), e.g. OUT/full/queries.test.jsonl")
    src.add_argument("--topics", help="qid<TAB>text topics, encoded on the fly with --checkpoint")
    p.add_argument("--output", help="TREC run to write (default: runs/run.<queries>.<index>.txt)")
    p.add_argument("--hits", type=positive_int, default=1000, help="hits per query")
    p.add_argument("--tag", default=None, help="run tag (default: the index folder name)")
    p.add_argument("--prune", type=pruning_type, default=None,
                   help="query pruning when encoding on the fly (default: the index's export manifest)")
    p.add_argument("--allow-mismatch", action="store_true",
                   help="search even if queries were encoded with another checkpoint/quantisation than the index")
    p.add_argument("--heap", type=heap_type, default=None,
                   help="JVM heap, e.g. 512m or 2g (default: $ESPLADE_EVAL_JAVA_HEAP, else sized from the index)")
    define_progress_args(p)  # queries done / total
    define_encoder_args(p, required=False)
    p.set_defaults(func=run)


def run(args):
    from pathlib import Path

    from esplade_eval.errors import EspladeError
    from esplade_eval.lucene.index import read_index_manifest
    from esplade_eval.lucene.search import read_query_vectors, search_to_run

    index_info = read_index_manifest(args.index) or {}
    index_manifest = index_info.get("export_manifest")
    if args.queries:
        queries, _ = read_query_vectors(args.queries)
        qpath = Path(args.queries)
        if (qpath.parent / "manifest.json").is_file() and not args.allow_mismatch:
            from esplade_eval.sparse.manifest import check_compatible, read_manifest

            check_compatible(index_manifest, read_manifest(qpath.parent), str(args.queries))
        name = qpath.name.removesuffix(".jsonl")
    else:
        if not args.checkpoint:
            raise EspladeError("--topics needs --checkpoint to encode the queries")
        queries = _encode_topics(args, index_manifest)
        name = Path(args.topics).name.removesuffix(".tsv")
    index_name = Path(args.index).resolve().name
    output = args.output or os.path.join("runs", f"run.{name}.{index_name}.txt")
    info = search_to_run(args.index, queries, output, k=args.hits, threads=args.threads,
                         tag=args.tag or index_name.replace(" ", "_"), heap=args.heap, progress=progress_of(args),
                         quick_jit=True)  # this process does nothing else with its JVM
    print(f"{info['queries']} queries in {info['seconds']:.2f}s ({info['threads']} threads, JVM heap "
          f"{info['heap']}) -> {info['output']}")
    return 0


def _encode_topics(args, index_manifest):
    from esplade_eval.cli._args import load_encoder
    from esplade_eval.data.trec import read_topics
    from esplade_eval.model.export import encode_queries

    topics = read_topics(args.topics)  # a bad file fails before the model loads
    return encode_queries(load_encoder(args), topics, index_manifest, pruning=args.prune, where=str(args.index),
                          allow_mismatch=args.allow_mismatch)
