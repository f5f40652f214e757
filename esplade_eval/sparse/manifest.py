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
    enc, q = manifest["encoder"], manifest["quantization"]
    return {"checkpoint": enc["checkpoint_hash"], "max length": enc["max_length"], "vocabulary size": enc["vocab_size"],
            "quantisation": f"{q['rounding']} x{q['scale']:g}"}


def check_compatible(index_manifest: dict | None, query_manifest: dict | None, where: str) -> None:
    """Refuse queries encoded with another checkpoint, max length or quantisation than the index.

    A missing manifest on either side (a collection not written by ``export``) is not checked.
    """
    if not index_manifest or not query_manifest:
        return
    from esplade_eval.errors import EspladeError

    a, b = encoding_signature(index_manifest), encoding_signature(query_manifest)
    problems = [f"{key} {b[key]} differs from the index's {a[key]}" for key in a if a[key] != b[key]]
    if problems:
        raise EspladeError(f"{where}: queries and index were encoded differently: " + "; ".join(problems)
                           + " (pass --allow-mismatch to search anyway)")


def pruning_of(manifest: dict):
    from esplade_eval.sparse.prune import Pruning

    return Pruning(**{k: manifest["pruning"][k] for k in ("doc_top_k", "query_top_k", "min_weight")})


def quantizer_of(manifest: dict):
    from esplade_eval.sparse.quantize import Quantizer

    return Quantizer(manifest["quantization"]["scale"], manifest["quantization"]["rounding"])
