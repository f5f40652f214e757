"""The bundled collection written out in every supported format gives the same runs and tables
through the whole flow (real SPLADE-tiny, real Anserini indexes, real Lucene search), and the
flow's artifact cache notices a changed corpus or topics."""

import gzip
import json

import pytest

from esplade_eval.data.trec import read_run
from esplade_eval.sparse.prune import Pruning
from esplade_eval.study.demo import effectiveness_table
from esplade_eval.study.flow import run_flow

pytestmark = pytest.mark.slow

LEVELS = [Pruning(), Pruning(8, 4)]
MEASURES = ("nDCG@10", "R@100", "RR@10")
HITS = 100  # enough for these measures; keeps the repeated searches short


def _halves(text: str) -> tuple[str, str]:
    words = text.split()
    k = len(words) // 2
    return " ".join(words[:k]), " ".join(words[k:])


def _open(path, gz: bool):
    return gzip.open(path, "wt", encoding="utf-8") if gz else open(path, "w", encoding="utf-8")


def write_corpus(path, docs, fmt: str) -> None:
    with _open(path, fmt.endswith("gz")) as fh:
        for docid, text in docs:
            if fmt == "jsonl-title-contents":  # Pyserini JsonCollection with a title
                title, contents = _halves(text)
                fh.write(json.dumps({"id": docid, "title": title, "contents": contents}) + "\n")
            else:  # MS MARCO style id<TAB>text
                fh.write(f"{docid}\t{text}\n")


def write_topics(path, topics, fmt: str, pyserini_queries=None) -> None:
    if fmt == "pyserini-encoded":  # Pyserini's own pre-encoded query file, as `export` wrote it
        path.write_bytes(pyserini_queries.read_bytes())
        return
    with _open(path, fmt.endswith("gz")) as fh:
        for qid, text in topics.items():
            if fmt == "trec-title":
                fh.write(f"<top>\n\n<num> Number: {qid}\n<title> {text}\n\n<desc> Description:\nAbout {text}.\n\n"
                         "<narr> Narrative:\nAnything.\n</top>\n\n")
            elif fmt == "trec-title-description":  # the label split over the two fields, the description wrapped
                title, rest = _halves(text)
                fh.write(f"<top>\n<num> Number: {qid}\n<title> {title}\n<desc> Description:\n"
                         + "\n".join(rest.split()) + "\n<narr> Narrative:\nAnything.\n</top>\n")
            elif fmt == "jsonl-qid-query":
                fh.write(json.dumps({"qid": qid, "query": text}) + "\n")
            elif fmt == "jsonl-beir":
                fh.write(json.dumps({"_id": qid, "text": text, "metadata": {}}) + "\n")
            else:  # tsv-gz
                fh.write(f"{qid}\t{text}\n")


def write_qrels(path, qrels, fmt: str) -> None:
    with open(path, "w") as fh:
        if fmt == "beir":
            fh.write("query-id\tcorpus-id\tscore\n")
        for qid, docs in qrels.items():
            for docid, grade in docs.items():
                fh.write(f"{qid}\t{docid}\t{grade}\n" if fmt == "beir" else f"{qid} 0 {docid} {grade}\n")


#: corpus format -> {split name: (topics format, topics options, qrels format)}
VARIANTS = {
    "jsonl-title-contents": {"trec": ("trec-title", {"format": "trec"}, "beir"),
                             "trecdesc": ("trec-title-description", {"fields": ["title", "description"]}, "trec")},
    "tsv": {"jsonl": ("jsonl-qid-query", {}, "beir"), "beir": ("jsonl-beir", {}, "trec")},
    "tsv-gz": {"pyserini": ("pyserini-encoded", {}, "trec"), "tsvgz": ("tsv-gz", {}, "beir")},
}


@pytest.fixture(scope="module")
def baseline(semanlink_small, splade_tiny, tmp_path_factory):
    """The flow on the canonical slice (JSON lines id/contents, TSV topics, TREC qrels)."""
    return run_flow(tmp_path_factory.mktemp("baseline"), levels=LEVELS, collection=semanlink_small,
                    encoder=splade_tiny, threads=2, hits=HITS, echo=None)


