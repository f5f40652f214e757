"""Atomic outputs get the user's umask: files 0644 and folders 0755 under 022, read back from disk."""

from __future__ import annotations

import os
import stat

import pytest

from esplade_eval._io import atomic_dir, atomic_file, current_umask, write_json
from esplade_eval.cli import main


@pytest.fixture(params=[0o022, 0o027, 0o077])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_current_umask_reads_without_changing_it(umask):
    assert current_umask() == umask and current_umask() == umask


def test_atomic_file_and_dir_follow_the_umask(tmp_path, umask):
    with atomic_file(tmp_path / "a.txt") as fh:
        fh.write("x\n")
    with atomic_file(tmp_path / "b.txt.gz") as fh:
        fh.write("x\n")
    write_json(tmp_path / "c.json", {"a": 1})
    with atomic_dir(tmp_path / "folder") as tmp:
        (tmp / "inside.txt").write_text("y")
    plain = tmp_path / "plain.txt"
    plain.write_text("z")  # what an ordinary open gives: the reference
    assert mode(plain) == 0o666 & ~umask
    for name in ("a.txt", "b.txt.gz", "c.json"):
        assert mode(tmp_path / name) == 0o666 & ~umask, name
    assert mode(tmp_path / "folder") == 0o777 & ~umask
    assert mode(tmp_path / "folder" / "inside.txt") == 0o666 & ~umask


def test_usual_umask_gives_0644_runs_tables_and_submissions(tmp_path):
    old = os.umask(0o022)
    try:
        run = tmp_path / "run.txt"
        from esplade_eval.data.trec import write_run

        write_run(run, {"q1": {"d1": 2.0, "d2": 1.0}}, tag="t")
        qrels = tmp_path / "qrels.txt"
        qrels.write_text("q1 0 d1 1\n")
        table = tmp_path / "out" / "table.md"
        assert main(["evaluate", "--qrels", str(qrels), str(run), "--output", str(table)]) == 0
        gz = tmp_path / "sub" / "run.txt.gz"
        assert main(["package-run", str(run), "--out", str(gz)]) == 0
        assert [mode(p) for p in (run, table, gz)] == [0o644] * 3
    finally:
        os.umask(old)
