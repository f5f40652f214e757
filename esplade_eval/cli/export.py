"""``esplade-eval export``: checkpoint + corpus/topics -> JsonVectorCollection(s) + manifest."""

from esplade_eval import guard
from esplade_eval.artifacts import COLLECTION_DIR, EXPORT_MANIFEST, queries_file, topics_name
from esplade_eval.cli._args import (
    AppendUnique,
    check_encoder_args,
    define_collection_args,
    define_encoder_args,
    define_progress_args,
    define_quantization_args,
    define_ray_args,
    load_encoder,
    positive_int,
    progress_of,
    pruning_type,
)
from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser(
        "export", help="encode a corpus and topics into JsonVectorCollections (one per pruning level)",
        description="Encode once, prune to every --levels level, quantise, and write OUT/<level>/ "
                    f"({COLLECTION_DIR}/*.jsonl, {queries_file('<name>')}, {EXPORT_MANIFEST}).")
    define_encoder_args(p)
    define_quantization_args(p)
    p.add_argument("--corpus", help="corpus: JSON lines (id, contents) or id<TAB>text, gzipped or not "
                                    "(omit to export only topics)")
    p.add_argument("--topics", action="append", default=[],
                   help="topics: qid<TAB>text, TREC <top> or JSON lines, gzipped or not (repeatable)")
    define_collection_args(p, default=None, split=False)
    p.add_argument("--split", action="append", default=None,
                   help="with --collection: the splits whose topics to encode (repeatable; default: all)")
    p.add_argument("--out", required=True, help="output folder; one sub-folder per pruning level")
    p.add_argument("--levels", nargs="+", type=pruning_type, default=None, metavar="LEVEL", action=AppendUnique,
                   help="pruning levels, e.g. full d64-q16 d32-q8-w0.1 (default: full)")
    p.add_argument("--shard-size", type=positive_int, default=100_000,
                   help="documents per collection file (with --ray: the unit of work, one shard per task)")
    p.add_argument("--chunk", type=positive_int, default=4096, help="texts encoded together (bounds memory)")
    p.add_argument("--allow-empty", action="store_true",
                   help="write a level whose every document vector is empty (default: an error, nothing written)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing level folders (or, with --topics only, existing query files)")
    define_progress_args(p)
    define_ray_args(p, "encode collection shards on a pool of Ray actors (resumable; same files as without)")
    g = p.add_argument_group("ray export")
    g.add_argument("--workers", type=positive_int, default=None,
                   help="encoder actors (default: one per GPU, else CPUs / --worker-threads)")
    g.add_argument("--worker-threads", type=positive_int, default=None,
                   help="torch threads per CPU actor (default: CPUs / workers)")
    declare_paths(p, inputs=["checkpoint", "corpus", "topics", "collection", "registry"],
                  outputs={"out": guard.EXPORT}, names=["device", "split", "ray"])
    p.set_defaults(func=run)


def run(args):
    from pathlib import Path

    from esplade_eval.data.trec import read_corpus, read_topics
    from esplade_eval.errors import EspladeError
    from esplade_eval.model.export import check_topics_target, export_corpus, export_topics
    from esplade_eval.sparse.prune import Pruning
    from esplade_eval.sparse.quantize import Quantizer

    levels = args.levels or [Pruning()]
    check_encoder_args(args)
    provenance = _use_collection(args) if args.collection else None
    if not args.corpus and not args.topics:
        raise EspladeError("nothing to export: give --corpus and/or --topics, or --collection")
    if args.ray is not None and not args.corpus:
        raise EspladeError("--ray encodes a corpus: give --corpus or --collection (topics alone are exported "
                           "without Ray)")
    if args.corpus:
        _check_fresh([Path(args.out) / p.name for p in levels], args.overwrite)
        if not provenance:  # a user's files are read through once first: a bad line fails before the model loads
            for _ in read_corpus(args.corpus):
                pass
            for topics in args.topics:
                read_topics(topics)
        if args.ray is not None:
            folders = _export_on_ray(args, levels, provenance)
        else:
            folders = export_corpus(load_encoder(args), args.corpus, args.out, levels,
                                    Quantizer(args.scale, args.rounding), shard_size=args.shard_size, chunk=args.chunk,
                                    overwrite=args.overwrite, progress=progress_of(args), topics=args.topics,
                                    collection=provenance, allow_empty=args.allow_empty)
    else:  # topics only, into existing levels, with each level's own pruning and quantisation
        folders = {p.name: Path(args.out) / p.name for p in levels}
        _check_fresh(folders.values(), overwrite=True)
        for folder in folders.values():  # every level and topics file checked before the model loads
            for topics in args.topics:
                check_topics_target(folder, topics, overwrite=args.overwrite)
                read_topics(topics)
        encoder = load_encoder(args)
        for folder in folders.values():
            for topics in args.topics:
                export_topics(encoder, topics, folder, overwrite=args.overwrite)
    for name, folder in folders.items():
        print(f"{name}: {folder} ({EXPORT_MANIFEST}, {COLLECTION_DIR}/, "
              + ", ".join(queries_file(topics_name(t)) for t in args.topics) + ")")
    return 0


def _check_fresh(folders, overwrite: bool) -> None:
    """Level folders another process is writing, or that exist (unless ``--overwrite``), are
    refused before the model loads."""
    from esplade_eval._io import check_unclaimed

    for folder in folders:
        check_unclaimed(folder)
        if folder.exists() and not overwrite:
            raise FileExistsError(f"{folder}: already exists (pass --overwrite to replace it)")


def _use_collection(args) -> dict:
    """``--collection``: its canonical corpus and the topics of ``--split`` (all by default)."""
    from esplade_eval.data.collection import load_collection
    from esplade_eval.errors import EspladeError

    if args.corpus or args.topics:
        raise EspladeError("--collection gives the corpus and topics: leave out --corpus and --topics")
    col = load_collection(args.collection, registry=args.registry)
    for split in args.split or []:
        col.require_split(split, qrels=False)
    args.corpus, args.topics = str(col.corpus), [str(col.topics(s)) for s in args.split or col.splits]
    return col.provenance()


def _export_on_ray(args, levels, provenance):
    from esplade_eval.distributed.export import export_on_ray
    from esplade_eval.distributed.workers import EncoderSettings, FailOnce
    from esplade_eval.sparse.quantize import Quantizer

    settings = EncoderSettings(args.checkpoint, max_length=args.max_length, batch_size=args.batch_size,
                               device=args.device, dtype=args.dtype)
    result = export_on_ray(settings, args.corpus, args.out, levels, Quantizer(args.scale, args.rounding),
                           shard_size=args.shard_size, chunk=args.chunk, topics=args.topics, overwrite=args.overwrite,
                           progress=progress_of(args), address=args.ray or None, workers=args.workers,
                           threads=args.worker_threads, fail_once=FailOnce.from_env(), collection=provenance,
                           allow_empty=args.allow_empty)
    info = result.info
    print(f"ray: {info['shards']} shards ({info['shards_reused']} reused from an earlier run) on {info['workers']} "
          f"workers x {info['threads_per_worker']} threads, {info['seconds']:.1f}s")
    return result.folders
