"""``manifest.json``: what produced an exported collection, so every number traces back.

Written beside the collection folder of each pruning level::

    LEVEL/manifest.json
    LEVEL/collection/docs00000.jsonl ...
    LEVEL/queries.<name>.jsonl
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from esplade_eval import __version__
from esplade_eval._io import write_json
from esplade_eval.errors import InputError

MANIFEST = "manifest.json"
FORMAT = "esplade_eval/export/1"


def new_manifest(encoder_info: dict, pruning: dict, quantization: dict) -> dict:
    return {
        "format": FORMAT,
        "esplade_eval": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "encoder": encoder_info,
        "pruning": pruning,
        "quantization": quantization,
        "documents": None,
        "queries": {},
    }


def write_manifest(folder: str | os.PathLike, manifest: dict) -> Path:
    path = Path(folder) / MANIFEST
    write_json(path, manifest)
    return path


def read_manifest(folder: str | os.PathLike) -> dict:
    path = Path(folder) / MANIFEST if Path(folder).is_dir() else Path(folder)
    try:
        with open(path, encoding="utf-8") as fh:
            manifest = json.load(fh)
    except FileNotFoundError:
        raise InputError(path, "manifest not found (was this folder written by `esplade-eval export`?)") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"malformed JSON: {exc.msg}", line=exc.lineno) from None
    if manifest.get("format") != FORMAT:
        raise InputError(path, f"unknown manifest format {manifest.get('format')!r}, expected {FORMAT!r}")
    return manifest


def encoding_signature(manifest: dict) -> dict:
    """The settings that must agree between documents and queries for scores to be valid."""
    enc = manifest["encoder"]
    return {
        "checkpoint_hash": enc["checkpoint_hash"],
        "vocab_size": enc["vocab_size"],
        "quantization": {k: manifest["quantization"][k] for k in ("scale", "rounding")},
    }
