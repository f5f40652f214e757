"""The artifacts on disk, in one place: where each lives, what it is called, what it records.

Every other module asks this one for a path, a name or a manifest, and the one
compatibility check lives here, so a change to the layout is made once.

A flow folder (``esplade-eval flow --out OUT``, :class:`FlowLayout`)::

    OUT/data/                          the prepared collection (esplade_eval.data.prepared)
    OUT/vectors/<level>/               an export level folder (below)
    OUT/indexes/<level>/               a Lucene impact index with its index manifest
    OUT/runs/run.<split>.<level>.txt   a TREC run, tagged esplade_<level>
    OUT/plots/

An export level folder (``esplade-eval export --out OUT`` writes ``OUT/<level>/``)::

    manifest.json                      the export manifest (what produced the vectors)
    collection/docs00000.jsonl ...     the Anserini JsonVectorCollection
    queries.<name>.jsonl               pre-encoded queries (Pyserini's format), every line
                                       carrying its encoding under "encoding"

An index folder holds Lucene's files and ``esplade_eval.json``, the index manifest (what
indexing counted, and a copy of the export manifest). A sharded index
(``esplade-eval index --shards N``, :mod:`esplade_eval.lucene.shards`) is what every verb
accepts as "an index" too::

    INDEX/esplade_eval.json            format esplade_eval/sharded-index/1: the shards, counts,
                                       the export manifest
    INDEX/shard-000/ ...               a complete Lucene impact index with its own index manifest

**Encoding**: what must agree between queries and documents for an impact score to mean
anything (checkpoint content hash, max length, vocabulary size, quantisation), plus what
names an artifact (pruning, the corpus' SHA-256). :func:`encoding` builds it,
:func:`encoding_of` reads it from an export manifest, and :func:`mismatches` /
:func:`check_compatible` compare two, field by field: the search refuses queries and the
flow rebuilds an artifact with that one comparison.

>>> run_file("test", "d8-q4"), run_tag("d8-q4"), topics_name("data/topics.test.tsv")
('run.test.d8-q4.txt', 'esplade_d8-q4', 'test')
>>> FlowLayout("out").run("test", "full").as_posix()
'out/runs/run.test.full.txt'
>>> split_named("bm25=runs/a.txt"), split_named("runs/a.txt")
(('bm25', 'runs/a.txt'), (None, 'runs/a.txt'))
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from esplade_eval.errors import EspladeError, InputError

EXPORT_MANIFEST = "manifest.json"
EXPORT_FORMAT = "esplade_eval/export/1"
INDEX_MANIFEST = "esplade_eval.json"
#: the ``format`` of a sharded index's top-level index manifest
SHARDED_INDEX_FORMAT = "esplade_eval/sharded-index/1"
COLLECTION_DIR = "collection"
#: the key of a pre-encoded query line that holds its encoding (Pyserini reads only contents and vector)
QUERY_ENCODING = "encoding"
#: what a query file must share with an index: differing, the scores are meaningless
ENCODING_FIELDS = ("checkpoint_hash", "max_length", "vocab_size", "quantization")
#: what a query file records beside that: the pruning applied to it
QUERY_FIELDS = ENCODING_FIELDS + ("pruning",)
#: what an export level must match to be reused: its encoding, its pruning, its documents
LEVEL_FIELDS = QUERY_FIELDS + ("corpus_sha256",)
#: how each field is named in a message
FIELD_LABELS = {"checkpoint_hash": "checkpoint", "max_length": "max length", "vocab_size": "vocabulary size",
                "quantization": "quantisation", "pruning": "pruning", "corpus_sha256": "corpus"}
RUN_SUFFIXES = (".gz", ".txt", ".trec", ".run")


# --- names ----------------------------------------------------------------------------

def _name_between(path: str | os.PathLike, prefix: str, suffixes: tuple[str, ...], default: str) -> str:
    """A file name without ``suffixes`` (removed right to left) and ``prefix``; ``default`` if nothing is left."""
    stem = Path(path).name
    for suffix in suffixes:
        stem = stem.removesuffix(suffix)
    return stem.removeprefix(prefix) or default


def topics_name(topics: str | os.PathLike) -> str:
    """The name a topics file gives its queries and runs: ``topics.test.tsv`` -> ``test``."""
    return _name_between(topics, "topics.", (".gz", ".tsv", ".txt"), "topics")


def queries_file(name: str) -> str:
    """``queries.<name>.jsonl``: the pre-encoded queries of topics ``name`` in a level folder."""
    return f"queries.{name}.jsonl"


def queries_name(path: str | os.PathLike) -> str:
    """Inverse of :func:`queries_file` (``queries.test.jsonl`` -> ``test``; another file: its stem)."""
    return _name_between(path, "queries.", (".gz", ".jsonl", ".json"), "queries")


def shard_file_name(shard: int) -> str:
    """``docs00000.jsonl``: collection file ``shard`` of a level's ``collection/`` (one per
    ``--shard-size`` documents)."""
    return f"docs{shard:05d}.jsonl"


def run_file(name: str, level: str) -> str:
    """``run.<name>.<level>.txt``: the run of queries ``name`` on the index of ``level``."""
    return f"run.{name}.{level}.txt"


def run_tag(level: str) -> str:
    """The TREC run tag of a search on the index of ``level`` (whitespace-free)."""
    return "esplade_" + "_".join(str(level).split())


def default_run(source: str | os.PathLike, index: str | os.PathLike, folder: str | os.PathLike = "runs") -> Path:
    """Where a search writes its run when not told: ``runs/run.<name>.<index folder>.txt``,
    ``<name>`` the topics' or queries' name (``queries.test.jsonl``, ``topics.test.tsv``:
    ``test``), so ``esplade-eval search`` names a run as the flow does."""
    name = queries_name(source) if Path(source).name.startswith("queries.") else topics_name(source)
    return Path(folder) / run_file(name, Path(index).resolve().name)


def run_name(path: str | os.PathLike) -> str:
    """A run's short name: its file name without ``.txt``/``.gz``/``.trec``/``.run``."""
    stem = Path(path).name
    for suffix in RUN_SUFFIXES:
        stem = stem.removesuffix(suffix)
    return stem or os.fspath(path)


