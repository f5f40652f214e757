"""A query file's encoding travels with the file (each line carries it), so a copied or moved
file is still checked against the index it is searched on; Pyserini's own CLI still reads it.

Real parts: the session's flow (SPLADE-tiny, Semanlink, Lucene indexes at two levels) and the
CLI (in this process: the session's JVM is warm). Pyserini's ``python -m pyserini.search.lucene``
reads the flow's query files, which carry their encoding, in
``tests/test_flow.py::test_pyserini_cli_gives_our_ranking``.
"""

from __future__ import annotations

import json
import shutil

import pytest

from esplade_eval import artifacts
from esplade_eval.cli import main
from esplade_eval.sparse.jsonvector import read_query_file

pytestmark = pytest.mark.slow


def _search(*args) -> int:
    return main(["search", *map(str, args)])


def _strip_encoding(src, dst):
    """The same queries as a file written before query files carried their encoding."""
    lines = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()]
    dst.write_text("".join(json.dumps({k: v for k, v in x.items() if k != "encoding"}) + "\n" for x in lines),
                   encoding="utf-8")


def test_the_flow_s_query_files_carry_their_level_s_encoding(flow):
    for name, level in flow.levels.items():
        manifest = artifacts.read_export_manifest(level.vectors)
        found = read_query_file(level.queries).encoding
        assert found == artifacts.query_encoding(artifacts.encoding_of(manifest))
        assert found["pruning"] == name and found["max_length"] == 256 and found["quantization"]["scale"] == 100.0
        assert all('"encoding":' in line for line in level.queries.read_text().splitlines())


def test_a_copied_query_file_is_searched_with_identical_runs_named_as_the_flow_names_them(flow, tmp_path,
                                                                                          monkeypatch):
    """Copied away from its manifest, the file is still checked (its lines say how it was encoded);
    without --output the run is named and tagged as the flow's: the same bytes."""
    level = flow.levels["full"]
    copy = tmp_path / "elsewhere" / level.queries.name
    copy.parent.mkdir()
    shutil.copy(level.queries, copy)
    monkeypatch.chdir(tmp_path)
    assert _search("--index", level.index.resolve(), "--queries", copy, "--threads", "2") == 0
    ours = tmp_path / "runs" / level.run.name
    assert ours.read_bytes() == level.run.read_bytes()


def test_a_copied_query_file_encoded_otherwise_is_refused(flow, tmp_path, splade_tiny, capsys):
    """Queries of another max length, copied next to nothing that describes them, are refused
    by what their own lines say; nothing is written."""
    from esplade_eval.model.encoder import SpladeEncoder
    from esplade_eval.model.export import export_corpus

    short = SpladeEncoder(splade_tiny.model, splade_tiny.tokenizer, splade_tiny.terms,
                          type(splade_tiny.info)(**{**splade_tiny.info.to_dict(), "max_length": 8}))
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "contents": "semantic web"}\n')
    level = export_corpus(short, corpus, tmp_path / "out", topics=[flow.topics])["full"]
    copy = tmp_path / "moved.jsonl"
    shutil.copy(level / "queries.test.jsonl", copy)
    assert _search("--index", flow.levels["full"].index, "--queries", copy, "--output", tmp_path / "r.txt") == 2
    err = capsys.readouterr().err
    assert f"{copy}: queries and index were encoded differently: max length 8 differs from the index's 256" in err
    assert not (tmp_path / "r.txt").exists()
    assert _search("--index", flow.levels["full"].index, "--queries", copy, "--output", tmp_path / "r.txt",
                   "--allow-mismatch") == 0
    assert (tmp_path / "r.txt").is_file()


def test_a_query_file_of_unknown_encoding_is_refused_unless_the_user_opts_in(flow, tmp_path, capsys):
    level = flow.levels["full"]
    old = tmp_path / "queries.test.jsonl"
    _strip_encoding(level.queries, old)
    out = tmp_path / "r.txt"
    assert _search("--index", level.index, "--queries", old, "--output", out) == 2
    err = capsys.readouterr().err
    assert "the encoding of these queries is unknown" in err and "--allow-unknown-encoding" in err
    assert not out.exists()
    assert _search("--index", level.index, "--queries", old, "--output", out, "--allow-unknown-encoding") == 0
    assert out.read_bytes() == level.run.read_bytes()


def test_a_query_file_without_encoding_beside_a_manifest_that_lists_it_is_unknown(flow, tmp_path, capsys):
    """The manifest beside a file no longer stands in for its lines' encoding (a 0.x shim
    removed, CHANGELOG.md): the file is refused as unknown, and searched as before when allowed."""
    level = flow.levels["d16-q4"]
    copy = tmp_path / "d16-q4"
    shutil.copytree(level.vectors, copy, ignore=shutil.ignore_patterns("collection"))
    _strip_encoding(level.queries, copy / level.queries.name)
    assert read_query_file(copy / level.queries.name).encoding is None
    out = tmp_path / "r.txt"
    assert _search("--index", level.index, "--queries", copy / level.queries.name, "--output", out) == 2
    assert "the encoding of these queries is unknown" in capsys.readouterr().err and not out.exists()
    assert _search("--index", level.index, "--queries", copy / level.queries.name, "--output", out,
                   "--allow-unknown-encoding") == 0
    assert out.read_bytes() == level.run.read_bytes()


def test_the_flow_re_encodes_queries_whose_file_lacks_or_differs_in_encoding(flow, tmp_path):
    from esplade_eval.study.flow import _queries_are_current

    level = flow.levels["full"]
    copy = tmp_path / "full"
    shutil.copytree(level.vectors, copy, ignore=shutil.ignore_patterns("collection"))
    manifest = artifacts.read_export_manifest(copy)
    expected = artifacts.encoding_of(manifest)
    sha = manifest["queries"]["test"]["source_sha256"]
    assert _queries_are_current(copy, "test", expected, sha)
    assert not _queries_are_current(copy, "test", expected, "0" * 64)  # other topics
    assert not _queries_are_current(copy, "test", {**expected, "max_length": 64}, sha)  # another encoder
    _strip_encoding(level.queries, copy / level.queries.name)
    assert not _queries_are_current(copy, "test", expected, sha)  # unknown encoding: encoded again
