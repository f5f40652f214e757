"""How a whole word's output row is made from its WordPiece pieces' rows (the ESPLADE start).

The ESPLADE head starts from a WordPiece masked-LM head (SPLADE-tiny's): its transform is
copied and each word's output row (weight and bias) is a combination of the rows of the
word's pieces (``tokenizer.tokenize(word)``). A word's logit is linear in its row, so the rule
is also the rule for the logit at every position:

* ``mean``  the mean of the pieces' rows (logit = mean of the pieces' logits);
* ``first`` the first piece's row;
* ``sum``   the sum of the pieces' rows;
* ``sqrtn`` the mean scaled by sqrt(pieces): a word of n pieces matches like n pieces of
  the same weight would in a dot product.

Single-piece words get their piece's row under every rule. Measured on Semanlink test
(issue 21: 30,000 words from the corpora and the collection's titles and comments; nDCG@10,
exact search of the quantised vectors): zero-shot mean 0.3357, sqrtn 0.3271, sum 0.3206,
first 0.2563 (SPLADE-tiny 0.4458); after the CPU study's fine-tuning, seed 0: mean 0.4527,
sum 0.4543, sqrtn 0.4469 (SPLADE-tiny 0.5060); seed 1: mean 0.4599, sum 0.4471 (SPLADE-tiny
0.4957). The default stays the mean. No rule closes the gap, which sits on queries with a
multi-piece word; a 100-step MLM warm-up on general text did not either (zero-shot 0.2125,
fine-tuned 0.4418). What does: aligning the mapped start to SPLADE-tiny's scores
(:mod:`esplade_eval.train.align`), then fine-tuning with the output rows frozen.

>>> combine_rows([[1.0, 3.0], [3.0, 5.0]], "mean")
[2.0, 4.0]
>>> combine_rows([[1.0, 3.0], [3.0, 5.0]], "first")
[1.0, 3.0]
"""

from __future__ import annotations

import math

from esplade_eval.errors import EspladeError

RULES = ("mean", "first", "sum", "sqrtn")
DEFAULT_RULE = "mean"


def check_rule(rule: str) -> str:
    if rule not in RULES:
        raise EspladeError(f"head_init {rule!r}: expected one of {', '.join(RULES)}")
    return rule


def describe(rule: str) -> str:
    """The rule in words, as the training state and the study's summary record it."""
    return {"mean": "each word's row = mean of its WordPiece pieces' rows",
            "first": "each word's row = its first WordPiece piece's row",
            "sum": "each word's row = sum of its WordPiece pieces' rows",
            "sqrtn": "each word's row = mean of its WordPiece pieces' rows x sqrt(pieces)"}[check_rule(rule)]


def combine_rows(rows, rule: str):
    """One word's row from its pieces' rows (a tensor ``(pieces, ...)``; lists for the doctest)."""
    if isinstance(rows, list):
        import torch

        return combine_rows(torch.tensor(rows), rule).tolist()
    n = rows.shape[0]
    if rule == "first":
        return rows[0]
    if rule == "sum":
        return rows.sum(0)
    mean = rows.mean(0)
    return mean * math.sqrt(n) if rule == "sqrtn" else mean


def piece_ids(vocab: list[str], tokenizer) -> list[list[int]]:
    """The WordPiece ids of every word (``[UNK]`` for a word the tokenizer cannot split)."""
    return [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(w)) or [tokenizer.unk_token_id] for w in vocab]


def map_head(target, weight, bias, pieces: list[list[int]], rule: str) -> int:
    """Fill ``target`` (an ``nn.Linear`` over the words) from the source ``weight``/``bias``
    rows by ``rule``; returns the number of single-piece words."""
    import torch

    check_rule(rule)
    with torch.no_grad():
        for i, ids in enumerate(pieces):
            target.weight[i] = combine_rows(weight[ids], rule)
            target.bias[i] = combine_rows(bias[ids], rule)
    return sum(len(ids) == 1 for ids in pieces)


def is_expanded_start(checkpoint) -> bool:
    """Whether ``checkpoint`` is an ESPLADE checkpoint (it has an output vocabulary): a start
    already mapped to words (the study's ``start`` stage), not a WordPiece source to map."""
    from pathlib import Path

    from esplade_eval.model.checkpoint import OUTPUT_VOCAB, resolve_checkpoint

    try:
        return (Path(resolve_checkpoint(checkpoint)) / OUTPUT_VOCAB).is_file()
    except EspladeError:  # an unknown name is the WordPiece loader's error to report
        return False


def check_start(head_init: str, align_steps: int, init_encoder, output_vocab: str) -> None:
    """Refuse a pre-training start that would silently skip ``align_steps``: alignment maps and
    aligns a WordPiece ``init_encoder``, so it needs one (an ESPLADE start is already mapped)."""
    check_rule(head_init)
    if not align_steps or output_vocab == "wordpiece":  # a WordPiece head keeps its rows: nothing to align
        return
    if not init_encoder:
        raise EspladeError(f"align_steps={align_steps}: alignment needs init_encoder, the WordPiece checkpoint to "
                           "map and align to (a random start has no source)")
    if is_expanded_start(init_encoder):
        raise EspladeError(f"align_steps={align_steps}: {init_encoder} is already an ESPLADE start (its head mapped "
                           "to words); align from its WordPiece source, or set align_steps=0")


def load_expanded_start(checkpoint, vocab: list[str]):
    """An ESPLADE start (model and its ``init.json`` record) whose output vocabulary must be ``vocab``."""
    import json
    from pathlib import Path

    from esplade_eval.model.checkpoint import resolve_checkpoint
    from esplade_eval.model.esplade import EspladeForMaskedLM
    from esplade_eval.train.vocab import read_vocab

    path = Path(resolve_checkpoint(checkpoint))
    own = read_vocab(path)
    if own != list(vocab):
        raise EspladeError(f"{path}: its output vocabulary ({len(own)} words) is not this run's ({len(vocab)} words)")
    record = path / "init.json"
    transfer = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {"source": str(checkpoint)}
    alignment = transfer.get("alignment")
    if alignment:
        transfer["head"] = (f"{transfer.get('head', 'mapped')}; then the encoder and head aligned to "
                            f"{transfer.get('source', 'the source')}'s scores on the pre-training corpora "
                            f"({alignment['steps']} steps, lr {alignment['lr']:g})")
    transfer["start_checkpoint"] = str(checkpoint)
    return EspladeForMaskedLM.from_pretrained(path), transfer
