"""The SPLADE / ESPLADE encoder: one model for documents and queries.

A document or query becomes ``w[t] = max_i log(1 + ReLU(logit[i, t]))`` over its tokens
``i`` (attention-masked), for every output term ``t``. The output vocabulary is the
checkpoint's ``output_vocab.txt`` (ESPLADE: whole-word unigrams, one per line, its length
equal to the MLM head's output size) or else the tokenizer's vocabulary (plain SPLADE).

Speed (see ``benchmarks/encode.py``): texts are sorted by length so batches carry little
padding; the MLM head runs on the packed real tokens only (no padding rows); the max is
taken over logits before the activation; conversion to sparse form is one ``nonzero``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from esplade_eval.errors import EspladeError
from esplade_eval.model.checkpoint import OUTPUT_VOCAB, checkpoint_hash, resolve_checkpoint
from esplade_eval.sparse.vectors import SparseBatch

log = logging.getLogger(__name__)


def export_terms(vocab: Sequence[str]) -> list[str]:
    """Whitespace-free, unique strings for each output dimension.

    Whitespace inside a term becomes ``_``; an empty term or a term that would collide
    with an earlier one gets ``#<index>`` appended, so every dimension stays addressable.
    """
    out: list[str] = []
    seen: set[str] = set()
    for i, term in enumerate(vocab):
        t = "_".join(str(term).split())
        if not t or t in seen:
            t = f"{t}#{i}"
        seen.add(t)
        out.append(t)
    return out


def read_output_vocab(path: str | os.PathLike) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh]


@dataclass
class EncoderInfo:
    checkpoint: str
    checkpoint_hash: str
    model_type: str
    tokenizer: str
    vocab_source: str
    vocab_size: int
    max_length: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class SpladeEncoder:
    """Encode texts into sparse float vectors over the output vocabulary.

    >>> enc = SpladeEncoder.from_checkpoint("splade-tiny")      # doctest: +SKIP
    >>> batch = enc.encode(["boiling point of water"])           # doctest: +SKIP
    >>> sorted(batch.to_dicts(enc.terms)[0].items(), key=lambda kv: -kv[1])[:3]  # doctest: +SKIP
    """

    def __init__(self, model, tokenizer, terms: list[str], info: EncoderInfo, device: str = "cpu",
                 batch_size: int = 128, dtype: str = "float32"):
        self.model = model
        self.tokenizer = tokenizer
        self.terms = terms
        self.info = info
        self.device = device
        self.batch_size = batch_size
        self.dtype = dtype
        self._head = _find_head(model)

    @classmethod
    def from_checkpoint(cls, name_or_path: str | os.PathLike, max_length: int = 256, device: str | None = None,
                        threads: int | None = None, batch_size: int = 128, dtype: str = "float32") -> "SpladeEncoder":
        import torch
        from transformers import AutoModelForMaskedLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        try:  # registers the ESPLADE model class with the Auto* factories, when present
            import esplade_eval.model.esplade  # noqa: F401
        except ModuleNotFoundError as exc:
            if exc.name != "esplade_eval.model.esplade":
                raise
        if threads:
            torch.set_num_threads(threads)
        path = resolve_checkpoint(name_or_path)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()  # "Loading weights" bars on every load
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForMaskedLM.from_pretrained(path)
        except (OSError, ValueError, KeyError) as exc:
            raise EspladeError(f"{path}: cannot load as a masked-LM checkpoint: {exc}") from exc
        model.eval().to(device)
        out_dim = model.get_output_embeddings().weight.shape[0] if model.get_output_embeddings() is not None \
            else model.config.vocab_size
        vocab_file = Path(path) / OUTPUT_VOCAB
        if vocab_file.is_file():
            vocab = read_output_vocab(vocab_file)
            source = OUTPUT_VOCAB
        else:
            inv = {i: t for t, i in tokenizer.get_vocab().items()}
            vocab = [inv.get(i, f"[id{i}]") for i in range(out_dim)]
            source = "tokenizer"
        if len(vocab) != out_dim:
            raise EspladeError(
                f"{vocab_file if source == OUTPUT_VOCAB else path}: output vocabulary has {len(vocab)} entries "
                f"but the MLM head predicts {out_dim}"
            )
        info = EncoderInfo(
            checkpoint=str(name_or_path), checkpoint_hash=checkpoint_hash(path), model_type=model.config.model_type,
            tokenizer=type(tokenizer).__name__, vocab_source=source, vocab_size=len(vocab), max_length=max_length,
        )
        return cls(model, tokenizer, export_terms(vocab), info, device=device, batch_size=batch_size, dtype=dtype)

    @property
    def max_length(self) -> int:
        return self.info.max_length

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        enc = self.tokenizer(list(texts), max_length=self.max_length, truncation=True, add_special_tokens=True,
                             return_attention_mask=False, return_token_type_ids=False)
        return enc["input_ids"]

    def encode(self, texts: Sequence[str]) -> SparseBatch:
        """Encode texts (any order, any lengths) into one batch, rows in input order."""
        if not len(texts):
            return SparseBatch.concat([])
        ids = self.tokenize(texts)
        order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
        parts, positions = [], []
        for s in range(0, len(order), self.batch_size):
            chunk = order[s:s + self.batch_size]
            parts.append(self._encode_ids([ids[i] for i in chunk]))
            positions.extend(chunk)
        sorted_batch = SparseBatch.concat(parts)
        inverse = np.empty(len(positions), dtype=np.int64)
        inverse[np.asarray(positions)] = np.arange(len(positions))
        return _take_rows(sorted_batch, inverse)

    def _encode_ids(self, batch_ids: list[list[int]]) -> SparseBatch:
        import torch

        lengths = [len(x) for x in batch_ids]
        width = max(lengths)
        pad = self.tokenizer.pad_token_id or 0
        input_ids = torch.full((len(batch_ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch_ids), width), dtype=torch.long)
        for r, x in enumerate(batch_ids):
            input_ids[r, :len(x)] = torch.tensor(x, dtype=torch.long)
            mask[r, :len(x)] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        with torch.inference_mode(), _autocast(self.device, self.dtype):
            weights = self._pooled(input_ids, mask, torch.tensor(lengths, device=self.device))
        weights = weights.float().cpu()
        rows, cols = torch.nonzero(weights, as_tuple=True)
        counts = torch.bincount(rows, minlength=len(batch_ids)).numpy()
        indptr = np.zeros(len(batch_ids) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return SparseBatch(indptr, cols.numpy().astype(np.int32), weights[rows, cols].numpy().astype(np.float32))

    def _pooled(self, input_ids, mask, lengths):
        from esplade_eval.model.pooling import splade_max_pool, splade_segment_pool

        if self._head is None:  # generic path: full logits, masked max
            logits = self.model(input_ids=input_ids, attention_mask=mask).logits
            return splade_max_pool(logits, mask)
        base, head = self._head
        hidden = base(input_ids=input_ids, attention_mask=mask)[0]
        packed = hidden[mask.bool()]  # (real tokens, hidden): rows in text order
        return splade_segment_pool(head(packed), lengths)


def _take_rows(batch: SparseBatch, rows: np.ndarray) -> SparseBatch:
    """Rows of ``batch`` in the order ``rows`` (vectorised gather)."""
    lengths = batch.lengths()[rows]
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    starts = batch.indptr[rows]
    gather = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
    return SparseBatch(indptr, batch.indices[gather], batch.data[gather])


def _find_head(model):
    """(base encoder, MLM head) for packed evaluation, or None for the generic path."""
    head = getattr(model, "mlm_head", None)  # ESPLADE models expose their head explicitly
    if head is None:
        head = getattr(model, "cls", None) or getattr(model, "lm_head", None)
    base = getattr(model, "base_model", None)
    if head is None or base is None or base is model:
        return None
    return base, head


class _autocast:
    def __init__(self, device: str, dtype: str):
        self.enabled = dtype == "bfloat16"
        self.device = device.split(":")[0]

    def __enter__(self):
        if self.enabled:
            import torch

            self._ctx = torch.autocast(self.device, dtype=torch.bfloat16)
            self._ctx.__enter__()

    def __exit__(self, *exc):
        if self.enabled:
            self._ctx.__exit__(*exc)