def split_named(text: str | os.PathLike) -> tuple[str | None, str]:
    """``NAME=VALUE`` -> ``(NAME, VALUE)``; anything else (a path may hold ``=``) -> ``(None, text)``."""
    text = os.fspath(text)
    name, sep, value = text.partition("=")
    if sep and name and value and not Path(text).exists():
        return name, value
    return None, text


def named(items: Iterable[str | os.PathLike], default: Callable[[str], str] = run_name,
          what: str = "run") -> dict[str, str]:
    """``{name: value}`` for ``NAME=VALUE`` or plain values, the one rule of every verb that
    names its inputs (runs, checkpoints, levels).

    A plain value is named by ``default`` (a run: its file name); when two plain values get
    the same name, each is named by its text as given. Two inputs with one name are an error.

    >>> named(["runs/bm25.txt", "full=runs/a.txt", "x/run.txt", "y/run.txt"])
    {'bm25': 'runs/bm25.txt', 'full': 'runs/a.txt', 'x/run.txt': 'x/run.txt', 'y/run.txt': 'y/run.txt'}
    """
    pairs = [split_named(item) for item in items]
    defaults = [default(value) for name, value in pairs if name is None]
    out: dict[str, str] = {}
    for name, value in pairs:
        if name is None:
            name = default(value)
            name = name if defaults.count(name) == 1 else value
        if name in out:
            raise EspladeError(f"two {what}s have the same name {name!r} ({out[name]}, {value}): "
                               f"give each a unique name as NAME={what.upper()}")
        out[name] = value
    return out


# --- the flow folder ------------------------------------------------------------------

def _folder(name: str, doc: str) -> property:
    return property(lambda self: self.root / name, doc=f"``<root>/{name}``: {doc}")


