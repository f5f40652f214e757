"""Test collections by name, file or folder: a user's corpus, topics and qrels, in their formats.

A collection is named by a *spec* (:func:`load_collection`, ``--collection SPEC`` on the verbs):

* a **registry name**: ``semanlink`` (built in) or an entry of a registry file (TOML, below);
* a **TOML file** holding one entry, or a **folder**: a prepared collection (used in place)
  or one whose files are named ``corpus.*``, ``topics.<split>.*``, ``qrels.<split>.*``;
* a **mapping** with the keys of a registry entry (Python, a study config).

A registry entry names the files and how to read them (formats and fields as in
:mod:`esplade_eval.data.formats`; omitted formats are detected from the content)::

    [mytitles]
    description = "in-house web titles"
    corpus = { path = "titles.jsonl.gz", fields = ["title", "contents"] }
    [mytitles.topics]                 # any split names
    train = "topics.train.tsv"
    test = { path = "topics.301-350.txt", format = "trec", fields = ["title", "description"] }
    [mytitles.qrels]
    train = "qrels.train.txt"
    test = "qrels.301-350.txt"

Relative paths are relative to the registry file. Registry files: the packaged
``collections.toml`` (``semanlink``), then ``--registry FILE``, else ``$ESPLADE_EVAL_COLLECTIONS``
(files separated by ``os.pathsep``), else ``./collections.toml`` if present. A name defined
twice is an error.

**Preparing** reads the sources once and writes the canonical form into a folder, atomically::

    corpus.jsonl         {"id", "contents"} per line (text fields joined, whitespace normalised)
    topics.<split>.tsv   qid<TAB>text
    qrels.<split>.txt    TREC qrels
    collection.json      name, sources and formats, counts, the judgment check, file hashes

Every later stage (export, index, search, evaluate, Pyserini's own CLI) reads these, so a
run never depends on the format a user brought. The folder is reused while the sources'
content and reading options are unchanged (a SHA-256 fingerprint), rebuilt otherwise.
:attr:`Collection.fingerprint` hashes the canonical files, so artifacts keyed by it are
never reused across collections and are shared by identical content.

**Counts and the judgment check**, printed whenever a collection is loaded: documents,
queries and judgments per split; judged queries missing from the topics and judged
documents missing from the corpus are warnings with a count and examples (they score 0
or cannot be retrieved), and an error when *none* is present (ids that cannot match).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from esplade_eval.data.formats import FileFormat, detect, iter_corpus, read_qrels, topics_as
from esplade_eval.data.prepared import (
    CORPUS,
    RECORD,
    Collection,
    describe_summary,
    fingerprint_of,
    sha256_file,
    summarise,
    write_record,
)
from esplade_eval.errors import EspladeError, InputError

__all__ = ["Collection", "CollectionSource", "FileSpec", "collection_from_config", "describe_summary",
           "fingerprint_of", "load_collection", "load_registry", "parse_registry", "prepare", "registry_files",
           "resolve_spec", "sha256_file", "summarise", "write_record"]

PACKAGED_REGISTRY = Path(__file__).with_name("collections.toml")
REGISTRY_ENV = "ESPLADE_EVAL_COLLECTIONS"
LOCAL_REGISTRY = "collections.toml"
DEFAULT_ROOT = Path("artifacts") / "collections"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# --- sources: where the user's files are and how to read them -------------------------------

@dataclass(frozen=True)
class FileSpec:
    """One source file and how to read it; ``key`` says where it was defined (for errors)."""

    path: Path
    format: str | None = None
    fields: tuple[str, ...] | None = None
    id_field: str | None = None
    separator: str = " "
    key: str = ""

    def detect(self, kind: str) -> FileFormat:
        if not self.path.is_file():
            raise InputError(self.path, f"{kind} file not found (from {self.key})")
        return detect(self.path, kind, self.format, self.id_field, self.fields, self.separator)


@dataclass
class CollectionSource:
    """A collection before preparation: a built-in builder, or files per split."""

    name: str
    corpus: FileSpec | None = None
    topics: dict[str, FileSpec] = field(default_factory=dict)
    qrels: dict[str, FileSpec] = field(default_factory=dict)
    builtin: str | None = None
    options: dict = field(default_factory=dict)
    description: str = ""
    defined_in: str = ""
    topics_rule: str = ""  # a folder's rule for each split's topics (esplade_eval.data.folders)

    def formats(self) -> dict[str, FileFormat]:
        """Every file's :class:`FileFormat`, by ``corpus`` / ``topics.<split>`` / ``qrels.<split>``."""
        out = {"corpus": self.corpus.detect("corpus")}
        out |= {f"topics.{s}": spec.detect("topics") for s, spec in self.topics.items()}
        out |= {f"qrels.{s}": spec.detect("qrels") for s, spec in self.qrels.items()}
        return out

    def files(self) -> dict[str, Path]:
        return {"corpus": self.corpus.path, **{f"topics.{s}": f.path for s, f in self.topics.items()},
                **{f"qrels.{s}": f.path for s, f in self.qrels.items()}}

    def describe_sources(self, formats: Mapping[str, FileFormat]) -> dict:
        """``{key: {"path", "sha256", format options}}``: what decides the prepared content."""
        return {key: {"path": str(path.resolve()), "sha256": sha256_file(path), **formats[key].options()}
                for key, path in self.files().items()}


