"""Test-time pruning of float weights, before quantisation.

>>> Pruning(doc_top_k=64, query_top_k=16).name
'd64-q16'
>>> Pruning.parse("d64-q16") == Pruning(doc_top_k=64, query_top_k=16)
True
>>> Pruning().name
'full'
>>> [p.name for p in sorted([Pruning(8, 4), Pruning(), Pruning(32, 16)])]   # unpruned first, then stricter
['full', 'd32-q16', 'd8-q4']
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from esplade_eval.sparse.vectors import SparseBatch


@functools.total_ordering
@dataclass(frozen=True)
class Pruning:
    """Keep at most ``doc_top_k`` / ``query_top_k`` highest weights and only weights
    ``>= min_weight``; ``None`` turns a rule off. Ties in weight keep the smaller term id.

    Levels order from unpruned to strictest (:meth:`sort_key`), the order of every table.
    """

    doc_top_k: int | None = None
    query_top_k: int | None = None
    min_weight: float | None = None

    def __post_init__(self):
        for name in ("doc_top_k", "query_top_k"):
            k = getattr(self, name)
            if k is not None and (not isinstance(k, (int, np.integer)) or k < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {k!r}")
        if self.min_weight is not None and not (0 <= self.min_weight < float("inf")):
            raise ValueError(f"min_weight must be a finite number >= 0 or None, got {self.min_weight!r}")

    @property
    def name(self) -> str:
        parts = []
        if self.doc_top_k is not None:
            parts.append(f"d{self.doc_top_k}")
        if self.query_top_k is not None:
            parts.append(f"q{self.query_top_k}")
        if self.min_weight is not None:
            # short form when it reads back exactly, else repr: parse(name) must give the same object
            text = f"{self.min_weight:g}"
            parts.append(f"w{text if float(text) == self.min_weight else repr(float(self.min_weight))}")
        return "-".join(parts) or "full"

    def __str__(self) -> str:
        return self.name

    def sort_key(self) -> tuple:
        """Unpruned first, then larger document budgets, then larger query budgets, then
        lower weight thresholds (``None`` is no limit); the name breaks the remaining ties."""
        inf = float("inf")
        return (-(self.doc_top_k or inf), -(self.query_top_k or inf), self.min_weight or 0.0, self.name)

    def __lt__(self, other) -> bool:
        if not isinstance(other, Pruning):
            return NotImplemented
        return self.sort_key() < other.sort_key()

    @classmethod
    def from_dict(cls, record) -> "Pruning":
        """Inverse of :meth:`to_dict` (a manifest's ``pruning``)."""
        return cls(**{k: record.get(k) for k in ("doc_top_k", "query_top_k", "min_weight")})

    @classmethod
    def parse(cls, text: str) -> "Pruning":
        """Inverse of :attr:`name` (``full``, ``d64``, ``d64-q16``, ``q8-w0.5``)."""
        text = text.strip()
        if text == "full":
            return cls()
        kwargs: dict = {}
        # split only before a rule letter: a weight such as 1e-05 contains a '-' of its own
        for part in re.split(r"-(?=[dqw])", text):
            m = re.fullmatch(r"([dqw])(\d+(?:\.\d*)?(?:e[-+]?\d+)?)", part)
            if not m:
                raise ValueError(f"bad pruning name {text!r}: expected 'full' or parts like d64, q16, w0.5")
            key = {"d": "doc_top_k", "q": "query_top_k", "w": "min_weight"}[m.group(1)]
            if key in kwargs:
                raise ValueError(f"bad pruning name {text!r}: {m.group(1)} given twice")
            kwargs[key] = float(m.group(2)) if key == "min_weight" else int(m.group(2))
        return cls(**kwargs)

    def to_dict(self) -> dict:
        return {"name": self.name, "doc_top_k": self.doc_top_k, "query_top_k": self.query_top_k,
                "min_weight": self.min_weight}

    def apply(self, batch: SparseBatch, side: str) -> SparseBatch:
        """Prune a batch of float vectors; ``side`` is ``"doc"`` or ``"query"``."""
        if side not in ("doc", "query"):
            raise ValueError(f"side must be 'doc' or 'query', got {side!r}")
        k = self.doc_top_k if side == "doc" else self.query_top_k
        return prune(batch, k, self.min_weight)


def strictness(level: str) -> tuple:
    """Sort key of level names: :meth:`Pruning.sort_key` order, names that are no pruning
    level after every level.

    >>> sorted(["d8-q4", "full", "odd", "d32-q16"], key=strictness)
    ['full', 'd32-q16', 'd8-q4', 'odd']
    """
    try:
        return (0, *Pruning.parse(level).sort_key())
    except ValueError:
        return (1, 0.0, 0.0, 0.0, level)


def prune(batch: SparseBatch, top_k: int | None, min_weight: float | None = None) -> SparseBatch:
    """Vectorised top-k per row (ties: smaller term id first) and weight threshold."""
    keep = np.ones(batch.nnz, dtype=bool)
    if min_weight is not None:
        keep &= batch.data >= min_weight
    if top_k is not None and batch.nnz and int(batch.lengths().max()) > top_k:
        rows = batch.row_ids()
        # sort entries by (row, -weight, term id); rank within row = position - row start
        order = np.lexsort((batch.indices, -batch.data.astype(np.float64), rows))
        rank = np.empty(batch.nnz, dtype=np.int64)
        rank[order] = np.arange(batch.nnz) - batch.indptr[rows[order]]
        keep &= rank < top_k
    if keep.all():
        return batch
    return batch.select(keep)
