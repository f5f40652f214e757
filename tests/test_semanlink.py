"""The bundled Semanlink collection: counts and sampled items (ir_datasets' habit)."""

import json

from esplade_eval.data.semanlink import SPLITS, build_semanlink, doc_id, split_of
from esplade_eval.data.trec import read_corpus, read_qrels, read_topics


def test_counts(semanlink):
    docs = list(read_corpus(semanlink.corpus))
    assert len(docs) == 7300
    assert sum(1 for _, text in docs if not text) == 61
    topics = {s: read_topics(semanlink.topics(s)) for s in SPLITS}
    assert sum(len(t) for t in topics.values()) == 873
    assert all(len(topics[s]) > 100 for s in SPLITS)
    qrels = {s: read_qrels(semanlink.qrels(s)) for s in SPLITS}
    direct = sum(1 for s in SPLITS for docs_ in qrels[s].values() for g in docs_.values() if g == 2)
    assert direct == 10924
    stats = json.loads((semanlink.root / "stats.json").read_text())
    assert stats["direct_pairs"] == 10924 and stats["documents"] == 7300


def test_splits_are_disjoint_and_cover_qrels(semanlink):
    seen = set()
    for s in SPLITS:
        qids = set(read_topics(semanlink.topics(s)))
        assert not qids & seen
        seen |= qids
        assert set(read_qrels(semanlink.qrels(s))) == qids
        # every query has at least 5 directly tagged documents
        assert all(sum(g == 2 for g in d.values()) >= 5 for d in read_qrels(semanlink.qrels(s)).values())


def test_sampled_items(semanlink):
    docs = list(read_corpus(semanlink.corpus))
    assert docs[1] == (doc_id("http://www.semanlink.net/doc/2019/10/document_analysis_with_machine_"),
                       "Document analysis with machine learning")
    assert docs[0][1] == "Layered_Semantic_Enterprise_Architecture.png"
    ids = {d for d, _ in docs}
    assert len(ids) == 7300 and all(i.startswith("d") and len(i) == 13 for i in ids)
    test_topics = read_topics(semanlink.topics("test"))
    assert test_topics["african_languages"] == "African languages"
    assert split_of("http://www.semanlink.net/tag/african_languages") == "test"
    qrels = read_qrels(semanlink.qrels("test"))
    assert all(d in ids for docs_ in qrels.values() for d in docs_)


def test_build_is_deterministic(tmp_path, semanlink):
    again = build_semanlink(tmp_path / "again")
    for name in ["corpus.jsonl", "qrels.test.txt", "topics.train.tsv", "docids.tsv"]:
        assert (again.root / name).read_bytes() == (semanlink.root / name).read_bytes()


def test_ensure_never_replaces_a_foreign_folder(tmp_path, semanlink):
    import pytest

    from esplade_eval.data.semanlink import ensure_semanlink
    from esplade_eval.errors import EspladeError

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(EspladeError, match="not a built Semanlink collection"):
        ensure_semanlink(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    assert (ensure_semanlink(tmp_path / "empty").root / "stats.json").is_file()
    assert ensure_semanlink(semanlink.root).root == semanlink.root  # a built one is reused as is