# --- specs: registry, TOML files, mappings, folders ---------------------------------------

FILE_KEYS = {"path", "format", "fields", "id_field", "separator"}
ENTRY_KEYS = {"corpus", "topics", "qrels", "description"}
BUILTIN_KEYS = {"builtin", "description", "min_docs"}
BUILTINS = ("semanlink",)


def source_from_mapping(name: str, entry: Mapping, base: Path, where: str) -> CollectionSource:
    """Validate one registry entry (or mapping); errors read ``where: name.key: problem``."""
    def fail(key: str, problem: str):
        raise InputError(where, f"{name}{'.' + key if key else ''}: {problem}")

    if not isinstance(entry, Mapping):
        fail("", "expected a table describing a collection")
    if not _NAME.match(name):
        fail("", "a collection name uses letters, digits, '_', '.', '-' and starts with a letter or digit")
    if "builtin" in entry:
        unknown = set(entry) - BUILTIN_KEYS
        if unknown:
            fail(sorted(unknown)[0], f"unknown key for a built-in collection (expected {', '.join(sorted(BUILTIN_KEYS))})")
        if entry["builtin"] not in BUILTINS:
            fail("builtin", f"unknown built-in {entry['builtin']!r} (known: {', '.join(BUILTINS)})")
        min_docs = entry.get("min_docs", 5)
        if isinstance(min_docs, bool) or not isinstance(min_docs, int) or min_docs < 1:
            fail("min_docs", f"expected a positive integer, got {min_docs!r}")
        return CollectionSource(name, builtin=entry["builtin"], options={"min_docs": min_docs},
                                description=str(entry.get("description", "")), defined_in=where)
    unknown = set(entry) - ENTRY_KEYS
    if unknown:
        fail(sorted(unknown)[0], f"unknown key (expected {', '.join(sorted(ENTRY_KEYS))}, or builtin)")
    for key in ("corpus", "topics"):
        if key not in entry:
            fail(key, "missing")
    corpus = _file_spec(entry["corpus"], base, f"{name}.corpus", fail, kind="corpus")
    splits = {}
    for key in ("topics", "qrels"):
        table = entry.get(key, {})
        if not isinstance(table, Mapping) or (key == "topics" and not table):
            fail(key, "expected a table of split = file")
        for split, value in table.items():
            if not _NAME.match(split):
                fail(f"{key}.{split}", "a split name uses letters, digits, '_', '.', '-'")
            splits.setdefault(key, {})[split] = _file_spec(value, base, f"{name}.{key}.{split}", fail, kind=key)
    topics, qrels = splits.get("topics", {}), splits.get("qrels", {})
    for split in qrels:
        if split not in topics:
            fail(f"qrels.{split}", f"no topics for split {split!r} (topics: {', '.join(topics)})")
    return CollectionSource(name, corpus, topics, qrels, description=str(entry.get("description", "")),
                            defined_in=where)


def _file_spec(value, base: Path, key: str, fail: Callable, kind: str) -> FileSpec:
    short = key.split(".", 1)[1]
    if isinstance(value, str):
        value = {"path": value}
    if not isinstance(value, Mapping):
        fail(short, "expected a path or a table {path = ..., format = ...}")
    unknown = set(value) - (FILE_KEYS if kind != "qrels" else {"path", "format"})
    if unknown:
        fail(f"{short}.{sorted(unknown)[0]}", "unknown key")
    if not isinstance(value.get("path"), str) or not value["path"]:
        fail(f"{short}.path", "missing (a file path)")
    from esplade_eval.data.formats import FORMATS

    fmt = value.get("format")
    if fmt is not None and fmt not in FORMATS[kind]:
        fail(f"{short}.format", f"{fmt!r} is not a {kind} format ({', '.join(FORMATS[kind])})")
    fields = value.get("fields")
    if fields is not None:
        if isinstance(fields, str):
            fields = [fields]
        if not isinstance(fields, list) or not fields or not all(isinstance(f, str) and f for f in fields):
            fail(f"{short}.fields", "expected a list of field names")
        fields = tuple(fields)
    for opt in ("id_field", "separator"):
        if opt in value and not isinstance(value[opt], str):
            fail(f"{short}.{opt}", "expected a string")
    path = Path(os.path.expanduser(value["path"]))
    return FileSpec(path if path.is_absolute() else base / path, fmt, fields, value.get("id_field"),
                    value.get("separator", " "), key)


