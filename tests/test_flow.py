"""End to end with a real JVM, real Lucene indexes and the real checkpoint.

The exactness oracle: impact scores are integer dot products, so a brute-force dot
product over the exported vectors must reproduce Lucene's top-k exactly.
"""

import json
import os
import subprocess
import sys
from collections import defaultdict

import pytest

from esplade_eval.data.trec import ranked, read_run
from esplade_eval.lucene.search import ImpactSearcher
from esplade_eval.sparse.jsonvector import read_collection, read_query_vectors
from esplade_eval.sparse.prune import Pruning

pytestmark = pytest.mark.slow


def _brute_force(doc_vectors, query, k):
    scores = defaultdict(int)
    for term, qw in query.items():
        for docid, dw in doc_vectors.get(term, ()):
            scores[docid] += qw * dw
    return ranked({d: float(s) for d, s in scores.items() if s > 0}, k)


@pytest.fixture(scope="module")
def postings_by_level(flow):
    out = {}
    for name, level in flow.levels.items():
        inverted = defaultdict(list)
        for docid, _, vec in read_collection(level.vectors / "collection"):
            for term, w in vec.items():
                inverted[term].append((docid, w))
        out[name] = inverted
    return out


@pytest.mark.parametrize("level", ["full", "d16-q4"])
def test_lucene_top10_equals_brute_force_dot_product(flow, postings_by_level, level):
    queries, _ = read_query_vectors(flow.levels[level].queries)
    sample = sorted(queries)[::7]  # 25 queries spread over the split
    with ImpactSearcher(flow.levels[level].index) as searcher:
        for qid in sample:
            assert searcher.search(queries[qid], k=10) == _brute_force(postings_by_level[level], queries[qid], 10), qid


def test_runs_equal_brute_force_for_all_queries(flow, postings_by_level):
    queries, _ = read_query_vectors(flow.levels["d16-q4"].queries)
    run = read_run(flow.levels["d16-q4"].run)
    assert set(run) == set(queries)
    for qid, query in queries.items():
        assert ranked(run[qid], 20) == _brute_force(postings_by_level["d16-q4"], query, 20), qid


def test_stored_impacts_round_trip(flow):
    """The impact Lucene stores for (term, doc) is the exported integer."""
    from esplade_eval.lucene.java import start

    autoclass = start()
    utils = autoclass("io.anserini.index.IndexReaderUtils")
    reader = utils.getReader(str(flow.levels["full"].index))
    docs = list(read_collection(flow.levels["full"].vectors / "collection"))
    checked = 0
    for docid, _, vec in docs[::500]:
        for term, weight in list(vec.items())[:5]:
            postings = {utils.convertLuceneDocidToDocid(reader, p.getDocid()): p.getTF()
                        for p in utils.getPostingsList(reader, term, False).toArray()}
            assert postings[docid] == weight, (docid, term)
            checked += 1
    assert checked >= 50


def test_batch_search_equals_single_search_and_breaks_ties_by_docid(flow):
    queries, _ = read_query_vectors(flow.levels["full"].queries)
    some = dict(list(queries.items())[:20])
    with ImpactSearcher(flow.levels["full"].index) as s:
        batch = s.batch_search(some, k=50, threads=2)
        for qid, q in some.items():
            single = s.search(q, k=50)
            assert batch[qid] == single
            assert single == sorted(single, key=lambda h: (-h[1], h[0]))
        # a one-term query scores documents by that term's impact alone: ties are common
        tied = s.search({"the": 1}, k=30)
    assert tied == sorted(tied, key=lambda h: (-h[1], h[0]))


