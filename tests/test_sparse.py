"""Sparse vectors: quantisation, JsonVectorCollection checks, writer round trip."""

import json

import numpy as np
import pytest

from esplade_eval.errors import InputError
from esplade_eval.model.encoder import export_terms
from esplade_eval.sparse.jsonvector import CollectionWriter, read_collection, validate_collection
from esplade_eval.sparse.quantize import Quantizer
from esplade_eval.sparse.vectors import SparseBatch


def _batch(rows):
    dense = np.zeros((len(rows), 6), dtype=np.float32)
    for i, row in enumerate(rows):
        for t, w in row.items():
            dense[i, t] = w
    return SparseBatch.from_dense(dense)


def test_quantizer_rounds_and_counts_dropped():
    batch = _batch([{0: 0.004, 1: 0.006, 2: 1.234}, {3: 0.0049}])
    q, dropped = Quantizer(scale=100).apply(batch)
    assert q.to_dicts("abcdef") == [{"b": 1, "c": 123}, {}]
    assert dropped == 2
    assert q.data.dtype == np.int32
    floor, dropped = Quantizer(scale=100, rounding="floor").apply(batch)
    assert floor.to_dicts("abcdef") == [{"c": 123}, {}] and dropped == 3


def test_quantizer_matches_python_round_half_even():
    w = np.array([0.125, 0.135, 0.145, 2.5 / 51.2], dtype=np.float32)
    expected = [round(float(x) * 100) for x in w]
    assert Quantizer(100).quantize_values(w).tolist() == expected


def test_quantizer_rejects_bad_settings():
    with pytest.raises(ValueError):
        Quantizer(scale=0)
    with pytest.raises(ValueError):
        Quantizer(rounding="banker")


def test_export_terms_are_whitespace_free_and_unique():
    terms = export_terms(["new york", "a", "a", "", "tab\there"])
    assert terms == ["new_york", "a", "a#2", "#3", "tab_here"]
    assert len(set(terms)) == len(terms)


def test_writer_round_trip(tmp_path):
    batch, _ = Quantizer(100).apply(_batch([{0: 0.5, 5: 1.0}, {}, {2: 0.3}]))
    with CollectionWriter(tmp_path / "c", list("abcdef"), shard_size=2) as w:
        w.write(["x", "y", "z"], ["t x", "t \"y\"", "t z"], batch)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["docs00000.jsonl", "docs00001.jsonl"]
    docs = list(read_collection(tmp_path / "c"))
    assert docs == [("x", "t x", {"a": 50, "f": 100}), ("y", 't "y"', {}), ("z", "t z", {"c": 30})]
    assert (w.documents, w.empty, w.postings) == (3, 1, 3)
    assert validate_collection(tmp_path / "c") == {"documents": 3, "empty_vectors": 1, "postings": 3}


@pytest.mark.parametrize("line,problem", [
    ('{"id": "d2", "vector": {"a": 1}', "malformed JSON"),
    ('{"id": "d2", "vector": {"a": NaN}}', "is nan"),
    ('{"id": "d2", "vector": {"a": -3}}', "negative"),
    ('{"id": "d2", "vector": {"a": 2.5}}', "not an integer"),
    ('{"id": "d2", "vector": {"new york": 2}}', "whitespace"),
    ('{"id": "d1", "vector": {"a": 2}}', "duplicate document id"),
    ('{"id": "d2", "vector": {"a": "7"}}', "not a number"),
    ('{"id": "d 2", "vector": {"a": 7}}', "without whitespace"),
    ('{"id": "d2"}', "missing or non-object 'vector'"),
])
def test_collection_errors_name_file_and_line(tmp_path, line, problem):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "docs00000.jsonl").write_text(json.dumps({"id": "d1", "contents": "", "vector": {"a": 3}}) + "\n")
    (folder / "docs00001.jsonl").write_text('{"id": "d0", "vector": {"b": 1}}\n' + line + "\n")
    with pytest.raises(InputError, match=problem) as err:
        validate_collection(folder)
    assert err.value.line == 2
    assert str(err.value).startswith(f"{folder / 'docs00001.jsonl'}:2:")


def test_empty_collection_folder_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no collection files"):
        validate_collection(tmp_path / "empty")


def test_duplicate_query_id_names_its_real_line(tmp_path):
    from esplade_eval.sparse.jsonvector import read_query_vectors

    path = tmp_path / "q.jsonl"
    path.write_text('{"id":"q1","contents":"a","vector":{"x":1}}\n\n{"id":"q1","contents":"b","vector":{"y":2}}\n')
    with pytest.raises(InputError, match="duplicate query id 'q1'") as err:
        read_query_vectors(path)
    assert err.value.line == 3  # the blank line counts
