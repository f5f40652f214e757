"""TREC run submission tools: ``check-run`` (every problem, with its line) and ``package-run``."""

from __future__ import annotations

import gzip
import os

import pytest

from esplade_eval.cli import main
from esplade_eval.errors import EspladeError, InputError
from esplade_eval.evaluate import check_run, package_run

GOOD = """\
q1 Q0 d1 1 3.5 tag
q1 Q0 d2 2 3.5 tag
q1 Q0 d3 3 1 tag
q2 Q0 d1 1 9 tag
"""

# one problem (or two) per line, each on a known line
BAD = """\
q1 Q0 d1 1 3.0 tag
q1 Q0 d2 2 2.0
q1 Q1 d2 2 2.0 tag
q1 Q0 d1 3 1.0 tag
q1 Q0 d4 5 1.0 tag
q1 Q0 d5 6 1.5 tag
q1 Q0 d6 7 abc tag
q1 Q0 d7 x 0.5 tag

q2 Q0 d1 2 1.0 other
q3 Q0 d1 1 1.0 tag
q3 Q0 d2 2 0.9 tag
q3 Q0 d3 3 0.8 tag
"""
EXPECTED = [
    (2, "expected 6 columns 'qid Q0 docid rank score tag', found 5"),
    (3, "second column must be 'Q0', found 'Q1'"),
    (4, "document 'd1' already listed for query 'q1' at line 1"),
    (5, "rank 5 of query 'q1' should be 4 (ranks ascend from 1 without gaps)"),
    (6, "score 1.5 is higher than 1.0 at line 5: scores must not increase with rank"),
    (7, "score is not a finite number: 'abc'"),
    (8, "query 'q1' has more than 6 hits (this is hit 7)"),
    (8, "rank is not an integer: 'x'"),
    (10, "run tag 'other' differs from 'tag' (line 1 of the run): one tag per run"),
    (10, "rank 2 of query 'q2' should be 1 (ranks ascend from 1 without gaps)"),
    (11, "unknown query id 'q3' (not in the topics/qrels given)"),
]


@pytest.fixture
def bad(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text(BAD)
    return path


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.txt"
    path.write_text(GOOD)
    return path


def test_every_problem_is_reported_with_its_line(bad):
    result = check_run(bad, known_qids={"q1", "q2", "q4"}, max_hits=6)
    assert [(p.line, p.message) for p in result.problems] == EXPECTED
    assert not result.ok and result.lines == 12 and result.queries == ["q1", "q2", "q3"]
    assert result.missing == ["q4"] and result.tag == "tag"
    assert result.messages()[0] == f"{bad}:2: expected 6 columns 'qid Q0 docid rank score tag', found 5"


def test_good_run_passes_ties_allowed(good):
    result = check_run(good, known_qids=["q1", "q2"], max_hits=3)
    assert result.ok and result.problems == [] and result.lines == 4
    assert "ok (4 lines, 2 queries, tag 'tag')" in result.summary()


def test_run_written_by_write_run_passes(tmp_path):
    from esplade_eval.data.trec import write_run

    path = tmp_path / "r.txt"
    write_run(path, {"q1": {"a": 2.0, "b": 2.0, "c": 7.0}, "q2": {"a": 0.5}}, tag="mine")
    assert check_run(path, known_qids=["q1", "q2"], max_hits=3).ok


def test_cli_check_run_lists_every_problem_and_exits_1(bad, tmp_path, capsys):
    topics = tmp_path / "topics.tsv"
    topics.write_text("q1\tone\nq2\ttwo\nq4\tfour\n")
    assert main(["check-run", str(bad), "--topics", str(topics), "--max-hits", "6"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"{bad}:{line}: {msg}" for line, msg in EXPECTED]
    assert "11 problems" in captured.err and "1 known queries have no hits: q4" in captured.err


def test_cli_check_run_with_qrels_and_clean_run(good, tmp_path, capsys):
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 d1 1\n")
    assert main(["check-run", str(good), "--qrels", str(qrels)]) == 1  # q2 is not judged
    assert f"{good}:4: unknown query id 'q2'" in capsys.readouterr().out
    assert main(["check-run", str(good)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "ok (4 lines" in captured.err


def test_package_run_writes_identical_gzip(good, tmp_path, capsys):
    out = tmp_path / "sub" / "good.txt.gz"
    assert main(["package-run", str(good), "--out", str(out), "--max-hits", "3"]) == 0
    assert gzip.decompress(out.read_bytes()) == good.read_bytes()
    assert "written:" in capsys.readouterr().out
    # the gzip input is read transparently, and the result is the same bytes again
    again = tmp_path / "again.txt.gz"
    assert package_run(out, again).ok and gzip.decompress(again.read_bytes()) == good.read_bytes()


def test_package_run_refuses_a_bad_run_and_writes_nothing(bad, tmp_path, capsys):
    out = tmp_path / "bad.txt.gz"
    assert main(["package-run", str(bad), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert f"{bad}:2: expected 6 columns" in captured.out and "not written" in captured.err
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["bad.txt"]  # no temporary left either
    with pytest.raises(InputError, match=r"bad.txt:2: expected 6 columns .*and \d+ more problems"):
        package_run(bad, out)


def test_package_run_never_overwrites_silently(good, tmp_path, capsys):
    out = tmp_path / "good.txt.gz"
    out.write_bytes(b"previous")
    assert main(["package-run", str(good), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == b"previous"
    assert main(["package-run", str(good), "--out", str(out), "--overwrite"]) == 0
    assert gzip.decompress(out.read_bytes()) == good.read_bytes()
    with pytest.raises(EspladeError, match="must end in .gz"):
        package_run(good, tmp_path / "plain.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(InputError, match="empty"):
        package_run(empty, tmp_path / "empty.txt.gz")


@pytest.mark.slow
def test_real_runs_pass_check_run(demo_runs, capsys):
    from esplade_eval.data.trec import read_topics

    topics = set(read_topics(demo_runs.topics))
    for path in demo_runs.runs.values():
        result = check_run(path, known_qids=topics, max_hits=1000)
        assert result.ok, result.messages()[:5]
        assert set(result.queries) <= topics and result.lines > 1000
        assert main(["check-run", str(path), "--topics", str(demo_runs.topics), "--max-hits", "1000"]) == 0
        assert main(["check-run", str(path), "--max-hits", "10"]) == 1  # real runs have more than 10 hits
        assert "has more than 10 hits" in capsys.readouterr().out
