"""SPLADE pooling: max over tokens of log(1 + ReLU(logits)), masked by attention.

Because ``log1p(relu(x))`` is monotone non-decreasing, the max may be taken over the raw
logits first and the activation applied once per (text, term): the result is bit-for-bit
the same, and the activation runs on ``batch x vocab`` values instead of
``batch x length x vocab``. Both forms are differentiable (training uses them too).
"""

from __future__ import annotations

import torch


def splade_max_pool(logits: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """``(batch, length, vocab)`` logits -> ``(batch, vocab)`` non-negative weights."""
    masked = logits.masked_fill(~attention_mask.bool().unsqueeze(-1), float("-inf"))
    pooled = masked.max(dim=1).values
    return torch.log1p(torch.relu(pooled))


def splade_segment_pool(logits: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Packed form: ``(tokens, vocab)`` logits of consecutive texts with ``lengths`` tokens each."""
    pooled = torch.segment_reduce(logits, "max", lengths=lengths, axis=0)
    return torch.log1p(torch.relu(pooled))