def parse_registry(path: str | os.PathLike) -> dict[str, CollectionSource]:
    """Every entry of one registry file, validated."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise EspladeError(f"{path}: registry file not found") from None
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        raise InputError(path, f"not valid TOML: {exc}", line=int(m.group(1)) if m else None) from None
    return {name: source_from_mapping(name, entry, path.parent.resolve(), str(path)) for name, entry in data.items()}


def registry_files(registry: str | os.PathLike | None = None) -> list[Path]:
    """The packaged registry, then ``registry``, else ``$ESPLADE_EVAL_COLLECTIONS``, else ``./collections.toml``."""
    if registry:
        user = [Path(registry)]
    elif os.environ.get(REGISTRY_ENV):
        user = [Path(p) for p in os.environ[REGISTRY_ENV].split(os.pathsep) if p]
    else:
        user = [Path(LOCAL_REGISTRY)] if Path(LOCAL_REGISTRY).is_file() else []
    return [PACKAGED_REGISTRY, *user]


def load_registry(registry: str | os.PathLike | None = None) -> dict[str, CollectionSource]:
    """``{name: source}`` over :func:`registry_files`; a name defined twice is an error."""
    entries: dict[str, CollectionSource] = {}
    for path in registry_files(registry):
        for name, source in parse_registry(path).items():
            if name in entries:
                raise InputError(path, f"{name}: already defined in {entries[name].defined_in}")
            entries[name] = source
    return entries


def source_from_folder(folder: Path) -> CollectionSource:
    """A BEIR folder, a SMART folder or files named by role (:mod:`esplade_eval.data.folders`)."""
    from dataclasses import replace

    from esplade_eval.data.folders import folder_entry

    entry, rule = folder_entry(folder)
    return replace(source_from_mapping(folder.name, entry, folder, str(folder)), topics_rule=rule)


def resolve_spec(spec, registry: str | os.PathLike | None = None,
                 base: str | os.PathLike | None = None) -> CollectionSource | Collection:
    """A spec (see the module docstring) as a source to prepare, or a prepared :class:`Collection`."""
    if isinstance(spec, Collection):
        return spec
    if isinstance(spec, CollectionSource):
        return spec
    if isinstance(spec, Mapping):
        spec = dict(spec)
        name = spec.pop("name", "collection")
        return source_from_mapping(str(name), spec, Path(base or "."), "collection spec")
    spec = os.fspath(spec)
    entries = load_registry(registry)
    if spec in entries:
        return entries[spec]
    path = Path(spec)
    if path.is_file() and path.suffix == ".toml":
        found = parse_registry(path)
        if len(found) != 1:
            raise EspladeError(f"{path}: holds {len(found)} collections ({', '.join(found) or 'none'}); "
                               f"name one with --registry {path} --collection NAME")
        return next(iter(found.values()))
    if path.is_dir():
        if (path / RECORD).is_file() or (path / "stats.json").is_file():
            return Collection(path)
        return source_from_folder(path)
    raise EspladeError(f"unknown collection {spec!r}: not a registry name ({', '.join(entries)}; registries: "
                       f"{', '.join(map(str, registry_files(registry)))}), a .toml file or a folder")


# --- preparing --------------------------------------------------------------------------

def load_collection(spec, root: str | os.PathLike | None = None, registry: str | os.PathLike | None = None,
                    base: str | os.PathLike | None = None, echo: Callable[[str], None] | None = print) -> Collection:
    """The prepared :class:`Collection` for ``spec``; prints its counts and the judgment check.

    A source is prepared into ``root`` (default ``artifacts/collections/<name>``), reused when
    ``root`` already holds it; a prepared folder given as the spec is used in place. ``base``
    resolves the relative paths of a mapping (default: the working folder).
    """
    found = resolve_spec(spec, registry, base)
    if isinstance(found, CollectionSource):
        root = Path(root) if root is not None else DEFAULT_ROOT / found.name
        found = (_prepare_builtin if found.builtin else prepare)(found, root, echo)
    for line in found.describe():
        if echo:
            echo(line)
    return found


def _own_or_empty(root: Path) -> None:
    """Refuse to replace a folder that is not a prepared collection: it may hold somebody's files."""
    if root.exists() and any(root.iterdir()) and not ((root / RECORD).is_file() or (root / "stats.json").is_file()):
        raise EspladeError(f"{root}: exists and is not a prepared collection (no {RECORD}); give an empty or new "
                           "folder")


