"""The artifact layout (esplade_eval.artifacts): names, the flow folder, both manifests, the
encoding a query file carries, and the one compatibility check; pruning levels in order."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from esplade_eval import artifacts
from esplade_eval.artifacts import FlowLayout
from esplade_eval.errors import EspladeError, InputError
from esplade_eval.sparse.jsonvector import read_query_file, read_query_vectors, write_query_file
from esplade_eval.sparse.prune import Pruning, strictness
from esplade_eval.sparse.vectors import SparseBatch

INFO = {"checkpoint": "splade-tiny", "checkpoint_hash": "a" * 64, "model_type": "bert", "tokenizer": "t",
        "vocab_source": "tokenizer", "vocab_size": 3, "max_length": 256}
QUANT = {"scale": 100.0, "rounding": "rint", "rule": "impact = rint(weight * 100); impacts < 1 dropped"}


def manifest(**changes) -> dict:
    m = artifacts.new_export_manifest(dict(INFO), Pruning(16, 4).to_dict(), dict(QUANT))
    m["collection"] = {"name": "c", "fingerprint": "f" * 64, "corpus_sha256": "c" * 64}
    for key, value in changes.items():
        m[key] = value
    return m


def test_names_of_one_run_agree_between_the_flow_and_a_search():
    layout = FlowLayout("out")
    assert layout.run("test", "d8-q4") == Path("out/runs/run.test.d8-q4.txt")
    assert layout.queries("d8-q4", "test") == Path("out/vectors/d8-q4/queries.test.jsonl")
    assert layout.index("d8-q4") == Path("out/indexes/d8-q4") and layout.data == Path("out/data")
    # a search of the flow's queries on the flow's index, named as the flow names it
    assert artifacts.default_run(layout.queries("d8-q4", "test"), layout.index("d8-q4")).name == "run.test.d8-q4.txt"
    assert artifacts.default_run("data/topics.dev.tsv", "idx/full").as_posix() == "runs/run.dev.full.txt"
    assert artifacts.queries_name(artifacts.queries_file("dev")) == "dev" == artifacts.topics_name("topics.dev.tsv.gz")
    assert artifacts.run_tag("d8-q4") == "esplade_d8-q4" and artifacts.run_tag("my level") == "esplade_my_level"


def test_runs_by_level_and_levels_read_the_flow_folder(tmp_path):
    layout = FlowLayout(tmp_path)
    with pytest.raises(InputError, match="no indexes/ folder"):
        layout.levels()
    for level in ("full", "d8-q4", ".tmp"):
        layout.index(level).mkdir(parents=True)
        layout.runs_root.mkdir(exist_ok=True)
        layout.run("test", level).write_text("")
    layout.run("dev", "full").write_text("")
    assert layout.levels() == ["d8-q4", "full"]  # temporary folders left out
    assert set(layout.runs_by_level("test")) == {"full", "d8-q4", ".tmp"}
    assert layout.runs_of("full") == [layout.run("dev", "full"), layout.run("test", "full")]


def test_named_is_the_one_rule_for_name_equals_value(tmp_path):
    assert artifacts.named(["runs/bm25.txt", "full=runs/a.txt.gz"]) == {"bm25": "runs/bm25.txt", "full": "runs/a.txt.gz"}
    # two plain runs with one file name are named by their paths
    assert list(artifacts.named(["a/run.txt", "b/run.txt"])) == ["a/run.txt", "b/run.txt"]
    with pytest.raises(EspladeError, match="two runs have the same name 'x'.*unique"):
        artifacts.named(["x=a.txt", "x=b.txt"])
    odd = tmp_path / "k=v.txt"  # an existing path holding '=' is a path, never NAME=VALUE
    odd.write_text("")
    assert artifacts.split_named(str(odd)) == (None, str(odd))
    assert artifacts.named([str(odd)]) == {"k=v": str(odd)}


def test_export_manifest_round_trip_and_the_older_key_spelling_refused(tmp_path):
    m = manifest()
    artifacts.write_export_manifest(tmp_path, m)
    assert artifacts.read_export_manifest(tmp_path) == m
    old = {("quantisation" if k == "quantization" else k): v for k, v in m.items()}
    (tmp_path / artifacts.EXPORT_MANIFEST).write_text(json.dumps(old))
    with pytest.raises(InputError, match="manifest field 'quantization' is missing"):  # no old spellings
        artifacts.read_export_manifest(tmp_path)
    (tmp_path / artifacts.EXPORT_MANIFEST).write_text('{"format": "esplade_eval/export/1",\n "x": }')
    with pytest.raises(InputError, match=r"manifest.json:2: malformed JSON"):
        artifacts.read_export_manifest(tmp_path)
    assert artifacts.find_export_manifest(tmp_path) is None
    with pytest.raises(InputError, match="manifest not found"):
        artifacts.read_export_manifest(tmp_path / "none")


def test_index_manifest_counts_and_its_export_manifest(tmp_path):
    assert artifacts.read_index_manifest(tmp_path) is None and artifacts.index_documents(tmp_path) is None
    artifacts.write_index_manifest(tmp_path, {"validated": None, "export_manifest": manifest(documents={"count": 7})})
    assert artifacts.index_documents(tmp_path) == 7
    assert artifacts.encoding_of(artifacts.index_export_manifest(tmp_path))["pruning"] == "d16-q4"
    artifacts.write_index_manifest(tmp_path, {"validated": {"documents": 9}, "export_manifest": None})
    assert artifacts.index_documents(tmp_path) == 9 and artifacts.index_export_manifest(tmp_path) is None


@pytest.mark.parametrize(("field", "value", "message"), [
    ("checkpoint_hash", "b" * 64, f"checkpoint {'b' * 64} differs from the index's {'a' * 64}"),
    ("max_length", 16, "max length 16 differs from the index's 256"),
    ("vocab_size", 4, "vocabulary size 4 differs from the index's 3"),
    ("quantization", {"scale": 10.0, "rounding": "floor"}, "quantisation floor x10 differs from the index's rint x100"),
])
def test_the_compatibility_check_names_each_field(field, value, message):
    expected = artifacts.encoding_of(manifest())
    found = {**expected, field: value}
    with pytest.raises(EspladeError, match="q.jsonl: queries and index were encoded differently: ") as err:
        artifacts.check_compatible(expected, found, "q.jsonl")
    assert message in str(err.value) and "--allow-mismatch" in str(err.value)
    artifacts.check_compatible(expected, None, "q.jsonl")  # unknown on one side: nothing to compare here
    artifacts.check_compatible(expected, {**expected, "pruning": "full"}, "q.jsonl")  # a search may prune otherwise


def test_a_level_is_reused_only_for_the_same_encoding_pruning_and_corpus():
    expected = artifacts.encoding(INFO, QUANT, "d16-q4", "c" * 64)
    assert not artifacts.mismatches(expected, artifacts.encoding_of(manifest()), artifacts.LEVEL_FIELDS)
    other = manifest(collection={"corpus_sha256": "d" * 64})
    assert artifacts.mismatches(expected, artifacts.encoding_of(other), artifacts.LEVEL_FIELDS) == [
        f"corpus {'d' * 64} differs from the index's {'c' * 64}"]
    pruned = manifest(pruning=Pruning(8, 4).to_dict())
    assert "pruning d8-q4 differs" in artifacts.mismatches(expected, artifacts.encoding_of(pruned),
                                                            artifacts.LEVEL_FIELDS)[0]


def _write_queries(path: Path, encoding: dict | None) -> None:
    batch = SparseBatch(np.array([0, 2, 3]), np.array([0, 2, 1]), np.array([120, 5, 9], dtype=np.int32))
    with open(path, "w", encoding="utf-8") as fh:
        write_query_file(fh, ["q1", "q2"], ["web data", "ontology"], batch, ["web", "ontology", "data"], encoding)


def test_a_query_file_carries_its_encoding_in_every_line(tmp_path):
    enc = artifacts.query_encoding(artifacts.encoding_of(manifest()))
    path = tmp_path / "queries.test.jsonl"
    _write_queries(path, enc)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(line["encoding"] == enc for line in lines) and lines[0]["vector"] == {"web": 120, "data": 5}
    assert read_query_file(path).encoding == enc
    assert read_query_vectors(path)[0] == {"q1": {"web": 120, "data": 5}, "q2": {"ontology": 9}}
    # what Pyserini's pre-encoded query reader takes from a line is unchanged
    plain = tmp_path / "plain.jsonl"
    _write_queries(plain, None)
    assert [(x["contents"], x["vector"]) for x in lines] == [
        (x["contents"], x["vector"]) for x in map(json.loads, plain.read_text().splitlines())]
    assert read_query_file(plain).encoding is None


def test_a_query_file_mixing_encodings_is_refused_at_its_line(tmp_path):
    enc = artifacts.query_encoding(artifacts.encoding_of(manifest()))
    path = tmp_path / "q.jsonl"
    _write_queries(path, enc)
    first, second = path.read_text().splitlines()
    path.write_text(first + "\n" + json.dumps({**json.loads(second), "encoding": {**enc, "max_length": 8}}) + "\n")
    with pytest.raises(InputError, match=r"q.jsonl:2: this query's encoding differs from line 1's"):
        read_query_file(path)
    path.write_text(first + "\n" + json.dumps({k: v for k, v in json.loads(second).items() if k != "encoding"}) + "\n")
    with pytest.raises(InputError, match=r"q.jsonl:2:"):
        read_query_file(path)
    path.write_text(json.dumps({**json.loads(first), "encoding": {"max_length": 8}}) + "\n")
    with pytest.raises(InputError, match=r"q.jsonl:1: unreadable 'encoding' record"):
        read_query_file(path)


def test_pruning_levels_order_from_unpruned_to_strictest():
    levels = [Pruning(8, 4), Pruning(), Pruning(32, 16), Pruning(8, 4, 0.5), Pruning(16, 8), Pruning(8, None)]
    ordered = sorted(levels)
    assert [p.name for p in ordered] == ["full", "d32-q16", "d16-q8", "d8", "d8-q4", "d8-q4-w0.5"]
    assert [p.name for p in ordered] == sorted((p.name for p in levels), key=strictness)
    assert Pruning(min_weight=0.0) != Pruning() and sorted([Pruning(min_weight=0.0), Pruning()])[0] == Pruning()
    assert max(levels) == Pruning(8, 4, 0.5) and Pruning() < Pruning(64)