def _write_variant(folder, small, corpus_fmt, splits, pyserini_queries):
    """Files of ``small`` in the variant's formats and the registry entry naming them."""
    folder.mkdir()
    docs = list(small.docs())
    corpus = folder / ("corpus.tsv.gz" if corpus_fmt == "tsv-gz" else f"corpus.{corpus_fmt.split('-')[0]}")
    write_corpus(corpus, docs, corpus_fmt)
    entry = {"corpus": {"path": corpus.name}, "topics": {}, "qrels": {}}
    if corpus_fmt == "jsonl-title-contents":
        entry["corpus"]["fields"] = ["title", "contents"]
    topics, qrels = small.read_topics("test"), small.read_qrels("test")
    for split, (topics_fmt, options, qrels_fmt) in splits.items():
        write_topics(folder / f"topics-{split}", topics, topics_fmt, pyserini_queries)
        write_qrels(folder / f"judgments-{split}", qrels, qrels_fmt)
        entry["topics"][split] = {"path": f"topics-{split}", **options}
        entry["qrels"][split] = f"judgments-{split}"
    return entry


def _toml(name: str, entry: dict) -> str:
    def value(v):
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)  # strings and lists of strings are the same in TOML

    lines = [f"[{name}]", f"corpus = {value(entry['corpus'])}", f"[{name}.topics]"]
    lines += [f"{k} = {value(v)}" for k, v in entry["topics"].items()]
    lines += [f"[{name}.qrels]"] + [f"{k} = {value(v)}" for k, v in entry["qrels"].items()]
    return "\n".join(lines) + "\n"


def test_every_format_gives_identical_runs_and_tables(baseline, semanlink_small, splade_tiny, tmp_path):
    """Each variant runs the flow in the baseline's folder: it prepares the collection from its
    own files, finds by content hash that the documents are the baseline's very bytes (so the
    vectors and indexes are reused, as the cache is keyed by content), encodes its own topics
    and searches. Every split's runs equal the baseline's byte for byte, and so do the tables.
    (Encoding and indexing a user's files from scratch: the cache test below and test_grid.)"""
    assert not any("<" in t for t in semanlink_small.read_topics("test").values())  # valid as TREC text
    expected_table = effectiveness_table(baseline, MEASURES)
    out = baseline.levels["full"].vectors.parent.parent
    vectors_made = (baseline.levels["full"].vectors / "collection").stat().st_mtime_ns
    for corpus_fmt, splits in VARIANTS.items():
        folder = tmp_path / corpus_fmt
        entry = _write_variant(folder, semanlink_small, corpus_fmt, splits, baseline.levels["full"].queries)
        # the baseline's collection name: a flow folder holds one collection's flow (guarantee 11)
        (folder / "collections.toml").write_text(_toml(semanlink_small.name, entry))
        for split in splits:
            lines = []
            result = run_flow(out, levels=LEVELS, split=split, collection=semanlink_small.name,
                              registry=folder / "collections.toml", encoder=splade_tiny, threads=2, hits=HITS,
                              echo=lines.append)
            assert f"collection {semanlink_small.name}: 1,500 documents" in "\n".join(lines)
            assert result.collection.corpus_sha256 == semanlink_small.corpus_sha256  # the same documents
            assert result.collection.topics_sha256(split) == semanlink_small.topics_sha256("test")  # the same queries
            for level in ("full", "d8-q4"):
                ours, theirs = result.levels[level].run, baseline.levels[level].run
                assert ours.name == f"run.{split}.{level}.txt" and ours.read_bytes() == theirs.read_bytes()
                assert len(read_run(ours)) == 174
            assert effectiveness_table(result, MEASURES) == expected_table
            assert (result.levels["full"].vectors / "collection").stat().st_mtime_ns == vectors_made
            assert result.collection.name == semanlink_small.name and result.collection.root == out / "data"


