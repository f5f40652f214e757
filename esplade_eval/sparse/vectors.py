"""A batch of sparse vectors in CSR form (numpy only), the currency between stages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SparseBatch:
    """Rows of (term id, weight) pairs: row ``i`` is ``indices[indptr[i]:indptr[i+1]]``.

    ``data`` is float32 before quantisation and int32 after.
    """

    indptr: np.ndarray  # int64, len n + 1
    indices: np.ndarray  # int32 term ids
    data: np.ndarray  # weights

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def row_ids(self) -> np.ndarray:
        """The row of every stored entry."""
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.indptr))

    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        s, e = self.indptr[i], self.indptr[i + 1]
        return self.indices[s:e], self.data[s:e]

    def select(self, keep: np.ndarray, data: np.ndarray | None = None) -> "SparseBatch":
        """Keep the entries where the boolean mask ``keep`` is true (optionally new data)."""
        counts = np.bincount(self.row_ids()[keep], minlength=len(self))
        indptr = np.zeros(len(self) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        values = self.data if data is None else data
        return SparseBatch(indptr, self.indices[keep], values[keep])

    @classmethod
    def from_dense(cls, dense: np.ndarray) -> "SparseBatch":
        """From a (rows, vocabulary) array; zeros are not stored."""
        rows, cols = np.nonzero(dense)
        counts = np.bincount(rows, minlength=dense.shape[0])
        indptr = np.zeros(dense.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(indptr, cols.astype(np.int32), dense[rows, cols])

    @classmethod
    def concat(cls, batches: list["SparseBatch"]) -> "SparseBatch":
        if not batches:
            return cls(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
        offsets = np.cumsum([0] + [b.nnz for b in batches[:-1]])
        indptr = np.concatenate([[0]] + [b.indptr[1:] + off for b, off in zip(batches, offsets)]).astype(np.int64)
        return cls(indptr, np.concatenate([b.indices for b in batches]), np.concatenate([b.data for b in batches]))

    def to_dicts(self, vocab: list[str] | np.ndarray) -> list[dict[str, float]]:
        """``[{term: weight}]``: for small batches, tests and display (a Python loop)."""
        out = []
        for i in range(len(self)):
            idx, val = self.row(i)
            out.append({vocab[int(t)]: val[j].item() for j, t in enumerate(idx)})
        return out
