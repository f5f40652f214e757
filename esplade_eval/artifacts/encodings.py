"""The encoding of vectors, and the one compatibility check (see :mod:`esplade_eval.artifacts`)."""

from __future__ import annotations

from typing import Mapping, Sequence

from esplade_eval.errors import EspladeError

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
