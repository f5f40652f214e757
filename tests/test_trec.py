"""TREC formats: strict readers, atomic writers, inline TREC text (ir_measures' habit)."""

import gzip

import pytest

from esplade_eval.data.trec import (
    ranked,
    read_corpus,
    read_qrels,
    read_run,
    read_topics,
    write_qrels,
    write_run,
    write_topics,
)
from esplade_eval.errors import InputError


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_run_round_trip_and_tie_break(tmp_path):
    run = {"q2": {"b": 3.0, "a": 3.0, "c": 5.0}, "q1": {"x": 1.5}}
    path = tmp_path / "run.txt"
    write_run(path, run, tag="t1")
    lines = path.read_text().splitlines()
    assert lines[0] == "q2 Q0 c 1 5 t1"
    assert lines[1] == "q2 Q0 a 2 3 t1"  # tie broken by docid
    assert lines[2] == "q2 Q0 b 3 3 t1"
    assert lines[3] == "q1 Q0 x 1 1.500000 t1"
    assert read_run(path) == run


def test_write_run_truncates_to_k_and_rejects_bad_tag(tmp_path):
    write_run(tmp_path / "r.txt", {"q": {f"d{i}": float(i) for i in range(10)}}, tag="t", k=3)
    assert [line.split()[2] for line in (tmp_path / "r.txt").read_text().splitlines()] == ["d9", "d8", "d7"]
    with pytest.raises(ValueError, match="tag"):
        write_run(tmp_path / "bad.txt", {"q": {"d": 1.0}}, tag="two words")
    assert not (tmp_path / "bad.txt").exists()


@pytest.mark.parametrize("text,line,problem", [
    ("q1 Q0 d1 1 2.0 t\nq1 Q0 d1 2 1.0 t\n", 2, "appears twice"),
    ("q1 Q0 d1 1 abc t\n", 1, "not a number"),
    ("q1 Q0 d1 1 2.0\n", 1, "expected 6 columns"),
    ("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 nan t\n", 2, "not finite"),
])
def test_read_run_errors_name_file_and_line(tmp_path, text, line, problem):
    path = _write(tmp_path, "run.txt", text)
    with pytest.raises(InputError, match=problem) as err:
        read_run(path)
    assert err.value.line == line
    assert str(err.value).startswith(f"{path}:{line}:")


def test_qrels_grade_must_be_integer(tmp_path):
    path = _write(tmp_path, "qrels.txt", "q1 0 d1 1\nq1 0 d2 high\n")
    with pytest.raises(InputError, match="not an integer") as err:
        read_qrels(path)
    assert err.value.line == 2


def test_qrels_duplicates_and_round_trip(tmp_path):
    with pytest.raises(InputError, match="duplicate judgment"):
        read_qrels(_write(tmp_path, "dup.txt", "q1 0 d1 1\nq1 0 d1 2\n"))
    write_qrels(tmp_path / "q.txt", {"q1": {"d1": 2, "d2": 0}})
    assert read_qrels(tmp_path / "q.txt") == {"q1": {"d1": 2, "d2": 0}}


def test_topics(tmp_path):
    write_topics(tmp_path / "t.tsv", {"a": "hello\tworld", "b": "x"})
    assert read_topics(tmp_path / "t.tsv") == {"a": "hello world", "b": "x"}
    with pytest.raises(InputError, match="no tab"):
        read_topics(_write(tmp_path, "bad.tsv", "a\tok\nno tab here\n"))
    with pytest.raises(InputError, match="duplicate query id"):
        read_topics(_write(tmp_path, "dup.tsv", "a\tx\na\ty\n"))


def test_corpus_errors(tmp_path):
    path = _write(tmp_path, "c.jsonl", '{"id": "a", "contents": "x"}\n{"id": "a", "contents": "y"}\n')
    with pytest.raises(InputError, match="duplicate document id") as err:
        list(read_corpus(path))
    assert err.value.line == 2
    path = _write(tmp_path, "m.jsonl", '{"id": "a", "contents": "x"}\n{"id": "b", "contents": \n')
    with pytest.raises(InputError, match="malformed JSON") as err:
        list(read_corpus(path))
    assert err.value.line == 2


def test_gzip_runs_are_read(tmp_path):
    path = tmp_path / "r.txt.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("q1 Q0 d1 1 2.0 t\n")
    assert read_run(path) == {"q1": {"d1": 2.0}}


def test_ranked_is_deterministic():
    assert ranked({"b": 1.0, "a": 1.0, "c": 2.0}) == [("c", 2.0), ("a", 1.0), ("b", 1.0)]