@dataclass(frozen=True)
class FlowLayout:
    """Where the flow puts each artifact of ``root`` (see the module docstring)."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    data = _folder("data", "the prepared collection (:class:`esplade_eval.data.prepared.Collection`)")
    vectors_root = _folder("vectors", "one export level folder per pruning level")
    indexes_root = _folder("indexes", "one Lucene impact index per pruning level")
    runs_root = _folder("runs", "the TREC runs")
    plots = _folder("plots", "the demo's figures")

    def vectors(self, level: str) -> Path:
        return self.vectors_root / level

    def queries(self, level: str, split: str) -> Path:
        return self.vectors(level) / queries_file(split)

    def index(self, level: str) -> Path:
        return self.indexes_root / level

    def run(self, split: str, level: str) -> Path:
        return self.runs_root / run_file(split, level)

    def runs_of(self, level: str) -> list[Path]:
        """Every run searched on the index of ``level`` (any split)."""
        return sorted(self.runs_root.glob(run_file("*", level)))

    def runs_by_level(self, split: str) -> dict[str, Path]:
        """``{level: run}`` for every run of ``split`` in ``runs/`` (levels by name)."""
        head, tail = run_file(split, "*").split("*")
        return {p.name[len(head):-len(tail)]: p for p in sorted(self.runs_root.glob(run_file(split, "*")))}

    def levels(self) -> list[str]:
        """The levels with an index folder, by name (temporary folders left out)."""
        if not self.indexes_root.is_dir():
            raise InputError(self.root, "no indexes/ folder here (expected the output of `esplade-eval flow --out`)")
        found = sorted(p.name for p in self.indexes_root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not found:
            raise InputError(self.indexes_root, "no index folders")
        return found

    def collection(self):
        """The prepared collection in ``data/`` (:class:`esplade_eval.data.prepared.Collection`)."""
        from esplade_eval.data.prepared import Collection

        return Collection(self.data)


# --- manifests ------------------------------------------------------------------------

def _read_json(path: Path, missing: str, what: str) -> dict:
    """A manifest through :func:`esplade_eval._read.read_json` (encoding, gzip, truncation,
    malformed JSON: ``path:line: problem``)."""
    from esplade_eval._read import read_json

    if not path.is_file():
        raise InputError(path, missing)
    return read_json(path, what)


#: what every reader of an export manifest relies on: (dotted key, accepted types)
EXPORT_MANIFEST_FIELDS = (
    ("encoder", dict), ("encoder.checkpoint_hash", str), ("encoder.max_length", int), ("encoder.vocab_size", int),
    ("pruning", dict), ("pruning.doc_top_k", (int, type(None))), ("pruning.query_top_k", (int, type(None))),
    ("pruning.min_weight", (int, float, type(None))), ("quantization", dict), ("quantization.scale", (int, float)),
    ("quantization.rounding", str), ("queries", dict),
)


def check_export_manifest(manifest, path: str | os.PathLike) -> dict:
    """``manifest`` when it has the format and every field readers use, with the right types;
    else an :class:`InputError` naming the field (never a KeyError later). The values of the
    pruning and quantisation rules are checked where the rules are built from them."""
    if not isinstance(manifest, dict):
        raise InputError(path, f"a manifest must be a JSON object, found {type(manifest).__name__}")
    if manifest.get("format") != EXPORT_FORMAT:
        raise InputError(path, f"unknown manifest format {manifest.get('format')!r}, expected {EXPORT_FORMAT!r}")
    for dotted, types in EXPORT_MANIFEST_FIELDS:
        value = manifest
        for key in dotted.split("."):
            if not isinstance(value, dict) or key not in value:
                raise InputError(path, f"manifest field {dotted!r} is missing")
            value = value[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise InputError(path, f"manifest field {dotted!r} has the wrong type: {value!r}")
    return manifest


def new_export_manifest(encoder_info: dict, pruning: dict, quantization: dict) -> dict:
    """A level's export manifest before its counts are known."""
    from esplade_eval import __version__

    return {"format": EXPORT_FORMAT, "esplade_eval": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "encoder": encoder_info,
            "pruning": pruning, "quantization": quantization, "documents": None, "queries": {}}


def write_export_manifest(folder: str | os.PathLike, manifest: dict) -> Path:
    from esplade_eval._io import write_json

    path = Path(folder) / EXPORT_MANIFEST
    write_json(path, manifest)
    return path


def read_export_manifest(folder: str | os.PathLike) -> dict:
    """The export manifest of a level folder (or the file itself); an error names what is wrong."""
    folder = Path(folder)
    path = folder / EXPORT_MANIFEST if folder.is_dir() else folder
    manifest = _read_json(path, "manifest not found (was this folder written by `esplade-eval export`?)", "manifest")
    return check_export_manifest(manifest, path)


def find_export_manifest(folder: str | os.PathLike) -> dict | None:
    """The export manifest of ``folder``, or None when it is absent, unreadable or of another format."""
    try:
        return read_export_manifest(folder)
    except InputError:
        return None


def level_collection(level: str | os.PathLike) -> tuple[Path, dict | None]:
    """An export level folder -> ``(its collection/ folder, its manifest or None)``; a bare
    folder of JsonVectorCollection files -> ``(itself, None)``."""
    level = Path(level)
    if (level / COLLECTION_DIR).is_dir():
        manifest = read_export_manifest(level) if (level / EXPORT_MANIFEST).is_file() else None
        return level / COLLECTION_DIR, manifest
    return level, None


def write_index_manifest(index: str | os.PathLike, info: dict) -> Path:
    from esplade_eval._io import write_json

    path = Path(index) / INDEX_MANIFEST
    write_json(path, info)
    return path


def read_index_manifest(index: str | os.PathLike) -> dict | None:
    """An index's ``esplade_eval.json`` (None for an index built by other tools); the export
    manifest it copies is checked as :func:`read_export_manifest` checks one."""
    path = Path(index) / INDEX_MANIFEST
    if not path.is_file():
        return None
    info = _read_json(path, "index manifest not found", "index manifest")
    if info.get("export_manifest") is not None:
        info["export_manifest"] = check_export_manifest(info["export_manifest"], f"{path} (export_manifest)")
    return info


def shard_name(i: int) -> str:
    """``shard-000``: the folder of shard ``i`` inside a sharded index."""
    return f"shard-{i:03d}"