def prepare(source: CollectionSource, root: str | os.PathLike, echo: Callable[[str], None] | None = print) -> Collection:
    """Read the sources, check them, write the canonical folder (atomically), or reuse it."""
    from esplade_eval._io import atomic_dir, atomic_file
    from esplade_eval.data.trec import corpus_line, write_qrels, write_topics

    root = Path(root)
    formats = source.formats()
    described = source.describe_sources(formats)
    key = fingerprint_of({"name": source.name, "sources": {k: {n: v for n, v in d.items() if n != "path"}
                                                            for k, d in described.items()},
                          **({"topics_rule": source.topics_rule} if source.topics_rule else {})})
    existing = Collection(root)
    if existing.record.get("source_fingerprint") == key and existing.corpus.is_file():
        if echo:
            echo(f"collection {source.name}: {root} is up to date with its sources")
        return existing
    _own_or_empty(root)
    if echo:
        echo(f"collection {source.name}: preparing {root} from")
        for k, d in described.items():
            echo(f"  {k}: {d['path']} ({formats[k].describe()})")
        if source.topics_rule:
            echo(f"  {source.description}")
    with atomic_dir(root, overwrite=True) as tmp:
        ids, empty = set(), 0
        with atomic_file(tmp / CORPUS) as fh:
            for docid, text in iter_corpus(source.corpus.path, formats["corpus"]):
                fh.write(corpus_line(docid, text))
                ids.add(docid)
                empty += not text.strip()
        if not ids:
            raise InputError(source.corpus.path, "corpus has no documents")
        topics = {s: topics_as(f.path, formats[f"topics.{s}"]) for s, f in source.topics.items()}
        qrels = {s: read_qrels(f.path, formats[f"qrels.{s}"].format) for s, f in source.qrels.items()}
        if source.topics_rule:
            from esplade_eval.data.folders import apply_topics_rule

            topics = apply_topics_rule(source.topics_rule, topics, qrels)
        for split, topic_map in topics.items():
            write_topics(tmp / f"topics.{split}.tsv", topic_map)
        for split, judged in qrels.items():
            write_qrels(tmp / f"qrels.{split}.txt", judged)
        summary = summarise(ids, empty, topics, qrels, {s: f.path for s, f in source.qrels.items()})
        write_record(tmp, source.name, described, key, summary, source.description)
    return Collection(root)


def _prepare_builtin(source: CollectionSource, root: Path, echo) -> Collection:
    from esplade_eval.data.semanlink import build_semanlink, semanlink_fingerprint

    min_docs = source.options["min_docs"]
    existing = Collection(root)
    stats = root / "stats.json"
    if existing.record:
        current = existing.record.get("source_fingerprint") == semanlink_fingerprint(min_docs)
    else:  # built before collection.json existed: the build depends on min_docs only
        current = stats.is_file() and json.loads(stats.read_text()).get("min_docs") == min_docs
    if current:
        return existing
    _own_or_empty(root)
    if echo:
        echo(f"collection {source.name}: building {root} from the cherche carrier")
    return build_semanlink(root, min_docs=min_docs, overwrite=root.exists())


def collection_from_config(value=None, default_root: str | os.PathLike = "artifacts/semanlink",
                           registry: str | os.PathLike | None = None, echo: Callable[[str], None] | None = print
                           ) -> Collection:
    """The ``collection`` entry of a study config: a spec as for ``--collection``, or (as configs
    had it before collections were named) the folder where Semanlink is built.

    None builds or reuses Semanlink in ``default_root``; a registry name, a ``.toml`` file, a
    mapping or a non-empty folder is a spec; any other path is where Semanlink goes.
    """
    if value is None:
        return load_collection("semanlink", root=default_root, registry=registry, echo=echo)
    if isinstance(value, (Mapping, Collection)):
        return load_collection(value, registry=registry, echo=echo)
    path = Path(value)
    named = str(value) in load_registry(registry) or path.suffix == ".toml"
    if named or (path.is_dir() and any(path.iterdir())):
        return load_collection(value, registry=registry, echo=echo)
    return load_collection("semanlink", root=path, registry=registry, echo=echo)
