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
from typing import Callable, Sequence

import numpy as np

from esplade_eval.errors import EspladeError
from esplade_eval.model.checkpoint import OUTPUT_VOCAB, check_max_length, checkpoint_hash, resolve_checkpoint
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


def _origin(name: str = "<in-memory>", checkpoint_hash: str = "", where: str | os.PathLike | None = None):
    return name, checkpoint_hash, where


class SpladeEncoder:
    """Encode texts into sparse float vectors over the output vocabulary.

    The same object serves inference (:meth:`encode`: sparse vectors, no gradients) and
    training (:meth:`weights` / :meth:`text_weights`: differentiable dense weights), so a
    model is scored during training exactly as it is exported after it.

    >>> enc = SpladeEncoder.from_checkpoint("splade-tiny", device="cpu")
    >>> batch = enc.encode(["boiling point of water"])
    >>> top = sorted(batch.to_dicts(enc.terms)[0].items(), key=lambda kv: -kv[1])[:5]
    >>> {"boiling", "water"} <= {term for term, _ in top}
    True
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
        self._head = find_head(model)

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
        check_max_length(path, max_length)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()  # "Loading weights" bars on every load
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForMaskedLM.from_pretrained(path)
        except (OSError, ValueError, KeyError) as exc:
            raise EspladeError(f"{path}: cannot load as a masked-LM checkpoint: {exc}") from exc
        model.eval().to(device)
        vocab_file = Path(path) / OUTPUT_VOCAB
        vocab = read_output_vocab(vocab_file) if vocab_file.is_file() else None
        return cls.from_model(model, tokenizer, vocab, max_length=max_length, device=device, batch_size=batch_size,
                              dtype=dtype, name=str(name_or_path), checkpoint_hash=checkpoint_hash(path),
                              where=vocab_file if vocab is not None else path)

    @classmethod
    def from_model(cls, model, tokenizer, vocab: Sequence[str] | None = None, max_length: int = 256,
                   device: str = "cpu", batch_size: int = 128, dtype: str = "float32", **origin) -> "SpladeEncoder":
        """An encoder around a model in memory, e.g. one being trained (nothing read from disk).

        ``origin``, where the model comes from: ``name`` (default ``"<in-memory>"``),
        ``checkpoint_hash`` (default ``""``), ``where`` (the file named in errors). ``vocab`` names the head's output dimensions (an ESPLADE output vocabulary); None
        means the tokenizer's vocabulary (a plain SPLADE head). A size that differs from the
        head's output is an error naming ``where`` (default: ``name``). The model is used
        where it is: ``device`` is where inputs are sent.
        """
        name, checkpoint_hash, where = _origin(**origin)
        out_dim = model.get_output_embeddings().weight.shape[0] if model.get_output_embeddings() is not None \
            else model.config.vocab_size
        if vocab is None:
            inv = {i: t for t, i in tokenizer.get_vocab().items()}
            vocab, source = [inv.get(i, f"[id{i}]") for i in range(out_dim)], "tokenizer"
        else:
            vocab, source = list(vocab), OUTPUT_VOCAB
        if len(vocab) != out_dim:
            raise EspladeError(f"{where or name}: output vocabulary has {len(vocab)} entries "
                               f"but the MLM head predicts {out_dim}")
        info = EncoderInfo(checkpoint=name, checkpoint_hash=checkpoint_hash, model_type=model.config.model_type,
                           tokenizer=type(tokenizer).__name__, vocab_source=source, vocab_size=len(vocab),
                           max_length=max_length)
        return cls(model, tokenizer, export_terms(vocab), info, device=device, batch_size=batch_size, dtype=dtype)

    @property
    def max_length(self) -> int:
        return self.info.max_length

    def tokenize(self, texts: Sequence[str], max_length: int | None = None) -> list[list[int]]:
        """WordPiece ids with special tokens, cut at ``max_length`` (default: the encoder's)."""
        enc = self.tokenizer(list(texts), max_length=max_length or self.max_length, truncation=True,
                             add_special_tokens=True, return_attention_mask=False, return_token_type_ids=False)
        return enc["input_ids"]

    def pad(self, batch_ids: Sequence[Sequence[int]]):
        """``(input_ids, attention_mask)`` tensors on the encoder's device, right-padded."""
        import torch

        width = max(len(x) for x in batch_ids)
        pad = self.tokenizer.pad_token_id or 0
        input_ids = torch.full((len(batch_ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch_ids), width), dtype=torch.long)
        for r, x in enumerate(batch_ids):
            input_ids[r, :len(x)] = torch.tensor(x, dtype=torch.long)
            mask[r, :len(x)] = 1
        return input_ids.to(self.device), mask.to(self.device)

    def weights(self, input_ids, attention_mask):
        """Differentiable SPLADE weights ``(batch, terms)`` in float32.

        Runs in the caller's grad mode and autocast (training backpropagates through it);
        the MLM head runs on the real tokens only, and logits are cast to float32 before
        pooling, so a bf16 forward still pools and activates in full precision. A row
        without a token of its own (special tokens only) is all zeros, as in :meth:`encode`.
        """
        import torch

        special = torch.tensor(sorted(self.tokenizer.all_special_ids), device=input_ids.device)
        has_content = (~torch.isin(input_ids, special) & attention_mask.bool()).any(dim=1)
        return self._pooled(input_ids, attention_mask, upcast=True) * has_content.unsqueeze(1)

    def text_weights(self, texts: Sequence[str], max_length: int | None = None):
        """:meth:`weights` of ``texts`` (tokenised, cut at ``max_length``, padded)."""
        return self.weights(*self.pad(self.tokenize(texts, max_length)))

    def encode(self, texts: Sequence[str], progress: Callable[[int], object] | None = None) -> SparseBatch:
        """Encode texts (any order, any lengths) into one batch, rows in input order.

        A text without a single token of its own (empty, blanks, characters the tokenizer
        drops) is an empty vector: the model is not run on its special tokens alone, whose
        expansion would otherwise retrieve documents for a text that says nothing.
        ``progress``, when given, is called with the number of texts of each encoded batch
        (e.g. a progress bar's ``update``).
        """
        if not len(texts):
            return SparseBatch.concat([])
        ids = self.tokenize(texts)
        special = set(self.tokenizer.all_special_ids)
        content = [i for i, x in enumerate(ids) if any(t not in special for t in x)]
        if len(content) < len(ids):
            if progress is not None:
                progress(len(ids) - len(content))
            batch = self._encode_sorted([ids[i] for i in content], progress) if content else SparseBatch.concat([])
            return _spread_rows(batch, np.asarray(content, dtype=np.int64), len(ids))
        return self._encode_sorted(ids, progress)

    def _encode_sorted(self, ids: list[list[int]], progress) -> SparseBatch:
        """Encode token ids sorted by length (little padding), rows returned in input order."""
        order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
        parts, positions = [], []
        for s in range(0, len(order), self.batch_size):
            chunk = order[s:s + self.batch_size]
            parts.append(self._encode_ids([ids[i] for i in chunk]))
            positions.extend(chunk)
            if progress is not None:
                progress(len(chunk))
        sorted_batch = SparseBatch.concat(parts)
        inverse = np.empty(len(positions), dtype=np.int64)
        inverse[np.asarray(positions)] = np.arange(len(positions))
        return _take_rows(sorted_batch, inverse)

    def _encode_ids(self, batch_ids: list[list[int]]) -> SparseBatch:
        import torch

        input_ids, mask = self.pad(batch_ids)
        with torch.inference_mode(), _autocast(self.device, self.dtype):
            weights = self._pooled(input_ids, mask)
        weights = weights.float().cpu()
        rows, cols = torch.nonzero(weights, as_tuple=True)
        counts = torch.bincount(rows, minlength=len(batch_ids)).numpy()
        indptr = np.zeros(len(batch_ids) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return SparseBatch(indptr, cols.numpy().astype(np.int32), weights[rows, cols].numpy().astype(np.float32))

    def _pooled(self, input_ids, mask, upcast: bool = False):
        from esplade_eval.model.pooling import splade_max_pool, splade_segment_pool

        if self._head is None:  # generic path: full logits, masked max
            logits = self.model(input_ids=input_ids, attention_mask=mask).logits
            return splade_max_pool(logits.float() if upcast else logits, mask)
        base, head = self._head
        hidden = base(input_ids=input_ids, attention_mask=mask)[0]
        logits = head(hidden[mask.bool()])  # (real tokens, terms): rows in text order
        return splade_segment_pool(logits.float() if upcast else logits, mask.sum(1))


def _spread_rows(batch: SparseBatch, rows: np.ndarray, n: int) -> SparseBatch:
    """``n`` rows: row ``rows[i]`` is ``batch``'s row ``i`` (``rows`` ascending), the others empty."""
    lengths = np.zeros(n, dtype=np.int64)
    lengths[rows] = batch.lengths()
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return SparseBatch(indptr, batch.indices, batch.data)


def _take_rows(batch: SparseBatch, rows: np.ndarray) -> SparseBatch:
    """Rows of ``batch`` in the order ``rows`` (vectorised gather)."""
    lengths = batch.lengths()[rows]
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    starts = batch.indptr[rows]
    gather = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
    return SparseBatch(indptr, batch.indices[gather], batch.data[gather])


def find_head(model):
    """``(base encoder, MLM head)`` of a masked-LM, or None when it does not expose them.

    With both parts the head runs on the real tokens only (packed, no padding rows);
    without them the encoder pools the model's full logits (the generic path).
    """
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
