"""The batch search path (no per-hit bridge crossing) against the in-process reference.

The reference is what ``esplade-eval search`` wrote before: Anserini's
``SimpleImpactSearcher`` through pyjnius (:class:`ImpactSearcher`), hits re-ranked by
(-score, docid) with a deeper fetch on a cut-off tie, written by ``write_run``. The batch
path must write the same bytes, on the real indexes of the shared flow (every pruning
level), for pre-encoded queries and for topics encoded on the fly, ties at the cut-off
included; and rank as the brute-force dot product of the exported vectors does.
"""

import os
import re
import subprocess
import sys
from collections import defaultdict

import numpy as np
import pytest

from esplade_eval.data.trec import format_run_lines, run_text, write_run
from esplade_eval.lucene.ties import _tie_scores_loop, anserini_tie_scores

pytestmark = pytest.mark.slow


# -- no JVM ------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_tie_adjustment_vectorised_equals_the_reranker_loop(seed):
    """Integer scores take a vectorised path; it must equal the statement-by-statement port."""
    rng = np.random.default_rng(seed)
    queries = [np.sort(rng.integers(0, [5, 60, 300, 70_000, 3_000_000, 16_000_000][seed], size=n))[::-1]
               for n in rng.integers(1, 1500, size=5)]
    scores = np.concatenate(queries).astype(np.float32)
    first = np.zeros(scores.size, dtype=bool)
    first[np.cumsum([0] + [q.size for q in queries[:-1]])] = True
    got = anserini_tie_scores(scores, first)
    want = np.concatenate([_tie_scores_loop(q.astype(np.float32)) for q in queries])
    assert got.dtype == np.float32 and np.array_equal(got.view(np.int32), want.view(np.int32))
    assert not np.array_equal(got, scores) or seed >= 3  # small integers repeat: some scores really move


def test_tie_adjustment_matches_anserini_on_known_values():
    """Values read from a run Anserini's reranker wrote (the demo's index, query 'apple_sucks')."""
    s = np.array([75, 60, 60, 49, 49, 49, 49, 49, 49, 49, 48], dtype=np.float32)
    out = anserini_tie_scores(s).tolist()
    assert [f"{x:.6f}" for x in out[3:]] == ["49.000000", "49.000000", "48.999996", "48.999996", "48.999996",
                                             "48.999996", "48.999992", "48.000000"]
    bm25 = np.array([7.12346, 7.12347, 3.5], dtype=np.float32)  # equal after rounding to 1e-4
    assert [f"{x:.6f}" for x in anserini_tie_scores(bm25).tolist()] == ["7.123500", "7.123499", "3.500000"]


def test_run_text_is_write_runs_format():
    hits = [("d2", 3.0), ("d1", 2.0), ("d3", 2.0)]
    old = "".join(format_run_lines("q1%", hits, "t%s", "{:.0f}"))
    assert run_text("q1%", [d for d, _ in hits], [s for _, s in hits], "t%s") == old
    frac = [("a", 174.99998474121094), ("b", 2.0)]
    assert run_text("q", ["a", "b"], [s for _, s in frac], "t") == "".join(format_run_lines("q", frac, "t"))
    assert run_text("q", [], [], "t") == ""


# -- the real flow ------------------------------------------------------------------------------
def _reference_run(index, queries, path, k, tag, threads=2):
    from esplade_eval.lucene.search import ImpactSearcher

    with ImpactSearcher(index) as searcher:
        results = searcher.batch_search(queries, k=k, threads=threads)
    write_run(path, {qid: dict(hits) for qid, hits in results.items()}, tag=tag, k=k)
    return results


def _cutoff_ties(results, deeper, k):
    """Queries whose k-th hit ties with the next one (in the deeper reference results)."""
    return [q for q, hits in deeper.items() if len(hits) > k and hits[k - 1][1] == hits[k][1] and results[q]]


@pytest.mark.parametrize("level", ["full", "d16-q4"])
@pytest.mark.parametrize("k", [1000, 10])
def test_batch_run_is_byte_identical_to_the_reference(flow, tmp_path, level, k):
    from esplade_eval.lucene.search import search_to_run
    from esplade_eval.sparse.jsonvector import read_query_vectors

    lv = flow.levels[level]
    queries, _ = read_query_vectors(lv.queries)
    ref = _reference_run(lv.index, queries, tmp_path / "ref.txt", k, "t")
    info = search_to_run(lv.index, queries, tmp_path / "new.txt", k=k, threads=2, tag="t")
    assert (tmp_path / "new.txt").read_bytes() == (tmp_path / "ref.txt").read_bytes()
    assert info["queries"] == len(queries) and info["no_hits"] == sum(1 for h in ref.values() if not h)
    if k == 10:  # the case the deeper fetch exists for must occur
        from esplade_eval.lucene.search import ImpactSearcher

        with ImpactSearcher(lv.index) as s:
            deeper = s.batch_search(queries, k=50)
        assert len(_cutoff_ties(ref, deeper, k)) >= 3


