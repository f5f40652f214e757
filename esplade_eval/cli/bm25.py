"""``esplade-eval bm25``: the BM25 reference run of a collection (Lucene through Anserini).

Example::

    esplade-eval bm25 --collection semanlink --split test --out artifacts/demo
"""

from esplade_eval import guard
from esplade_eval.cli._args import define_reference_args, non_negative_float, positive_int
from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser("bm25", help="BM25 reference run: a Lucene index of the collection's text, searched",
                       description="Index the collection's text with Anserini (Pyserini's default analyzer; reused "
                                   "while the corpus is unchanged), search the split's topics by BM25 (k1=0.9, b=0.4 "
                                   "unless given; optionally RM3) and write a TREC run, identical to Pyserini's "
                                   "`python -m pyserini.search.lucene --bm25` on the same index.")
    define_reference_args(p)
    p.add_argument("--k1", type=non_negative_float, default=0.9, help="BM25 k1 (default 0.9, Anserini's)")
    p.add_argument("--b", type=non_negative_float, default=0.4, help="BM25 b, in [0, 1] (default 0.4, Anserini's)")
    p.add_argument("--rm3", action="store_true", help="RM3 query expansion (Pyserini's defaults: 10 terms, "
                                                      "10 documents, original query weight 0.5)")
    p.add_argument("--fb-terms", type=positive_int, default=10, help="RM3 feedback terms")
    p.add_argument("--fb-docs", type=positive_int, default=10, help="RM3 feedback documents")
    declare_paths(p, inputs=["collection", "registry"], outputs={"out": guard.FLOW}, names=["split"])
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.cli._args import reference_job, report_reference
    from esplade_eval.errors import EspladeError
    from esplade_eval.lucene.bm25 import BM25Params
    from esplade_eval.study.references import bm25_reference

    try:
        params = BM25Params(args.k1, args.b, args.rm3, args.fb_terms, args.fb_docs)
    except ValueError as exc:
        raise EspladeError(str(exc)) from None
    job = reference_job(args)
    result = bm25_reference(job, params)
    report_reference(result, job.collection, job.split)
    return 0
