"""``esplade-eval fuse``: fuse TREC runs (RRF or min-max score interpolation) into one checked run.

Example, a hybrid BM25 + SPLADE row::

    esplade-eval fuse runs/run.bm25.txt runs/run.test.full.txt --method rrf --output runs/run.hybrid.txt

and dense + sparse as Pyserini's HybridSearcher (dense run first)::

    esplade-eval fuse runs/run.test.dense.txt runs/run.test.full.txt --method hybrid --alpha 0.1 \
        --normalization --output runs/run.test.dense+full.txt
"""

from esplade_eval import guard
from esplade_eval.cli._args import non_negative_float, positive_float, positive_int, tag_type
from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser("fuse", help="fuse TREC runs (RRF, or min-max score interpolation) into a checked run",
                       description="Reciprocal rank fusion (score = sum 1/(k + rank), k = 60) or interpolation of "
                                   "per-query min-max normalised scores (weights default to equal). Runs are ranked "
                                   "by (-score, docid) first; the fused run is written atomically, ranked the same "
                                   "way, then checked like check-run.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="two or more TREC runs")
    p.add_argument("--output", required=True, help="the fused TREC run")
    p.add_argument("--method", choices=["rrf", "interpolate", "hybrid"], default="rrf",
                   help="fusion method (default: rrf); hybrid: dense run first, then sparse, as Pyserini's "
                        "HybridSearcher: alpha * sparse + dense over each run's top --depth")
    p.add_argument("--k", type=positive_float, default=60.0, help="RRF constant (default: 60)")
    p.add_argument("--weights", type=non_negative_float, nargs="+", help="interpolation weights, one per run (default: equal)")
    p.add_argument("--depth", type=positive_int, default=1000, help="hits of each run considered (default: 1000)")
    p.add_argument("--hits", type=positive_int, default=1000, help="hits per query in the fused run (default: 1000)")
    p.add_argument("--alpha", type=non_negative_float, default=0.1, help="hybrid: the sparse run's weight (default 0.1)")
    p.add_argument("--normalization", action="store_true",
                   help="hybrid: centre each run's scores on (min + max) / 2 and divide by max - min")
    p.add_argument("--weight-on-dense", action="store_true", help="hybrid: sparse + alpha * dense instead")
    p.add_argument("--tag", type=tag_type, default=None, help="run tag (default: rrf or interpolate)")
    p.add_argument("--topics", help="qid<TAB>text topics: the fused run's query ids must be among them")
    declare_paths(p, inputs=["runs", "topics"], outputs={"output": guard.RUN}, names=["tag"])
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.evaluate.fusion import HybridParams, fuse_to_file

    hybrid = HybridParams(args.alpha, args.normalization, args.weight_on_dense)
    result = fuse_to_file(args.runs, args.output, method=args.method, k=args.k, weights=args.weights,
                          depth=args.depth, hits=args.hits, tag=args.tag, topics=args.topics, hybrid_params=hybrid)
    for message in result.messages():
        print(message)
    print(result.summary())
    return 0 if result.ok else 1