def is_sharded_index(index: str | os.PathLike) -> bool:
    """True when ``index`` is a sharded index: a top-level manifest of the sharded format, no Lucene segments."""
    index = Path(index)
    if not (index / INDEX_MANIFEST).is_file() or any(index.glob("segments_*")):
        return False
    # no Lucene segments: the manifest decides, and an unreadable one is an error, not "not sharded"
    return (read_index_manifest(index) or {}).get("format") == SHARDED_INDEX_FORMAT


def index_shards(index: str | os.PathLike) -> list[Path]:
    """The shard folders a sharded index lists, in order (absolute; whether each is a Lucene
    index is :func:`esplade_eval.lucene.index.shard_paths`' to check)."""
    index = Path(index)
    shards = (read_index_manifest(index) or {}).get("shards") or []
    if not isinstance(shards, list) or not shards:
        raise InputError(index / INDEX_MANIFEST, "a sharded index that lists no shards")
    for n, shard in enumerate(shards):
        name = shard.get("path") if isinstance(shard, dict) else None
        if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
            raise InputError(index / INDEX_MANIFEST, f"shard entry {n}: 'path' must name a folder inside the "
                                                     f"index, found {name!r}")
    return [index.absolute() / shard["path"] for shard in shards]


def index_export_manifest(index: str | os.PathLike) -> dict | None:
    """The export manifest an index was built from (None when unknown)."""
    manifest = (read_index_manifest(index) or {}).get("export_manifest")
    return manifest or None


def index_documents(index: str | os.PathLike) -> int | None:
    """Documents of the collection an index was built from, empty vectors included (None when
    unknown; an unreadable index manifest is an error, not an unknown)."""
    info = read_index_manifest(index) or {}
    counts = info.get("validated") or {}
    if counts.get("documents") is not None:
        return int(counts["documents"])
    exported = (info.get("export_manifest") or {}).get("documents") or {}
    return int(exported["count"]) if exported.get("count") is not None else None


# --- encodings and the compatibility check --------------------------------------------

def encoding(encoder_info: Mapping, quantization: Mapping, pruning: str | None = None,
             corpus_sha256: str | None = None) -> dict:
    """The encoding record of vectors made by an encoder (its ``info``), a quantisation rule
    (``scale``, ``rounding``), a pruning level name and, for documents, a corpus."""
    out = {"checkpoint_hash": encoder_info["checkpoint_hash"], "max_length": encoder_info["max_length"],
           "vocab_size": encoder_info["vocab_size"],
           "quantization": {"scale": float(quantization["scale"]), "rounding": quantization["rounding"]},
           "pruning": None if pruning is None else str(pruning)}
    if corpus_sha256 is not None:
        out["corpus_sha256"] = corpus_sha256
    return out


def encoding_of(manifest: Mapping) -> dict:
    """The encoding of a level's documents, from its export manifest."""
    return encoding(manifest["encoder"], manifest["quantization"], (manifest.get("pruning") or {}).get("name"),
                    (manifest.get("collection") or {}).get("corpus_sha256"))


def read_encoding(record) -> dict | None:
    """A query line's ``encoding`` value as an encoding (None when it is not one)."""
    if not isinstance(record, Mapping):
        return None
    try:
        return encoding(record, record["quantization"], record.get("pruning"))
    except (KeyError, TypeError, ValueError):
        return None


def query_encoding(enc: Mapping) -> dict:
    """What a query line records: the encoding without the corpus (queries do not depend on it)."""
    return {k: enc[k] for k in QUERY_FIELDS}


def _show(field: str, value) -> str:
    if field == "quantization" and isinstance(value, Mapping):
        return f"{value['rounding']} x{value['scale']:g}"
    return "unknown" if value is None else str(value)


def mismatches(expected: Mapping, found: Mapping, fields: Sequence[str] = ENCODING_FIELDS,
               against: str = "index") -> list[str]:
    """Each field of ``fields`` where ``found`` differs from ``expected``, said for a reader
    (``max length 16 differs from the index's 256``)."""
    return [f"{FIELD_LABELS[f]} {_show(f, found.get(f))} differs from the {against}'s {_show(f, expected.get(f))}"
            for f in fields if found.get(f) != expected.get(f)]


def check_compatible(expected: Mapping | None, found: Mapping | None, where: str,
                     fields: Sequence[str] = ENCODING_FIELDS, what: str = "queries", against: str = "index",
                     hint: str = " (pass --allow-mismatch to search anyway)") -> None:
    """Refuse ``found`` (e.g. queries) encoded otherwise than ``expected`` (e.g. the index) in
    any of ``fields``; nothing to compare when either side is unknown (None)."""
    if not expected or not found:
        return
    problems = mismatches(expected, found, fields, against)
    if problems:
        raise EspladeError(f"{where}: {what} and {against} were encoded differently: " + "; ".join(problems) + hint)