def _tiny_collection(folder, docs, topics, qrels):
    folder.mkdir(exist_ok=True)
    (folder / "corpus.tsv").write_text("".join(f"{d}\t{t}\n" for d, t in docs))
    (folder / "topics.test.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in topics.items()))
    (folder / "qrels.test.txt").write_text("".join(f"{q} 0 {d} 1\n" for q, ds in qrels.items() for d in ds))
    return str(folder)


def test_flow_cache_notices_a_changed_corpus_or_topics(semanlink_small, splade_tiny, tmp_path, capsys):
    """Unchanged: everything reused. New topics: vectors and index reused, queries and run redone.
    A new corpus: everything redone. The manifests name the collection."""
    docs = list(semanlink_small.docs())[:300]
    topics = dict(list(semanlink_small.read_topics("test").items())[:20])
    qrels = {q: list(j)[:3] for q, j in semanlink_small.read_qrels("test").items() if q in topics}
    spec = _tiny_collection(tmp_path / "mine", docs, topics, qrels)
    out, level = tmp_path / "flow", [Pruning(8, 4)]

    def flow():
        return run_flow(out, levels=level, collection=spec, encoder=splade_tiny, threads=2, hits=HITS, echo=None)

    def stamps(result):
        lv = result.levels["d8-q4"]
        return {"vectors": (lv.vectors / "collection").stat().st_mtime_ns, "index": lv.index.stat().st_mtime_ns,
                "queries": lv.queries.stat().st_mtime_ns, "run": lv.run.stat().st_mtime_ns}

    first = flow()
    manifest = json.loads((first.levels["d8-q4"].vectors / "manifest.json").read_text())
    assert manifest["collection"]["name"] == "mine"
    assert manifest["collection"]["corpus_sha256"] == first.collection.corpus_sha256
    assert manifest["queries"]["test"]["source_sha256"] == first.collection.topics_sha256("test")
    before = stamps(first)
    assert stamps(flow()) == before

    del topics[next(iter(topics))]
    _tiny_collection(tmp_path / "mine", docs, topics, qrels)
    new_topics = stamps(flow())
    assert (new_topics["vectors"], new_topics["index"]) == (before["vectors"], before["index"])
    assert new_topics["queries"] != before["queries"] and new_topics["run"] != before["run"]
    assert set(read_run(first.levels["d8-q4"].run)) <= set(topics)

    _tiny_collection(tmp_path / "mine", docs[:250], topics, qrels)
    redone = flow()
    after = stamps(redone)
    assert all(after[k] != new_topics[k] for k in after)
    m = json.loads((redone.levels["d8-q4"].vectors / "manifest.json").read_text())
    assert m["documents"]["count"] == 250 and m["collection"]["corpus_sha256"] == redone.collection.corpus_sha256
    # the `flow` verb (the demo on any collection) runs its flow as a stage of the engine
    # (OUT/flow-stages/flow/), publishes it in this folder's layout and prints the tables; run again, it
    # reuses the stage (its key: checkpoint, collection, levels, options, VERSION)
    from esplade_eval.cli import main

    library = read_run(redone.levels["d8-q4"].run)  # the library's flow, top HITS
    argv = ["flow", "--collection", spec, "--out", str(out), "--levels", "d8-q4", "--threads", "2",
            "--measures", "nDCG@10", "R@100", "--references"]  # no reference rows: their own tests
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "collection mine: 250 documents" in printed and "collection mine, test split, checkpoint splade-tiny" in printed
    assert "| d8-q4 (baseline) |" in printed and "postings/query" in printed and "postings_mean" not in printed
    record = next((out / "flow-stages" / "flow").glob("splade-tiny-*/record.json"))
    published = (out / "runs" / "run.test.d8-q4.txt").resolve()
    assert published == (record.parent / "runs" / "run.test.d8-q4.txt").resolve()
    top = {q: sorted(h, key=lambda d: (-h[d], d))[:HITS] for q, h in read_run(published).items()}
    assert top == {q: sorted(h, key=lambda d: (-h[d], d)) for q, h in library.items()}  # the library's ranking
    stamp = record.stat().st_mtime_ns
    assert main(argv) == 0 and record.stat().st_mtime_ns == stamp
    assert "| d8-q4 (baseline) |" in capsys.readouterr().out


def test_export_takes_a_collection(semanlink_small, tmp_path, capsys):
    from esplade_eval.cli import main

    docs = list(semanlink_small.docs())[:50]
    topics = dict(list(semanlink_small.read_topics("test").items())[:5])
    spec = _tiny_collection(tmp_path / "few", docs, topics, {q: [docs[0][0]] for q in topics})
    assert main(["export", "--checkpoint", "splade-tiny", "--collection", spec, "--out", str(tmp_path / "vec"),
                 "--levels", "d8-q4", "--threads", "1"]) == 0
    assert "collection few: 50 documents" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "vec" / "d8-q4" / "manifest.json").read_text())
    assert manifest["collection"]["name"] == "few" and manifest["documents"]["count"] == 50
    assert manifest["queries"]["test"]["count"] == 5 and (tmp_path / "vec" / "d8-q4" / "queries.test.jsonl").is_file()
    assert main(["export", "--checkpoint", "splade-tiny", "--collection", spec, "--corpus", "x.jsonl",
                 "--out", str(tmp_path / "v2")]) == 2
    assert "leave out --corpus and --topics" in capsys.readouterr().err