def test_empty_query_returns_no_hits(flow):
    with ImpactSearcher(flow.levels["full"].index) as s:
        assert s.search({}, k=10) == []
        assert s.search({"zzzz-not-a-term": 5}, k=10) == []


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "esplade_eval", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_pyserini_cli_gives_our_ranking(flow, tmp_path):
    """`python -m pyserini.search.lucene --impact --encoder queries.jsonl` works unmodified, on a
    query file whose lines carry their encoding (Pyserini reads contents and vector only)."""
    level = flow.levels["full"]
    assert all('"encoding":' in line for line in level.queries.read_text().splitlines())
    out = tmp_path / "pyserini.txt"
    proc = subprocess.run([sys.executable, "-m", "pyserini.search.lucene", "--index", level.index,
                           "--topics", flow.topics, "--encoder", level.queries, "--impact",
                           "--output", out, "--hits", "100", "--threads", "2", "--batch-size", "64"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs, ours = read_run(out), read_run(level.run)
    assert set(theirs) == set(ours)
    for qid in ours:
        assert ranked(theirs[qid], 100) == ranked(ours[qid], 100), qid


def test_search_cli_on_the_fly_equals_pre_encoded(flow, tmp_path):
    level = flow.levels["d16-q4"]
    out = tmp_path / "fly.txt"
    proc = _cli("search", "--index", level.index, "--topics", flow.topics, "--checkpoint", "splade-tiny",
                "--output", out, "--hits", "100", "--threads", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    fly, pre = read_run(out), read_run(level.run)
    assert {q: ranked(d, 100) for q, d in fly.items()} == {q: ranked(d, 100) for q, d in pre.items()}


def test_search_refuses_a_max_length_mismatch(flow, tmp_path):
    level = flow.levels["full"]
    proc = _cli("search", "--index", level.index, "--topics", flow.topics, "--checkpoint", "splade-tiny",
                "--max-length", "16", "--output", tmp_path / "x.txt")
    assert proc.returncode == 2 and "max length 16 differs from the index's 256" in proc.stderr
    assert not (tmp_path / "x.txt").exists()


def test_pre_encoded_queries_of_another_max_length_are_refused(flow, tmp_path, splade_tiny):
    """The same check guards pre-encoded queries: a level exported with another max length."""
    from esplade_eval.model.encoder import SpladeEncoder
    from esplade_eval.model.export import export_corpus

    short = SpladeEncoder(splade_tiny.model, splade_tiny.tokenizer, splade_tiny.terms,
                          type(splade_tiny.info)(**{**splade_tiny.info.to_dict(), "max_length": 8}))
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "contents": "semantic web"}\n')
    level = export_corpus(short, corpus, tmp_path / "out", topics=[flow.topics])["full"]
    proc = _cli("search", "--index", flow.levels["full"].index, "--queries", level / "queries.test.jsonl",
                "--output", tmp_path / "r.txt")
    assert proc.returncode == 2 and "max length 8 differs from the index's 256" in proc.stderr
    assert not (tmp_path / "r.txt").exists()


def test_hits_must_be_positive(flow, tmp_path):
    proc = _cli("search", "--index", flow.levels["full"].index, "--queries", flow.levels["full"].queries,
                "--hits", "0", "--output", tmp_path / "r.txt")
    assert proc.returncode == 2 and "--hits: expected a positive integer, got 0" in proc.stderr
    with ImpactSearcher(flow.levels["full"].index) as s, pytest.raises(ValueError, match="k must be"):
        s.search({"web": 1}, k=0)


def test_bad_collection_fails_before_lucene_and_leaves_no_index(tmp_path):
    folder = tmp_path / "col"
    folder.mkdir()
    lines = [json.dumps({"id": "a", "contents": "", "vector": {"x": 3}}),
             json.dumps({"id": "b", "contents": "", "vector": {"y": 1.5}})]
    (folder / "docs.jsonl").write_text("\n".join(lines) + "\n")
    proc = _cli("index", "--collection", folder, "--index", tmp_path / "idx")
    assert proc.returncode == 2
    assert f"{folder / 'docs.jsonl'}:2:" in proc.stderr and "not an integer" in proc.stderr
    assert not (tmp_path / "idx").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["col"]  # no temporary folder left either


def test_index_cli_builds_a_searchable_index(tmp_path):
    folder = tmp_path / "col"
    folder.mkdir()
    (folder / "docs.jsonl").write_text(
        json.dumps({"id": "a", "contents": "", "vector": {"x": 3, "y": 1}}) + "\n"
        + json.dumps({"id": "b", "contents": "", "vector": {"y": 5}}) + "\n"
        + json.dumps({"id": "c", "contents": "", "vector": {}}) + "\n")
    proc = _cli("index", "--collection", folder, "--index", tmp_path / "idx", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    with ImpactSearcher(tmp_path / "idx") as s:
        assert s.search({"x": 2, "y": 1}, k=10) == [("a", 7.0), ("b", 5.0)]
    info = json.loads((tmp_path / "idx" / "esplade_eval.json").read_text())
    assert info["validated"] == {"documents": 3, "empty_vectors": 1, "postings": 3}
    # Anserini skips a document with an empty vector; it could never be retrieved anyway
    assert (info["documents_indexed"], info["empty_skipped"]) == (2, 1)


def test_export_cli_unknown_checkpoint(tmp_path, semanlink):
    proc = _cli("export", "--checkpoint", tmp_path / "missing", "--corpus", semanlink.corpus, "--out", tmp_path / "o")
    assert proc.returncode == 2 and "checkpoint not found" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_export_rejects_duplicate_ids_and_leaves_nothing(tmp_path, splade_tiny):
    from esplade_eval.errors import InputError
    from esplade_eval.model.export import export_corpus

    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "contents": "x"}\n{"id": "a", "contents": "y"}\n')
    with pytest.raises(InputError, match="duplicate document id") as err:
        export_corpus(splade_tiny, corpus, tmp_path / "out")
    assert err.value.line == 2
    assert not (tmp_path / "out").exists()  # no level, no temporary folder, no empty parent


def test_manifest_records_provenance(flow):
    m = json.loads((flow.levels["d16-q4"].vectors / "manifest.json").read_text())
    assert m["encoder"]["checkpoint"] == "splade-tiny" and len(m["encoder"]["checkpoint_hash"]) == 64
    assert m["encoder"]["max_length"] == 256 and m["encoder"]["vocab_size"] == 30522
    assert m["pruning"]["name"] == "d16-q4" and m["quantization"]["scale"] == 100.0
    assert m["documents"]["count"] == 7300
    docs = list(read_collection(flow.levels["d16-q4"].vectors / "collection"))
    assert max(len(v) for _, _, v in docs) <= 16
    assert m["documents"]["postings"] == sum(len(v) for _, _, v in docs)
    assert m["documents"]["empty_vectors"] == sum(1 for _, _, v in docs if not v)
    assert m["queries"]["test"]["count"] == len(read_query_vectors(flow.levels["d16-q4"].queries)[0])


def test_cli_help_is_fast_and_lazy():
    code = ("import sys; from esplade_eval.cli import build_parser; build_parser(); "
            "print('torch' in sys.modules, 'jnius' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ}).stdout.split()
    assert out == ["False", "False"]


def test_export_reads_topics_first_and_leaves_nothing_on_bad_topics(tmp_path, semanlink):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "contents": "semantic web"}\n{"id": "b", "contents": "linked data"}\n')
    topics = tmp_path / "topics.bad.tsv"
    topics.write_text("q1\tsemantic web\nno tab on this line\n")
    proc = _cli("export", "--checkpoint", "splade-tiny", "--corpus", corpus, "--topics", topics,
                "--levels", "full", "--levels", "d1-q1", "--out", tmp_path / "out")
    assert proc.returncode == 2 and f"{topics}:2:" in proc.stderr
    assert not (tmp_path / "out").exists()  # not even an empty folder


def test_export_writes_queries_inside_each_level(tmp_path, splade_tiny):
    from esplade_eval.model.export import export_corpus

    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "contents": "semantic web"}\n{"id": "b", "contents": "linked data"}\n')
    topics = tmp_path / "topics.dev.tsv"
    topics.write_text("q1\tsemantic web ontology\n")
    levels = export_corpus(splade_tiny, corpus, tmp_path / "out", [Pruning(), Pruning(doc_top_k=2, query_top_k=1)],
                           topics=[topics])
    full, _ = read_query_vectors(levels["full"] / "queries.dev.jsonl")
    strict, _ = read_query_vectors(levels["d2-q1"] / "queries.dev.jsonl")
    assert len(strict["q1"]) == 1 and len(full["q1"]) > 1
    top = max(full["q1"], key=lambda t: (full["q1"][t], -splade_tiny.terms.index(t)))
    assert strict["q1"] == {top: full["q1"][top]}  # the highest weight survives, unchanged
    m = json.loads((levels["d2-q1"] / "manifest.json").read_text())
    assert m["queries"]["dev"]["count"] == 1 and m["queries"]["dev"]["mean_vector_length"] == 1.0
