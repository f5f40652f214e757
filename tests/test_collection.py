"""Collections by name, file or folder: the registry, preparation, counts and the judgment check."""

import json

import pytest

from esplade_eval.data.collection import (
    PACKAGED_REGISTRY,
    REGISTRY_ENV,
    Collection,
    collection_from_config,
    load_collection,
    load_registry,
    parse_registry,
    registry_files,
)
from esplade_eval.errors import EspladeError, InputError

TREC_TOPICS = """<top>
<num> Number: q1
<title> semantic web
<desc> Description:
linked data on the web
</top>
<top>
<num> Number: q2
<title> graph embeddings
<desc> Description: vectors for nodes
</top>
<top>
<num> Number: q3
<title> unjudged topic
<desc> Description: nobody judged it
</top>
"""


@pytest.fixture
def files(tmp_path):
    """A small collection in user formats: BEIR-style corpus, TREC topics, BEIR and TREC qrels."""
    src = tmp_path / "src"
    src.mkdir()
    docs = [{"_id": "d1", "title": "The semantic web", "text": "Linked data"},
            {"_id": "d2", "title": "Node2vec", "text": "graph embeddings for nodes"},
            {"_id": "d3", "title": "", "text": ""}]
    (src / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (src / "topics.txt").write_text(TREC_TOPICS)
    (src / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td9\t1\nq2\td2\t1\nq7\td2\t1\n")
    (src / "train.tsv").write_text("t1\tlinked data\n")
    (src / "qrels.train.txt").write_text("t1 0 d1 1\n")
    registry = tmp_path / "collections.toml"
    registry.write_text("""
[mine]
description = "a tiny test collection"
corpus = { path = "src/corpus.jsonl", fields = ["title", "text"] }
[mine.topics]
test = { path = "src/topics.txt", fields = ["title", "description"] }
train = "src/train.tsv"
[mine.qrels]
test = "src/qrels.tsv"
train = "src/qrels.train.txt"
""")
    return registry


def test_prepare_writes_the_canonical_form_with_counts_and_warnings(files, tmp_path):
    lines = []
    col = load_collection("mine", root=tmp_path / "prepared", registry=files, echo=lines.append)
    assert col.name == "mine" and col.splits == ("test", "train") and col.description == "a tiny test collection"
    assert list(col.docs()) == [("d1", "The semantic web Linked data"), ("d2", "Node2vec graph embeddings for nodes"),
                                ("d3", "")]
    assert col.topics("test").read_text() == ("q1\tsemantic web linked data on the web\n"
                                              "q2\tgraph embeddings vectors for nodes\nq3\tunjudged topic nobody judged it\n")
    assert col.read_qrels("test") == {"q1": {"d1": 2, "d9": 1}, "q2": {"d2": 1}, "q7": {"d2": 1}}
    s = col.summary["splits"]["test"]
    assert (col.summary["documents"], col.summary["empty_documents"]) == (3, 1)
    assert (s["queries"], s["judged_queries"], s["judgments"], s["judged_documents"]) == (3, 3, 4, 3)
    assert s["judged_queries_not_in_topics"] == {"count": 1, "examples": ["q7"]}
    assert s["judged_documents_not_in_corpus"] == {"count": 1, "examples": ["d9"]}
    assert s["topics_without_judgments"] == 1
    text = "\n".join(lines)
    assert "corpus: " in text and "(JSON lines, id '_id', text 'title' + 'text')" in text
    assert "(TREC topics, title + description)" in text and "TSV (BEIR)" in text
    assert "collection mine: 3 documents (1 empty)" in text
    assert "  test: 3 queries, 4 judgments (4 relevant) for 3 queries, 3 documents" in text
    assert "warning: test: 1 judged queries are not in the topics (q7): evaluation leaves them out" in text
    assert "warning: test: 1 of 3 judged documents are not in the corpus (d9): no run can retrieve them" in text
    assert "note: test: 1 topics have no judgments" in text
    record = json.loads((col.root / "collection.json").read_text())
    assert record["files"] == col.hashes and record["summary"] == col.summary
    assert record["source"]["topics.test"]["fields"] == ["title", "description"]


def test_prepared_folder_is_reused_until_a_source_changes(files, tmp_path):
    first = load_collection("mine", root=tmp_path / "p", registry=files, echo=None)
    stamp = (first.root / "collection.json").stat().st_mtime_ns
    lines = []
    again = load_collection("mine", root=tmp_path / "p", registry=files, echo=lines.append)
    assert "up to date" in lines[0] and (again.root / "collection.json").stat().st_mtime_ns == stamp
    assert again.fingerprint == first.fingerprint
    (tmp_path / "src" / "train.tsv").write_text("t1\tlinked data on the web\n")
    changed = load_collection("mine", root=tmp_path / "p", registry=files, echo=None)
    assert changed.read_topics("train") == {"t1": "linked data on the web"}
    assert changed.fingerprint != first.fingerprint and changed.corpus_sha256 == first.corpus_sha256


def test_identical_content_from_other_formats_has_the_same_fingerprint(files, tmp_path):
    """A TSV corpus and TSV topics with the same texts prepare to the same canonical files."""
    a = load_collection("mine", root=tmp_path / "a", registry=files, echo=None)
    other = tmp_path / "other"
    other.mkdir()
    (other / "corpus.tsv").write_text("".join(f"{d}\t{t}\n" for d, t in a.docs()))
    for split in a.splits:
        (other / f"topics.{split}.tsv").write_bytes(a.topics(split).read_bytes())
        (other / f"qrels.{split}.txt").write_bytes(a.qrels(split).read_bytes())
    b = load_collection(str(other), root=tmp_path / "b", echo=None)  # a folder of files named by role
    assert b.name == "other" and b.fingerprint == a.fingerprint and b.hashes == a.hashes
    assert load_collection(str(tmp_path / "b"), echo=None) == b  # a prepared folder is used in place


def test_no_judged_query_in_the_topics_is_an_error_and_writes_nothing(tmp_path):
    (tmp_path / "corpus.tsv").write_text("d1\tx\n")
    (tmp_path / "topics.test.tsv").write_text("301\tx\n")
    (tmp_path / "qrels.test.txt").write_text("q301 0 d1 1\n")
    with pytest.raises(InputError, match="none of the 1 judged queries is in the test topics .*q301.*do the query ids"):
        load_collection(str(tmp_path), root=tmp_path / "out", echo=None)
    (tmp_path / "qrels.test.txt").write_text("301 0 D1 1\n")
    with pytest.raises(InputError, match="none of the 1 judged documents is in the corpus"):
        load_collection(str(tmp_path), root=tmp_path / "out", echo=None)
    assert not (tmp_path / "out").exists()


def test_a_foreign_folder_is_never_replaced(files, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("keep")
    with pytest.raises(EspladeError, match="not a prepared collection"):
        load_collection("mine", root=tmp_path / "busy", registry=files, echo=None)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "keep"


@pytest.mark.parametrize("toml, problem", [
    ('[x]\ncorpus = "c.tsv"\n', "x.topics: missing"),
    ('[x]\ncorpus = "c"\ntopics = {test = "t"}\nqrels = {dev = "q"}\n', "x.qrels.dev: no topics for split 'dev'"),
    ('[x]\ncorpus = {path = "c", format = "csv"}\ntopics = {t = "t"}\n', "x.corpus.format: 'csv' is not a corpus format"),
    ('[x]\ncopus = "c"\n', "x.copus: unknown key"),
    ('[x]\ncorpus = "c"\ntopics = {test = {path = "t", fields = 3}}\n', "x.topics.test.fields: expected a list"),
    ('[x]\ncorpus = "c"\ntopics = {test = {file = "t"}}\n', "x.topics.test.file: unknown key"),
    ('[x]\ncorpus = "c"\ntopics = {"a/b" = "t"}\n', "x.topics.a/b: a split name uses"),
    ('[x]\nbuiltin = "msmarco"\n', "x.builtin: unknown built-in 'msmarco'"),
    ('x = 3\n', "x: expected a table describing a collection"),
])
def test_registry_errors_name_file_key_and_problem(tmp_path, toml, problem):
    path = tmp_path / "reg.toml"
    path.write_text(toml)
    with pytest.raises(InputError) as err:
        parse_registry(path)
    assert str(err.value).startswith(f"{path}: ") and problem in str(err.value)


def test_registry_syntax_error_has_a_line_and_names_are_unique(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[x]\ncorpus = "c"\ntopics = {test = }\n')
    with pytest.raises(InputError, match="not valid TOML") as err:
        parse_registry(bad)
    assert err.value.line == 3
    dup = tmp_path / "dup.toml"
    dup.write_text('[semanlink]\ncorpus = "c"\ntopics = {test = "t"}\n')
    with pytest.raises(InputError, match=f"semanlink: already defined in {PACKAGED_REGISTRY}"):
        load_registry(dup)


def test_which_registry_files_are_read(tmp_path, monkeypatch, files):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    assert registry_files() == [PACKAGED_REGISTRY, files.relative_to(tmp_path)]  # ./collections.toml
    other = tmp_path / "other.toml"
    other.write_text('[theirs]\ncorpus = "c"\ntopics = {test = "t"}\n')
    monkeypatch.setenv(REGISTRY_ENV, str(other))
    assert set(load_registry()) == {"semanlink", "theirs"}
    assert set(load_registry(files)) == {"semanlink", "mine"}  # --registry wins


def test_spec_forms(files, tmp_path):
    single = tmp_path / "single.toml"
    single.write_text(files.read_text())
    col = load_collection(str(single), root=tmp_path / "s", echo=None)  # a .toml with one entry; paths from it
    assert col.name == "mine" and col.summary["documents"] == 3
    spec = {"name": "mapped", "corpus": "src/corpus.jsonl", "topics": {"dev": "src/train.tsv"}}
    mapped = load_collection(spec, root=tmp_path / "m", base=tmp_path, echo=None)
    assert mapped.splits == ("dev",) and mapped.summary["splits"]["dev"]["judged_queries"] == 0
    with pytest.raises(EspladeError, match="has no split 'dev' .*qrels.dev.txt missing.* its splits: dev"):
        mapped.require_split("dev")
    with pytest.raises(EspladeError, match="unknown collection 'nothing-here': not a registry name"):
        load_collection("nothing-here", echo=None)


def test_study_configs_name_a_spec_or_the_semanlink_folder(files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    built = collection_from_config(str(tmp_path / "sl"), echo=None)  # a path: where Semanlink is built
    assert built.name == "semanlink" and built.summary["documents"] == 7300
    assert collection_from_config("mine", echo=None).root.resolve() == tmp_path / "artifacts" / "collections" / "mine"
    assert collection_from_config(str(built.root), echo=None) == built


def test_cli_collection_prepares_and_lists(files, tmp_path, capsys):
    from esplade_eval.cli import main

    assert main(["collection", "--collection", "mine", "--registry", str(files), "--root", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "collection mine: 3 documents (1 empty)" in out and f"prepared: {tmp_path / 'c'}" in out
    assert main(["collection", "--list", "--registry", str(files)]) == 0
    out = capsys.readouterr().out
    assert "semanlink: " in out and "built in (semanlink)" in out and "mine: a tiny test collection; corpus " in out
    assert main(["collection", "--collection", "mine", "--registry", str(tmp_path / "nope.toml")]) == 2
    assert "registry file not found" in capsys.readouterr().err


def test_semanlink_is_the_registry_entry(semanlink):
    col = load_collection(str(semanlink.root), echo=None)
    assert isinstance(col, Collection) and col.name == "semanlink"
    assert col.record["source"] == {"builtin": "semanlink", "cherche": "2.2.1", "min_docs": 5}
    assert col.summary["splits"]["test"]["queries"] == 174 and col.summary["documents"] == 7300
    assert all(s["judged_documents_not_in_corpus"]["count"] == 0 for s in col.summary["splits"].values())
