"""The study grid on a user's own collection: two real checkpoints x two pruning levels through
real Anserini indexes and Lucene search, driven from the command line by a registry name."""

import gzip
import json

import pytest

pytestmark = pytest.mark.slow


DOCS = 600


@pytest.fixture(scope="module")
def user_registry(semanlink_small, tmp_path_factory):
    """A real slice of Semanlink (the first 600 titles) as a user might hold it: a gzipped MS
    MARCO-style TSV corpus, TREC test topics, JSON-lines train queries, BEIR test qrels and TREC
    train qrels (judgments of other titles left out)."""
    folder = tmp_path_factory.mktemp("mytitles")
    docs = list(semanlink_small.docs())[:DOCS]
    keep = {d for d, _ in docs}
    qrels = {s: {q: {d: g for d, g in j.items() if d in keep} for q, j in semanlink_small.read_qrels(s).items()}
             for s in ("test", "train")}
    with gzip.open(folder / "titles.tsv.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(f"{d}\t{t}\n" for d, t in docs)
    with open(folder / "topics.test.txt", "w", encoding="utf-8") as fh:
        fh.writelines(f"<top>\n<num> Number: {q}\n<title> {t}\n</top>\n" for q, t in semanlink_small.read_topics("test").items())
    with open(folder / "train.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"qid": q, "query": t}) + "\n" for q, t in semanlink_small.read_topics("train").items())
    with open(folder / "qrels.test.tsv", "w") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        fh.writelines(f"{q}\t{d}\t{g}\n" for q, j in qrels["test"].items() for d, g in j.items())
    with open(folder / "qrels.train.txt", "w") as fh:
        fh.writelines(f"{q} 0 {d} {g}\n" for q, j in qrels["train"].items() for d, g in j.items())
    registry = folder / "collections.toml"
    registry.write_text("""[mytitles]
description = "the first 600 Semanlink titles, as a user holds them"
corpus = "titles.tsv.gz"
topics = { test = "topics.test.txt", train = "train.jsonl" }
qrels = { test = "qrels.test.tsv", train = "qrels.train.txt" }
""")
    return registry


def test_grid_of_two_checkpoints_on_a_user_collection(user_registry, tmp_path, capsys):
    from esplade_eval.cli import main
    from esplade_eval.data.collection import Collection

    # the second checkpoint is genuinely different: SPLADE-tiny fine-tuned for a few steps on the
    # collection's own train split (prepared first; fine-tuning reads the prepared folder)
    prepared, ft = tmp_path / "prepared", tmp_path / "ft"
    assert main(["collection", "--collection", "mytitles", "--registry", str(user_registry),
                 "--root", str(prepared)]) == 0
    assert main(["finetune", "--init", "splade-tiny", "--collection", str(prepared), "--steps", "2", "--batch-size",
                 "8", "--no-validate", "--threads", "2", "--quiet", "--out", str(ft)]) == 0
    capsys.readouterr()

    out, res = tmp_path / "grid", tmp_path / "res" / "grid"
    assert main(["grid", "--collection", "mytitles", "--registry", str(user_registry), "--checkpoint", "tiny=splade-tiny",
                 "--checkpoint", f"ft={ft}", "--levels", "full", "d8-q4", "--max-length", "64", "--passes", "1",
                 "--threads", "2", "--measures", "nDCG@10", "R@100", "--out", str(out), "--results", str(res),
                 "--references", "bm25", "dense"]) == 0
    printed = capsys.readouterr().out
    assert "collection mytitles: 600 documents" in printed and "# Checkpoints x pruning levels (mytitles, test" in printed

    saved = json.loads(res.with_suffix(".json").read_text())
    assert saved["collection"]["name"] == "mytitles" and saved["collection"]["root"] == str(out / "data")
    assert saved["collection"]["fingerprint"] == Collection(prepared).fingerprint  # the same files, the same content
    table = saved["table"]
    assert set(table) == {"tiny/full", "tiny/d8-q4", "ft/full", "ft/d8-q4"}
    for name in ("tiny", "ft"):
        assert table[f"{name}/d8-q4"]["postings_mean"] < table[f"{name}/full"]["postings_mean"]
        assert table[f"{name}/d8-q4"]["query_length_mean"] <= 4
        assert 0 < table[f"{name}/full"]["nDCG@10"] <= 1
    assert set(saved["comparisons"]) == {"full", "d8-q4"}
    markdown = res.with_suffix(".md").read_text()
    assert "## Level d8-q4: checkpoints vs tiny" in markdown and "| ft |" in markdown
    # the cost table as `cost --flow` renders it: plain headers, one number format
    assert "| checkpoint | level | nDCG@10 | R@100 | postings/query | FLOPS |" in markdown
    assert "postings_mean" not in markdown and "e+0" not in markdown
    assert (res.parent / "grid_plots" / "pareto.png").stat().st_size > 1000
    # the reference rows: BM25 and dense (MiniLM, faiss flat: 600 x 384 multiply-adds per query)
    assert "| bm25 " in markdown and "| dense " in markdown
    assert saved["references"]["dense"]["multiply_adds_per_query"] == DOCS * 384
    assert 0 < saved["references"]["bm25"]["nDCG@10"] <= 1 and (out / "runs" / "run.test.bm25.txt").is_file()

    # each checkpoint's flow is a stage of the engine: out/flow-stages/flow/<name>-<key>/, with its record
    flows = {n: next((out / "flow-stages" / "flow").glob(f"{n}-*/record.json")).parent for n in ("tiny", "ft")}
    manifests = {n: json.loads((flows[n] / "vectors" / "full" / "manifest.json").read_text()) for n in ("tiny", "ft")}
    assert manifests["tiny"]["encoder"]["checkpoint_hash"] != manifests["ft"]["encoder"]["checkpoint_hash"]
    for m in manifests.values():
        assert m["encoder"]["max_length"] == 64 and m["documents"]["count"] == DOCS
        assert m["collection"]["name"] == "mytitles"
    runs = [(flows[n] / "runs" / "run.test.full.txt").read_bytes() for n in ("tiny", "ft")]
    assert runs[0] != runs[1]  # different weights, different rankings

    # a second invocation reuses every flow stage (same keys, records untouched) and gives the same table
    stamps = {n: (flows[n] / "record.json").stat().st_mtime_ns for n in flows}
    assert main(["grid", "--collection", "mytitles", "--registry", str(user_registry), "--checkpoint", "tiny=splade-tiny",
                 "--checkpoint", f"ft={ft}", "--levels", "full", "d8-q4", "--max-length", "64", "--passes", "1",
                 "--threads", "2", "--measures", "nDCG@10", "R@100", "--out", str(out)]) == 0
    assert {n: (flows[n] / "record.json").stat().st_mtime_ns for n in flows} == stamps
    assert len(list((out / "flow-stages" / "flow").glob("*/record.json"))) == 2


def test_grid_cli_rejects_duplicate_names():
    from esplade_eval.cli.grid import parse_checkpoints
    from esplade_eval.errors import EspladeError

    assert parse_checkpoints(["a=x", "some/dir/b"]) == {"a": "x", "b": "some/dir/b"}
    with pytest.raises(EspladeError, match="unique"):
        parse_checkpoints(["a=x", "a=y"])


def test_grid_refuses_a_split_the_collection_lacks(user_registry, tmp_path, capsys):
    from esplade_eval.cli import main

    assert main(["grid", "--collection", "mytitles", "--registry", str(user_registry), "--checkpoint", "splade-tiny",
                 "--split", "dev", "--out", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err
    assert "collection mytitles" in err and "has no split 'dev'" in err and "its splits: test, train" in err
