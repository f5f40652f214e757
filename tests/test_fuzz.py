"""Fuzz: corrupted copies of the real bundled files, through every reader, by the command line.

Each case takes a real file of the session's flow (the Semanlink corpus, topics and qrels, a
SPLADE-tiny run, an exported collection and query file, a manifest, a Lucene index), damages
it one way (bytes: not UTF-8, NUL, UTF-16, a byte-order mark inside, gzip truncated or
corrupt, cut mid-line; content: a missing or null field, a bad number, a duplicate, an
empty file, a folder or a missing file; index files: flipped bits, truncation, a missing
segment file), and runs the verb that reads it through ``esplade_eval.cli.main`` in this
process. Each must end with its documented status (2: ``path:line: problem`` on stderr; 1 for
``check-run``/``package-run`` problems, listed as ``path:line: message``), raise nothing
(no traceback), and leave nothing that looks complete: no output, no temporary, no lock.

A few damages are not errors by design and are checked to give the pristine result: gzip
under a ``.txt`` name, plain text under ``.gz``, a leading byte-order mark, CRLF line ends.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from esplade_eval.cli import main

pytestmark = pytest.mark.slow  # the corrupted files come from the session's real flow


# --- byte damages (line numbers are 1-based; every base file has more than 5 lines) ------

def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(True)


def _at_line(k: int, change: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    def damage(data: bytes) -> bytes:
        lines = _lines(data)
        lines[k - 1] = change(lines[k - 1])
        return b"".join(lines)
    return damage


def latin1(k: int):  # an accented letter written in Latin-1, not UTF-8
    return _at_line(k, lambda line: line[:3] + "\xe9".encode("latin-1") + line[3:])


def nul(k: int):
    return _at_line(k, lambda line: line[:2] + b"\x00" + line[2:])


def bom_inside(k: int):
    return _at_line(k, lambda line: b"\xef\xbb\xbf" + line)


def utf16(data: bytes) -> bytes:
    return data.decode("utf-8").encode("utf-16")


def utf16_no_bom(data: bytes) -> bytes:
    return data.decode("utf-8").encode("utf-16-le")


def gzip_truncated(data: bytes) -> bytes:
    return gzip.compress(data)[: len(gzip.compress(data)) // 2]


def gzip_bad_crc(data: bytes) -> bytes:
    z = bytearray(gzip.compress(data))
    z[-8] ^= 0xFF  # the CRC32 in the trailer
    return bytes(z)


def gzip_flipped(data: bytes) -> bytes:
    z = bytearray(gzip.compress(data))
    z[len(z) // 2] ^= 0xFF
    return bytes(z)


def cut_mid_line(k: int):
    def damage(data: bytes) -> bytes:
        lines = _lines(data)
        return b"".join(lines[:k - 1]) + lines[k - 1][: len(lines[k - 1]) // 2]
    return damage


def replace_line(k: int, new: bytes):
    return _at_line(k, lambda line: new + b"\n")


def json_edit(k: int, edit: Callable[[dict], object]):
    """Line ``k`` of a JSON-lines file, parsed, changed by ``edit`` (returns the new object)."""
    def change(line: bytes) -> bytes:
        return json.dumps(edit(json.loads(line))).encode() + b"\n"
    return _at_line(k, change)


def duplicate(k: int, of: int = 1):
    def damage(data: bytes) -> bytes:
        lines = _lines(data)
        lines[k - 1] = lines[of - 1]
        return b"".join(lines)
    return damage


def empty(data: bytes) -> bytes:
    return b""


def blanks(data: bytes) -> bytes:
    return b"\n  \n\t\n"


def binary(data: bytes) -> bytes:
    return bytes(range(256)) * 4


def crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


def bom_first(data: bytes) -> bytes:
    return b"\xef\xbb\xbf" + data


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)


def same(data: bytes) -> bytes:
    return data


# --- the cases ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """``kind`` of real file, its ``damage``, the ``verb`` reading it, the status expected and the
    line the message must name (None: the file only; 0: no message, the pristine result)."""

    name: str
    kind: str
    damage: Callable[[bytes], bytes] | None
    verb: str
    status: int = 2
    line: int | None = None
    suffix: str = ""
    message: str = ""
    folder: bool = False  # the message names the damaged file's folder (e.g. a collection without documents)


BYTES = [  # (name, damage, line, message): every reader meets every fault of the bytes
    ("latin1", latin1(3), 3, "not UTF-8"), ("nul", nul(4), 4, "NUL byte"), ("utf16", utf16, 1, "UTF-16"),
    ("utf16-no-bom", utf16_no_bom, 1, "NUL byte"), ("bom-inside", bom_inside(5), 5, "byte-order mark inside"),
    ("gzip-truncated", gzip_truncated, None, "truncated or corrupt gzip"),
    ("gzip-bad-crc", gzip_bad_crc, None, "truncated or corrupt gzip"),
]
READERS = {"corpus": "export", "topics": "evaluate-topics", "qrels": "evaluate-qrels", "run": "evaluate-run",
           "collection": "index", "queries": "search"}

CASES = [Case(f"{kind}-{name}", kind, damage, verb, 2, line, message=message)
         for kind, verb in READERS.items() for name, damage, line, message in BYTES]
CASES += [
    # the same faults through the other reader of a kind
    Case("run-latin1-check", "run", latin1(6), "check-run", 2, 6, message="not UTF-8"),
    Case("run-gzip-truncated-package", "run", gzip_truncated, "package-run", 2, None, ".gz", "truncated or corrupt"),
    Case("queries-nul-cost", "queries", nul(2), "cost", 2, 2, message="NUL byte"),
    Case("topics-utf16-check", "topics", utf16, "check-run-topics", 2, 1, message="UTF-16"),
    # a flipped bit inside deflate data decodes to garbage that the reader meets first (gzip's CRC
    # is checked at the end of the stream): an error, on the damaged line or at the end
    Case("qrels-gzip-flipped", "qrels", gzip_flipped, "evaluate-qrels", 2, None, ".gz", ""),
    # cut in the middle of a line
    Case("corpus-cut", "corpus", cut_mid_line(7), "export", 2, 7, message="malformed JSON"),
    Case("collection-cut", "collection", cut_mid_line(9), "index", 2, 9, message="malformed JSON"),
    Case("queries-cut", "queries", cut_mid_line(4), "search", 2, 4, message="malformed JSON"),
    Case("run-cut", "run", cut_mid_line(8), "evaluate-run", 2, 8, message="columns"),
    Case("qrels-cut", "qrels", cut_mid_line(8), "evaluate-qrels", 2, 8, message="columns"),
    # missing, null or wrong fields
    Case("corpus-no-contents", "corpus", json_edit(3, lambda o: {"id": o["id"]}), "export", 2, 3,
         message="no 'contents' field"),
    Case("corpus-null-id", "corpus", json_edit(2, lambda o: {**o, "id": None}), "export", 2, 2,
         message="must be a string or an integer"),
    Case("corpus-id-with-space", "corpus", json_edit(4, lambda o: {**o, "id": "a b"}), "export", 2, 4,
         message="contains whitespace"),
    Case("corpus-duplicate-id", "corpus", duplicate(6), "export", 2, 6, message="duplicate document id"),
    Case("corpus-not-an-object", "corpus", replace_line(5, b"[1, 2]"), "export", 2, 5, message="expected a JSON object"),
    Case("topics-no-tab", "topics", replace_line(4, b"q-without-text"), "evaluate-topics", 2, 4, message="no tab"),
    Case("topics-extra-column", "topics", replace_line(4, b"q-extra\tsemantic web\tan extra column"), "evaluate-topics",
         2, 4, message="(2 columns), found 3 columns"),
    Case("qrels-huge-grade", "qrels", _at_line(6, lambda ln: ln.rsplit(b" ", 1)[0] + b" 4294967296\n"), "evaluate-qrels",
         2, 6, message="outside int32"),
    Case("topics-duplicate", "topics", duplicate(5), "check-run-topics", 2, 5, message="duplicate query id"),
    Case("qrels-grade", "qrels", _at_line(6, lambda ln: ln.rsplit(b" ", 1)[0] + b" high\n"), "evaluate-qrels", 2, 6,
         message="not an integer"),
    Case("qrels-repeated-pair", "qrels", duplicate(7), "evaluate-qrels", 2, 7, message="duplicate judgment"),
    Case("run-five-columns", "run", _at_line(5, lambda ln: ln.rsplit(b" ", 1)[0] + b"\n"), "evaluate-run", 2, 5,
         message="expected 6 columns"),
    Case("run-score-nan", "run", _at_line(3, lambda ln: b" ".join(ln.split()[:4] + [b"nan", ln.split()[5]]) + b"\n"),
         "evaluate-run", 2, 3, message="not finite"),
    Case("run-duplicate-doc", "run", duplicate(4, of=3), "evaluate-run", 2, 4, message="appears twice"),
    Case("run-problems-listed", "run", _at_line(3, lambda ln: ln.replace(b"Q0", b"Q1")), "check-run", 1, 3,
         message="second column must be 'Q0'"),
    Case("run-rank-gap-packaged", "run", duplicate(4, of=2), "package-run", 1, 4, message="already listed",
         suffix=".txt"),
    Case("collection-negative", "collection", json_edit(2, lambda o: {**o, "vector": {"x": -3}}), "index", 2, 2,
         message="negative"),
    Case("collection-float", "collection", json_edit(3, lambda o: {**o, "vector": {"x": 2.5}}), "index", 2, 3,
         message="not an integer"),
    Case("collection-nan", "collection", replace_line(4, b'{"id": "zz", "contents": "", "vector": {"x": NaN}}'),
         "index", 2, 4, message="is nan"),
    Case("collection-huge", "collection", json_edit(5, lambda o: {**o, "vector": {"x": 3000000000}}), "index", 2, 5,
         message="above 16777216"),
    Case("collection-term-space", "collection", json_edit(6, lambda o: {**o, "vector": {"a b": 1}}), "index", 2, 6,
         message="contains whitespace"),
    Case("collection-no-vector", "collection", json_edit(7, lambda o: {"id": o["id"], "contents": ""}), "index", 2, 7,
         message="missing or non-object 'vector'"),
    Case("collection-duplicate", "collection", duplicate(8), "index", 2, 8, message="duplicate document id"),
    Case("collection-contents-number", "collection", json_edit(2, lambda o: {**o, "contents": 5}), "index", 2, 2,
         message="'contents' must be a string"),
    Case("queries-string-weight", "queries", json_edit(3, lambda o: {**o, "vector": {"x": "7"}}), "search", 2, 3,
         message="not a number"),
    Case("queries-duplicate", "queries", duplicate(5), "cost", 2, 5, message="duplicate query id"),
    Case("queries-null-id", "queries", json_edit(2, lambda o: {**o, "id": None}), "search", 2, 2,
         message="non-empty string"),
    # empty, blank, binary, missing, a folder
    Case("corpus-empty", "corpus", empty, "export", 2, None, message="empty corpus file"),
    Case("topics-blank", "topics", blanks, "evaluate-topics", 2, None, message="empty topics file"),
    Case("qrels-binary", "qrels", binary, "evaluate-qrels", 2, 1, message="NUL byte"),
    Case("run-empty", "run", empty, "check-run", 1, None, message="empty run"),
    Case("queries-empty", "queries", blanks, "search", 2, None, message="no queries"),
    Case("collection-empty", "collection", empty, "index", 2, None, message="has no documents", folder=True),
    Case("corpus-missing", "corpus", None, "export", 2, None, message=": No such file or directory"),
    Case("run-folder", "run", "folder", "evaluate-run", 2, None, message="is a folder"),
    # manifests (an export level's, an index's)
    Case("manifest-cut", "manifest", cut_mid_line(10), "index", 2, None, message="malformed JSON in the manifest"),
    Case("manifest-utf16", "manifest", utf16, "index", 2, 1, message="UTF-16"),
    Case("manifest-not-object", "manifest", lambda d: b"[1, 2]\n", "index", 2, None, message="JSON object"),
    Case("manifest-format", "manifest", lambda d: d.replace(b"esplade_eval/export/1", b"other/9"), "topics-only", 2,
         None, message="unknown manifest format"),
    Case("manifest-no-encoder", "manifest",
         lambda d: json.dumps({k: v for k, v in json.loads(d).items() if k != "encoder"}).encode(), "topics-only", 2,
         None, message="'encoder' is missing"),
    Case("manifest-scale-zero", "manifest",
         lambda d: json.dumps({**json.loads(d), "quantization": {"scale": 0, "rounding": "rint"}}).encode(),
         "topics-only", 2, None, message="scale must be a finite number > 0"),
    Case("index-manifest-cut", "index-manifest", cut_mid_line(3), "search-index", 2, None,
         message="malformed JSON in the index manifest"),
    Case("index-manifest-bad-export", "index-manifest",
         lambda d: json.dumps({**json.loads(d), "export_manifest": {"format": "esplade_eval/export/1"}}).encode(),
         "search-index", 2, None, message="'encoder' is missing"),
    # Lucene index files
    *(Case(f"index-flip{ext}", f"index:{ext}:flip", None, verb, 2, None, message="cannot be read as a Lucene index")
      for ext, verb in ((".doc", "search-index"), (".tim", "cost-index"), (".tip", "postings-index"),
                        (".fdt", "search-index"), (".dvd", "cost-index"))),
    *(Case(f"index-cut{ext}", f"index:{ext}:cut", None, verb, 2, None, message="cannot be read as a Lucene index")
      for ext, verb in ((".tim", "search-index"), (".si", "postings-index"), ("segments_", "cost-index"))),
    Case("index-no-segments", "index:segments_:remove", None, "search-index", 2, None, message="no segments file"),
    Case("index-no-si", "index:.si:remove", None, "search-index", 2, None, message="cannot be read as a Lucene index"),
    Case("index-empty-folder", "index:all:remove", None, "postings-index", 2, None, message="not a Lucene index"),
    # not errors, by design: the pristine result
    Case("run-gzip-named-txt", "run", gzipped, "evaluate-run", 0, 0, ".txt"),
    Case("topics-plain-named-gz", "topics", same, "evaluate-topics", 0, 0, ".gz"),
    Case("qrels-bom-first", "qrels", bom_first, "evaluate-qrels", 0, 0),
    Case("run-crlf", "run", crlf, "evaluate-run", 0, 0),
    Case("corpus-gzip-named-jsonl", "corpus", gzipped, "export-check", 0, 0, ".jsonl"),
]


# --- running a case ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def real(flow, semanlink) -> dict[str, Path]:
    """The real files every damage starts from."""
    full, strict = flow.levels["full"], flow.levels["d16-q4"]
    return {"corpus": semanlink.corpus, "topics": flow.topics, "qrels": flow.qrels, "run": full.run,
            "collection": strict.vectors / "collection" / "docs00000.jsonl", "queries": full.queries,
            "manifest": strict.vectors / "manifest.json", "level": strict.vectors, "index": Path(full.index),
            "index-manifest": Path(full.index) / "esplade_eval.json"}


def _damaged_input(case: Case, real: dict, root: Path) -> tuple[Path, dict]:
    """Write the damaged file where its reader expects it; returns it and the paths the verb uses."""
    base = {"run": real["run"], "qrels": real["qrels"], "topics": real["topics"], "queries": real["queries"],
            "index": real["index"], "level": real["level"]}
    kind = case.kind
    if kind.startswith("index"):
        index = root / "index"
        shutil.copytree(real["index"], index)
        if kind == "index-manifest":
            target = index / "esplade_eval.json"
            target.write_bytes(case.damage(target.read_bytes()))
        else:
            _, ext, how = kind.split(":")
            for f in list(index.iterdir()):
                if ext == "all" or f.name.endswith(ext) or f.name.startswith(ext):
                    if how == "remove":
                        f.unlink()
                    elif how == "cut":
                        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
                    else:
                        data = bytearray(f.read_bytes())
                        data[len(data) // 2] ^= 0x55
                        f.write_bytes(bytes(data))
            target = index
        return target, {**base, "index": index}
    if kind in ("collection", "manifest"):
        level = root / real["level"].name  # a pruning level's name: topics-only export parses it
        shutil.copytree(real["level"], level, ignore=shutil.ignore_patterns("queries.*"))
        target = level / ("collection/docs00000.jsonl" if kind == "collection" else "manifest.json")
        target.write_bytes(case.damage(target.read_bytes()))
        return (level / "manifest.json" if kind == "manifest" else target), {**base, "level": level}
    source = real[kind]
    target = root / (source.name + case.suffix)
    if case.damage is None:
        pass  # a missing file
    elif case.damage == "folder":
        target.mkdir()
    else:
        target.write_bytes(case.damage(source.read_bytes()))
    return target, {**base, kind: target}


def _argv(case: Case, p: dict, out: Path) -> list:
    verbs = {
        "export": ["export", "--checkpoint", "splade-tiny", "--corpus", p.get("corpus"), "--out", out / "vectors"],
        "export-check": None,
        "topics-only": ["export", "--checkpoint", "splade-tiny", "--topics", p["topics"], "--out", p["level"].parent,
                        "--levels", p["level"].name],
        "evaluate-topics": ["evaluate", "--qrels", p["qrels"], "--topics", p["topics"], f"sys={p['run']}",
                            "--output", out / "table.md"],
        "evaluate-qrels": ["evaluate", "--qrels", p["qrels"], f"sys={p['run']}", "--output", out / "table.md"],
        "evaluate-run": ["evaluate", "--qrels", p["qrels"], f"sys={p['run']}", "--output", out / "table.md"],
        "check-run": ["check-run", p["run"]],
        "check-run-topics": ["check-run", p["run"], "--topics", p["topics"]],
        "package-run": ["package-run", p["run"], "--out", out / "run.txt.gz"],
        "index": ["index", "--collection", p["level"], "--index", out / "idx", "--threads", "1"],
        "search": ["search", "--index", p["index"], "--queries", p["queries"], "--output", out / "run.txt"],
        "cost": ["cost", "--index", p["index"], "--queries", p["queries"], "--no-latency", "--json", out / "c.json"],
        "search-index": ["search", "--index", p["index"], "--queries", p["queries"], "--output", out / "run.txt"],
        "cost-index": ["cost", "--index", p["index"], "--queries", p["queries"], "--no-latency",
                       "--json", out / "c.json"],
        "postings-index": ["postings", "--index", p["index"], "--json", out / "p.json"],
    }
    return [str(a) for a in verbs[case.verb]]


def _run(argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)  # an exception here is the traceback a user would see: the test fails
    return rc, out.getvalue(), err.getvalue()


def _nothing_written(out: Path, *folders: Path) -> None:
    assert not out.exists() or list(out.iterdir()) == [], f"output left: {list(out.iterdir())}"
    for folder in folders:
        if folder.is_dir():
            assert [f.name for f in folder.iterdir() if f.name.startswith(".")] == [], folder


def test_at_least_fifty_corruptions_of_eight_kinds_of_file():
    assert len(CASES) >= 50 and len({c.name for c in CASES}) == len(CASES)
    kinds = {c.kind.split(":")[0] for c in CASES}
    assert {"corpus", "topics", "qrels", "run", "collection", "queries", "manifest", "index"} <= kinds


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_damaged_file_gives_a_clear_error_and_no_output(case, real, tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()
    bad, paths = _damaged_input(case, real, root)
    if case.verb == "export-check":  # the corpus reader itself: the same documents as the pristine file
        from esplade_eval.data.trec import read_corpus

        assert list(read_corpus(bad)) == list(read_corpus(real["corpus"]))
        return
    rc, stdout, stderr = _run(_argv(case, paths, out))
    if case.status == 0:
        pristine_out = tmp_path / "pristine"
        rc0, stdout0, _ = _run(_argv(case, {**paths, case.kind: real[case.kind]}, pristine_out))
        assert (rc, stdout) == (rc0, stdout0) == (0, stdout0)
        assert (out / "table.md").read_text() == (pristine_out / "table.md").read_text()
        return
    shown = stdout if case.status == 1 else stderr
    where = f"{bad}:{case.line}:" if case.line else str(bad.parent if case.folder else bad)
    assert rc == case.status, (rc, stderr)
    assert where in shown and case.message in shown, shown
    assert "Traceback" not in stderr
    _nothing_written(out, bad.parent if bad.is_file() or not bad.exists() else bad)


# --- consistency: inputs each fine alone, wrong together (a result would be silently wrong) ----

@pytest.fixture(scope="module")
def two_builds(real, tmp_path_factory) -> tuple[Path, Path]:
    """Two sharded indexes of the same real level, built separately (2 and 3 shards)."""
    root = tmp_path_factory.mktemp("shards")
    for shards in (2, 3):
        assert main(["index", "--collection", str(real["level"]), "--index", str(root / f"s{shards}"),
                     "--shards", str(shards), "--threads", "2", "--quiet"]) == 0
    return root / "s2", root / "s3"


def _search(index: Path, real: dict, out: Path) -> tuple[int, str, str]:
    return _run(["search", "--index", str(index), "--queries", str(real["queries"]).replace("full", "d16-q4"),
                 "--output", str(out)])


def test_shards_of_one_sharded_index_come_from_one_build_and_appear_once(two_builds, real, tmp_path):
    s2, s3 = two_builds
    rc, _, err = _search(s2, real, tmp_path / "good.txt")
    assert rc == 0, err
    mixed = tmp_path / "mixed"  # shard-001 of another build of the same level: overlapping documents
    shutil.copytree(s2, mixed)
    shutil.rmtree(mixed / "shard-001")
    shutil.copytree(s3 / "shard-001", mixed / "shard-001")
    rc, _, err = _search(mixed, real, tmp_path / "mixed.txt")
    assert rc == 2 and "shard-001" in err and "build" in err and not (tmp_path / "mixed.txt").exists()
    twice = tmp_path / "twice"  # the manifest lists one shard twice: its hits would count double
    shutil.copytree(s2, twice)
    manifest = json.loads((twice / "esplade_eval.json").read_text())
    manifest["shards"][1] = dict(manifest["shards"][0])
    (twice / "esplade_eval.json").write_text(json.dumps(manifest))
    rc, _, err = _search(twice, real, tmp_path / "twice.txt")
    assert rc == 2 and "shard 'shard-000' is listed twice" in err and not (tmp_path / "twice.txt").exists()


def test_an_all_empty_export_and_a_zero_document_index_are_errors_unless_allowed(splade_tiny, real, tmp_path):
    from esplade_eval.errors import EspladeError
    from esplade_eval.model.export import export_corpus
    from esplade_eval.sparse.quantize import Quantizer

    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(line + "\n" for line in Path(real["corpus"]).read_text().splitlines()[:20]))
    with pytest.raises(EspladeError, match="every one of the 20 document vectors is empty"):
        export_corpus(splade_tiny, corpus, tmp_path / "out", quantizer=Quantizer(1e-4))
    assert not (tmp_path / "out").exists()
    level = export_corpus(splade_tiny, corpus, tmp_path / "out", quantizer=Quantizer(1e-4), allow_empty=True)["full"]
    assert json.loads((level / "manifest.json").read_text())["documents"]["empty_vectors"] == 20
    rc, _, err = _run(["index", "--collection", str(level), "--index", str(tmp_path / "idx")])
    assert rc == 2 and "no document to index (20 documents, 20 of them empty vectors)" in err
    assert not (tmp_path / "idx").exists()


def test_a_fine_tuning_run_with_no_steps_and_a_build_with_no_queries_are_refused(tmp_path):
    for steps in ("0", "-1"):
        with pytest.raises(SystemExit):
            main(["finetune", "--init", "random", "--out", str(tmp_path / "ft"), "--steps", steps])
    rc, _, err = _run(["data", "semanlink", "--out", str(tmp_path / "sl"), "--min-docs", "1000000"])
    assert rc == 2 and "no tag labels that many documents" in err and not (tmp_path / "sl").exists()


def test_shards_with_matching_counts_from_two_builds_are_still_refused(two_builds, tmp_path):
    """Counts alone can agree (a shard of a 2-shard build of another level): the build each
    shard's own manifest records decides."""
    from esplade_eval.errors import InputError
    from esplade_eval.lucene.index import check_shards

    s2, _ = two_builds
    other = tmp_path / "other"
    shutil.copytree(s2, other)
    own = json.loads((other / "shard-001" / "esplade_eval.json").read_text())
    own["collection"] = own["collection"].replace(Path(own["collection"]).parent.parent.name, ".other.abcdefgh.tmp")
    (other / "shard-001" / "esplade_eval.json").write_text(json.dumps(own))
    with pytest.raises(InputError, match="its shards come from 2 different builds"):
        check_shards(other, [other / "shard-000", other / "shard-001"])
    check_shards(s2, [s2 / "shard-000", s2 / "shard-001"])  # the build as written passes