def test_flow_run_is_byte_identical_to_the_reference(flow, tmp_path):
    """The run the flow wrote (through the batch path) is what the reference writes."""
    from esplade_eval.sparse.jsonvector import read_query_vectors

    lv = flow.levels["d16-q4"]
    queries, _ = read_query_vectors(lv.queries)
    _reference_run(lv.index, queries, tmp_path / "ref.txt", 1000, "esplade_d16-q4")
    assert lv.run.read_bytes() == (tmp_path / "ref.txt").read_bytes()


def test_topics_on_the_fly_are_byte_identical_to_the_reference(flow, tmp_path):
    from esplade_eval.artifacts import run_tag
    from esplade_eval.sparse.jsonvector import read_query_vectors

    lv = flow.levels["d16-q4"]
    queries, _ = read_query_vectors(lv.queries)
    tag = run_tag(lv.index.name)  # the CLI's default tag: the one run-tag rule (esplade_<index folder>)
    _reference_run(lv.index, queries, tmp_path / "ref.txt", 100, tag)
    proc = subprocess.run([sys.executable, "-m", "esplade_eval", "search", "--index", lv.index, "--topics", flow.topics,
                           "--checkpoint", "splade-tiny", "--output", tmp_path / "fly.txt", "--hits", "100",
                           "--threads", "1"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "fly.txt").read_bytes() == (tmp_path / "ref.txt").read_bytes()


@pytest.fixture(scope="module")
def tie_groups(flow):
    """``[(term, impact, tied docids, docids ranked above)]``, largest group first: the groups of
    documents whose one-term query scores all tie, from the exported vectors."""
    from esplade_eval.sparse.jsonvector import read_collection

    by_term = defaultdict(list)
    for docid, _, vec in read_collection(flow.levels["full"].vectors / "collection"):
        for term, w in vec.items():
            by_term[term].append((w, docid))
    groups = defaultdict(list)
    for term, postings in by_term.items():
        for w, docid in postings:
            groups[(term, w)].append(docid)
    out = []
    for (term, w), docs in sorted(groups.items(), key=lambda kv: (len(kv[1]), kv[0]), reverse=True):
        higher = [d for x, d in sorted((-x, d) for x, d in by_term[term] if x > w)]
        out.append((term, w, sorted(docs), higher))
    return out


def _tie_for(groups, into: int):
    """The largest group that a cut-off ``into`` hits deep falls inside; at 1, one that goes on
    beyond the margin fetched past k (since the empty titles are empty vectors, the largest
    group, 35 documents under 958 higher ones, is shorter than that margin of 64)."""
    from esplade_eval.lucene.ties import tie_margin

    for term, w, docs, higher in groups:
        k = len(higher) + into
        if len(docs) > into + (tie_margin(k) if into == 1 else 0):
            return term, w, docs, higher
    raise AssertionError(f"no tie group for a cut-off {into} deep")


@pytest.mark.parametrize("into", [1, 30])
def test_cutoff_inside_a_large_tie_is_resolved_by_docid(flow, tmp_path, tie_groups, into):
    """The cut-off falls ``into`` hits deep in a group of equal scores; at 1, the group goes on
    beyond the margin fetched past k, so the fetch doubles; then docids decide."""
    from esplade_eval.lucene.batch import BatchSearcher
    from esplade_eval.lucene.search import impact_queries, search_to_run
    from esplade_eval.lucene.ties import tie_margin

    term, w, docs, higher = _tie_for(tie_groups, into)
    k = len(higher) + into
    index = flow.levels["full"].index
    query = {"tie": {term: 1}}
    expected = (higher + docs)[:k]
    with BatchSearcher(index) as batch:
        jq = dict(impact_queries(batch, query))["tie"]
        raw_docs, raw_scores = batch._top(jq, k + tie_margin(k))
        ids, scores = batch.ranked(jq, k)
        lucene_order = [batch._ids[d] for d in raw_docs][:k]
    assert ids == expected
    if into == 1:
        assert raw_scores[k - 1] == raw_scores[-1] == w  # the margin ends inside the tie: fetched deeper
    else:
        assert lucene_order != expected  # Lucene's own order of equal scores is not the docids': the rule matters
    _reference_run(index, query, tmp_path / "ref.txt", k, "t")
    search_to_run(index, query, tmp_path / "new.txt", k=k, tag="t")
    assert (tmp_path / "new.txt").read_bytes() == (tmp_path / "ref.txt").read_bytes()


def test_batch_top10_equals_brute_force_dot_product(flow):
    from test_flow import _brute_force  # the oracle of the in-process searcher's tests

    from esplade_eval.lucene.search import batch_search
    from esplade_eval.sparse.jsonvector import read_collection, read_query_vectors

    lv = flow.levels["d16-q4"]
    inverted = defaultdict(list)
    for docid, _, vec in read_collection(lv.vectors / "collection"):
        for term, w in vec.items():
            inverted[term].append((docid, w))
    queries, _ = read_query_vectors(lv.queries)
    for qid, ids, scores in batch_search(lv.index, queries, k=10, threads=2):
        want = _brute_force(inverted, queries[qid], 10)
        assert ids == [d for d, _ in want], qid
        # scores are the dot products, up to Anserini's 1e-6 tie adjustment
        assert np.allclose(scores, [s for _, s in want], rtol=0, atol=1e-4), qid


def test_threads_do_not_change_the_result(flow):
    from esplade_eval.lucene.search import batch_search
    from esplade_eval.sparse.jsonvector import read_query_vectors

    lv = flow.levels["full"]
    queries, _ = read_query_vectors(lv.queries)
    one = list(batch_search(lv.index, queries, k=100, threads=1))
    three = list(batch_search(lv.index, queries, k=100, threads=3))
    assert one == three and [q for q, _, _ in one] == list(queries)


def test_empty_queries_and_unknown_terms_have_no_hits(flow, tmp_path):
    from esplade_eval.lucene.search import batch_search, search_to_run

    lv = flow.levels["full"]
    queries = {"a": {}, "b": {"zzzz-not-a-term": 5}, "c": {"web": 0}, "d": {"web": 3}}
    got = {q: ids for q, ids, _ in batch_search(lv.index, queries, k=5)}
    assert got["a"] == got["b"] == got["c"] == [] and len(got["d"]) == 5
    info = search_to_run(lv.index, queries, tmp_path / "r.txt", k=5)
    assert info["no_hits"] == 3 and {line.split()[0] for line in open(tmp_path / "r.txt")} == {"d"}


def test_bad_queries_and_k_are_refused_before_anything_is_written(flow, tmp_path):
    from esplade_eval.lucene.search import search_to_run

    lv = flow.levels["full"]
    with pytest.raises(ValueError, match="non-negative integer"):
        search_to_run(lv.index, {"q": {"web": 1.5}}, tmp_path / "r.txt")
    with pytest.raises(ValueError, match="k must be"):
        search_to_run(lv.index, {"q": {"web": 1}}, tmp_path / "r.txt", k=0)
    with pytest.raises(ValueError, match="run tag"):
        search_to_run(lv.index, {"q": {"web": 1}}, tmp_path / "r.txt", tag="a b")
    assert list(tmp_path.iterdir()) == []


def test_id_table_from_doc_values_equals_stored_fields_in_pages(flow, monkeypatch):
    """Doc values read page by page (a page of 1,000 here) give every stored id, and rank them as strings."""
    import esplade_eval.lucene.batch as batch_module

    monkeypatch.setattr(batch_module, "ID_PAGE", 1000)
    with batch_module.BatchSearcher(flow.levels["d16-q4"].index) as batch:
        paged = dict(batch._ids_from_doc_values())
        stored = dict(batch._ids_from_stored_fields())
        ids = batch.load_ids()
        rank = batch._rank
    assert paged == stored and len(paged) == int(np.sum(ids != None)) > 7000  # noqa: E711
    live = np.flatnonzero(rank >= 0)
    assert [ids[d] for d in live[np.argsort(rank[live])]] == sorted(paged.values())


def test_older_index_mode_ranks_the_same_without_adjusting_scores(flow):
    """Lucene 8 indexes (Anserini: no docid tie-break, no score adjustment) take the stored-field
    table and keep raw scores; the ranking rule is the same."""
    from esplade_eval.lucene.batch import BatchSearcher
    from esplade_eval.lucene.search import impact_queries
    from esplade_eval.sparse.jsonvector import read_query_vectors

    lv = flow.levels["full"]
    queries, _ = read_query_vectors(lv.queries)
    some = dict(list(queries.items())[:60])
    with BatchSearcher(lv.index) as modern:
        want = [modern.ranked(q, 1000) for _, q in impact_queries(modern, some)]
    with BatchSearcher(lv.index) as older:
        older.lucene9 = False
        got = [older.ranked(q, 1000) for _, q in impact_queries(older, some)]
    assert [ids for ids, _ in got] == [ids for ids, _ in want]
    assert [scores for _, scores in got] == [np.rint(scores).tolist() for _, scores in want]
    assert all(float(s).is_integer() for _, scores in got for s in scores)


def test_progress_counts_queries_on_stderr(flow, tmp_path, capsys):
    from esplade_eval.lucene.search import search_to_run
    from esplade_eval.sparse.jsonvector import read_query_vectors

    lv = flow.levels["d16-q4"]
    queries, _ = read_query_vectors(lv.queries)
    search_to_run(lv.index, queries, tmp_path / "r.txt", k=10, progress=True)
    assert re.search(rf"\b\d+/{len(queries)}\b", capsys.readouterr().err)
    search_to_run(lv.index, queries, tmp_path / "r.txt", k=10, progress=False)
    assert f"/{len(queries)}" not in capsys.readouterr().err


def test_heap_is_sized_from_the_index_and_overridable(flow, monkeypatch, tmp_path):
    from esplade_eval.lucene.batch import heap_for_index
    from esplade_eval.lucene.java import HEAP_ENV, choose_heap

    assert heap_for_index(flow.levels["full"].index) == "256m"  # a 1 MB index
    monkeypatch.delenv(HEAP_ENV, raising=False)
    assert choose_heap(None, "300m") == "300m" and choose_heap("1g", "300m") == "1g"
    monkeypatch.setenv(HEAP_ENV, "700m")
    assert choose_heap(None, "300m") == "700m" and choose_heap("1g", "300m") == "1g"
    with pytest.raises(ValueError, match="heap"):
        choose_heap("lots", None)
    proc = subprocess.run([sys.executable, "-m", "esplade_eval", "search", "--index", flow.levels["full"].index,
                           "--queries", flow.levels["full"].queries, "--output", tmp_path / "r.txt", "--heap", "12x"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "not a JVM heap size" in proc.stderr and not (tmp_path / "r.txt").exists()


def test_search_cli_runs_in_a_small_jvm_without_torch(flow, tmp_path):
    """The pre-encoded path neither imports torch nor Pyserini's search package; its JVM gets the sized heap."""
    code = ("import sys; from esplade_eval.cli import main; "
            f"rc = main(['search', '--index', {str(flow.levels['full'].index)!r}, '--queries', "
            f"{str(flow.levels['full'].queries)!r}, '--output', {str(tmp_path / 'r.txt')!r}, '--hits', '10']); "
            "import jnius_config; print(rc, 'torch' in sys.modules, 'pyserini.search' in sys.modules, "
            "[o for o in jnius_config.get_options() if o.startswith('-Xmx')])")
    env = {k: v for k, v in os.environ.items() if k != "ESPLADE_EVAL_JAVA_HEAP"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "0 False False ['-Xmx256m']"


@pytest.fixture(scope="module")
def bm25_index(tmp_path_factory, semanlink):
    from esplade_eval.lucene.bm25 import build_bm25_index

    return build_bm25_index(semanlink.corpus, tmp_path_factory.mktemp("bm25") / "index", threads=2)


def test_bm25_search_equals_anserini_simple_searcher(bm25_index, semanlink):
    """Same hits, same order, same (tie-adjusted) scores as SimpleSearcher.batch_search, the old path."""
    from esplade_eval.data.trec import read_topics
    from esplade_eval.lucene.bm25 import bm25_search
    from esplade_eval.lucene.java import start

    topics = {**read_topics(semanlink.topics("train")), "stop": "the of and", "blank": ""}
    new = bm25_search(bm25_index, topics, k=50, threads=2)
    autoclass = start()
    JArrayList = autoclass("java.util.ArrayList")
    searcher = autoclass("io.anserini.search.SimpleSearcher")(str(bm25_index))
    try:
        texts, qids = JArrayList(), JArrayList()
        for qid, text in topics.items():
            texts.add(text)
            qids.add(qid)
        old = {e.getKey(): [(h.docid, float(h.score)) for h in e.getValue()]
               for e in searcher.batch_search(texts, qids, 50, 2).entrySet().toArray()}
    finally:
        searcher.close()
    assert list(new) == list(topics)
    assert new == {q: old.get(q, []) for q in topics}
    assert new["stop"] == new["blank"] == [] and sum(len(h) == 50 for h in new.values()) > 150
