"""What the artifacts record: export manifests, index manifests and the shards of a sharded
index, read and checked (a missing or mistyped field is an error naming it)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from esplade_eval.artifacts.names import (
    COLLECTION_DIR,
    EXPORT_MANIFEST,
    INDEX_MANIFEST,
)
from esplade_eval.errors import InputError

EXPORT_FORMAT = "esplade_eval/export/1"
#: the ``format`` of a sharded index's top-level index manifest
SHARDED_INDEX_FORMAT = "esplade_eval/sharded-index/1"


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
