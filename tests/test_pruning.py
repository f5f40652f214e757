"""Test-time pruning: at most k terms, the highest weights, deterministic ties, empty vectors handled.

Property-style tests run many seeded random batches (weights drawn from a few values so
that ties are frequent) against a plain-Python reference; the slow tests push pruned-empty
vectors through the real export, Anserini indexing and Lucene search.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from esplade_eval.sparse.prune import Pruning, prune
from esplade_eval.sparse.vectors import SparseBatch


def random_batch(rng, rows=None, vocab=None, tie_values=None) -> SparseBatch:
    rows = rows if rows is not None else int(rng.integers(0, 12))
    vocab = vocab or int(rng.integers(1, 40))
    dense = np.zeros((rows, vocab), dtype=np.float32)
    for r in range(rows):
        n = int(rng.integers(0, vocab + 1))
        cols = rng.choice(vocab, size=n, replace=False)
        if tie_values:
            dense[r, cols] = rng.choice(tie_values, size=n)  # few distinct values: many ties
        else:
            dense[r, cols] = rng.random(n).astype(np.float32) + 0.01
    return SparseBatch.from_dense(dense)


def reference(batch: SparseBatch, k, min_weight) -> list[list[tuple[int, float]]]:
    """Plain Python: per row, drop weights below min_weight, sort by (-weight, term id), keep k."""
    out = []
    for i in range(len(batch)):
        idx, val = batch.row(i)
        pairs = [(int(t), float(w)) for t, w in zip(idx, val) if min_weight is None or w >= min_weight]
        pairs.sort(key=lambda p: (-p[1], p[0]))
        out.append(sorted(pairs[:k] if k is not None else pairs))
    return out


def as_rows(batch: SparseBatch) -> list[list[tuple[int, float]]]:
    return [sorted((int(t), float(w)) for t, w in zip(*batch.row(i))) for i in range(len(batch))]


@pytest.mark.parametrize("seed", range(200))
def test_prune_matches_reference_on_random_batches(seed):
    rng = np.random.default_rng(seed)
    batch = random_batch(rng, tie_values=[0.25, 0.5, 1.0] if seed % 2 else None)
    k = None if seed % 7 == 0 else int(rng.integers(1, 10))
    min_weight = None if seed % 3 else float(rng.choice([0.3, 0.5, 0.9]))
    out = prune(batch, k, min_weight)
    assert len(out) == len(batch), "pruning never drops or adds rows"
    assert as_rows(out) == reference(batch, k, min_weight)
    if k is not None:
        assert out.lengths().max(initial=0) <= k, "never more terms than asked"


@pytest.mark.parametrize("seed", range(50))
def test_kept_weights_dominate_dropped_weights(seed):
    rng = np.random.default_rng(1000 + seed)
    batch = random_batch(rng, rows=6, vocab=30, tie_values=[1.0, 2.0, 3.0])
    k = int(rng.integers(1, 8))
    out = prune(batch, k)
    for i in range(len(batch)):
        kept = dict(zip(*[a.tolist() for a in out.row(i)]))
        dropped = {t: w for t, w in zip(*[a.tolist() for a in batch.row(i)]) if t not in kept}
        assert len(kept) == min(k, batch.lengths()[i])
        if kept and dropped:
            worst_kept = min(kept.values())
            assert worst_kept >= max(dropped.values())
            # a dropped term tying with the worst kept weight has a larger term id than every kept tie
            ties_kept = [t for t, w in kept.items() if w == worst_kept]
            ties_dropped = [t for t, w in dropped.items() if w == worst_kept]
            if ties_dropped:
                assert max(ties_kept) < min(ties_dropped)


def test_ties_keep_smaller_term_id_and_order_is_stable():
    # row 0: terms 9, 3, 5 tie at 0.5; row 1: 7 > 2 = 4
    dense = np.zeros((2, 10), dtype=np.float32)
    dense[0, [9, 3, 5]] = 0.5
    dense[1, [7, 2, 4]] = [0.9, 0.1, 0.1]
    out = Pruning(doc_top_k=2).apply(SparseBatch.from_dense(dense), "doc")
    assert out.row(0)[0].tolist() == [3, 5]
    assert out.row(1)[0].tolist() == [2, 7]
    # the same input in another column order gives the same kept set (determinism)
    perm = np.random.default_rng(0).permutation(10)
    again = Pruning(doc_top_k=2).apply(SparseBatch.from_dense(dense[:, perm]), "doc")
    assert sorted(perm[again.row(0)[0]].tolist()) == [3, 5]


def test_sides_use_their_own_k():
    batch = random_batch(np.random.default_rng(3), rows=5, vocab=30)
    p = Pruning(doc_top_k=6, query_top_k=2)
    assert p.apply(batch, "doc").lengths().max() <= 6
    assert p.apply(batch, "query").lengths().max() <= 2
    with pytest.raises(ValueError, match="side"):
        p.apply(batch, "documents")


def test_pruned_empty_rows_are_kept_and_countable():
    dense = np.array([[0.9, 0.0, 0.2], [0.1, 0.05, 0.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    out = Pruning(doc_top_k=1, min_weight=0.5).apply(SparseBatch.from_dense(dense), "doc")
    assert len(out) == 3
    assert out.lengths().tolist() == [1, 0, 0]
    assert int((out.lengths() == 0).sum()) == 2
    assert out.to_dicts(["a", "b", "c"]) == [{"a": pytest.approx(0.9)}, {}, {}]


def test_empty_batch():
    empty = SparseBatch.concat([])
    assert len(Pruning(4, 4, 0.1).apply(empty, "doc")) == 0


@pytest.mark.parametrize("seed", range(100))
def test_name_round_trips(seed):
    rng = np.random.default_rng(seed)
    kwargs = {}
    if rng.random() < 0.7:
        kwargs["doc_top_k"] = int(rng.integers(1, 2000))
    if rng.random() < 0.7:
        kwargs["query_top_k"] = int(rng.integers(1, 200))
    if rng.random() < 0.5:
        kwargs["min_weight"] = float(rng.choice([0.0, 0.5, 1e-5, 2.5e-7, float(rng.random())]))
    p = Pruning(**kwargs)
    assert Pruning.parse(p.name) == p
    assert " " not in p.name and "/" not in p.name


@pytest.mark.parametrize("bad", ["", "d0", "d-4", "x3", "d4-d8", "q", "d4q8", "w-1"])
def test_bad_names_raise(bad):
    with pytest.raises(ValueError):
        Pruning.parse(bad)


# --- real encoder, export, index, search -----------------------------------------------------------------


@pytest.fixture(scope="module")
def emptied(tmp_path_factory, splade_tiny):
    """A small real corpus exported with a weight threshold that empties some vectors."""
    from esplade_eval.data.trec import write_topics
    from esplade_eval.model.export import export_corpus, export_topics

    root = tmp_path_factory.mktemp("emptied")
    texts = ["semantic web and linked data", "deep learning for nlp", "", "a", "graph neural networks",
             "the", "knowledge graphs in practice", "?", "python programming tips", "of"]
    corpus = root / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "contents": t}) + "\n" for i, t in enumerate(texts)))
    batch = splade_tiny.encode(texts)
    row_max = np.array([batch.row(i)[1].max() if batch.lengths()[i] else 0.0 for i in range(len(texts))])
    # a threshold between the rows' maxima: the weaker rows lose every weight
    threshold = float(np.sort(row_max)[len(texts) // 2])
    pruning = Pruning(doc_top_k=8, query_top_k=4, min_weight=threshold)
    folders = export_corpus(splade_tiny, corpus, root / "vectors", [pruning])
    topics = root / "topics.test.tsv"
    write_topics(topics, {"q1": "semantic web", "q2": "of", "q3": "deep learning"})
    export_topics(splade_tiny, topics, folders[pruning.name], name="test")
    expected_empty = int((row_max < threshold).sum())
    return folders[pruning.name], expected_empty, len(texts)


@pytest.mark.slow
def test_export_counts_empty_vectors(emptied):
    from esplade_eval.artifacts import read_export_manifest as read_manifest
    from esplade_eval.sparse.jsonvector import read_collection

    level, expected_empty, n = emptied
    manifest = read_manifest(level)
    docs = list(read_collection(level / "collection"))
    assert len(docs) == n, "an emptied vector is still written, not dropped"
    empty = sum(1 for _, _, v in docs if not v)
    assert 0 < expected_empty < n
    assert empty == expected_empty == manifest["documents"]["empty_vectors"]
    assert max(len(v) for _, _, v in docs) <= 8
    assert manifest["documents"]["postings"] == sum(len(v) for _, _, v in docs)


@pytest.mark.slow
def test_index_search_and_postings_with_empty_vectors(emptied, tmp_path):
    from esplade_eval.cost.queries import query_costs
    from esplade_eval.lucene.index import build_index
    from esplade_eval.lucene.postings import read_index_terms
    from esplade_eval.lucene.search import ImpactSearcher
    from esplade_eval.sparse.jsonvector import read_collection, read_query_vectors

    level, expected_empty, n = emptied
    info = build_index(level, tmp_path / "idx", threads=1)  # validated: empties counted, not an error
    assert info["validated"]["empty_vectors"] == expected_empty
    docs = list(read_collection(level / "collection"))
    empty_ids = {d for d, _, v in docs if not v}
    terms = read_index_terms(tmp_path / "idx")
    assert terms.num_docs == n - expected_empty, "Anserini skips (and counts) empty documents"
    expected = {}
    for _, _, v in docs:
        for t, w in v.items():
            df, tot = expected.get(t, (0, 0))
            expected[t] = (df + 1, tot + w)
    assert terms.as_dict() == expected
    queries, _ = read_query_vectors(level / "queries.test.jsonl")
    with ImpactSearcher(tmp_path / "idx") as s:
        assert s.search({}, k=10) == []
        for q in queries.values():
            assert not {d for d, _ in s.search(q, k=n)} & empty_ids, "an empty document matches nothing"
    costs = query_costs(terms, queries)
    for i, qid in enumerate(costs.qids):
        used = {t for t, w in queries[qid].items() if w > 0}
        assert costs.postings[i] == sum(len(used & v.keys()) for _, _, v in docs)
