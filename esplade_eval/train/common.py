"""Shared training plumbing: presets, seeding, devices, run set-up and records, checkpoint writing.

The optimisation itself (optimizer, schedule, step, autocast) is :mod:`esplade_eval.train.loop`.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import numpy as np

from esplade_eval.errors import EspladeError

#: model sizes; ``tiny`` matches SPLADE-tiny's encoder, ``base`` is BERT-base
PRESETS = {
    "tiny": dict(num_hidden_layers=2, hidden_size=128, num_attention_heads=2, intermediate_size=512,
                 max_position_embeddings=512),
    "small": dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4, intermediate_size=1024,
                  max_position_embeddings=512),
    "base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072,
                 max_position_embeddings=512),
}

#: the input tokenizer of every model trained here (bert-base-uncased WordPiece)
INPUT_TOKENIZER = "splade-tiny"


def load_input_tokenizer(name_or_path: str = INPUT_TOKENIZER):
    from transformers import AutoTokenizer

    from esplade_eval.model.checkpoint import resolve_checkpoint

    return AutoTokenizer.from_pretrained(resolve_checkpoint(name_or_path))


def model_config(preset_or_json: str, output_vocab_size: int, input_vocab_size: int):
    """An :class:`EspladeConfig` from a preset name or a JSON file of BertConfig fields."""
    from esplade_eval.model.esplade import EspladeConfig

    if preset_or_json in PRESETS:
        fields = dict(PRESETS[preset_or_json])
    elif os.path.isfile(preset_or_json):
        with open(preset_or_json, encoding="utf-8") as fh:
            fields = json.load(fh)
    else:
        raise EspladeError(f"{preset_or_json}: neither a preset ({', '.join(PRESETS)}) nor a JSON config file")
    fields.pop("output_vocab_size", None)
    fields["vocab_size"] = input_vocab_size
    return EspladeConfig(output_vocab_size=output_vocab_size, **fields)


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(device: str | None = None) -> str:
    import torch

    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def set_threads(threads: int | None) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


def save_checkpoint(out: str | os.PathLike, model, tokenizer, output_vocab: list[str] | None,
                    records: dict[str, dict], overwrite: bool = False, vocab_meta: dict | None = None) -> Path:
    """Write model, tokenizer, ``output_vocab.txt`` (its provenance ``vocab_meta`` in
    ``output_vocab.json``) and JSON records into ``out`` atomically."""
    from esplade_eval._io import atomic_dir, write_json
    from esplade_eval.train.vocab import write_vocab

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # the last call's truncation/padding is call state, not part of the checkpoint
        backend.no_truncation()
        backend.no_padding()
    with atomic_dir(out, overwrite=overwrite) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if output_vocab is not None:
            write_vocab(tmp, output_vocab, vocab_meta)
        for name, data in records.items():
            write_json(tmp / name, data, ensure_ascii=False, default=str)
    return Path(out)


def start_run(out: str | os.PathLike, overwrite: bool, threads: int | None, device: str | None) -> str:
    """Refuse an existing ``out`` (unless ``overwrite``), quiet transformers, set threads; the device."""
    if Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out}: already exists (pass --overwrite to replace it)")
    quiet_transformers()
    set_threads(threads)
    return pick_device(device)


def environment(seed: int, device: str) -> dict:
    """What a training record needs to say about where it ran."""
    import platform

    import torch

    return {"seed": seed, "device": device, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "platform": platform.platform()}


class Timer:
    def __init__(self):
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


def quiet_transformers() -> None:
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def wordpiece_model(init_encoder: str | None, preset: str, tokenizer):
    """SPLADE's own masked LM: ``init_encoder``'s ``BertForMaskedLM`` (head included), or a random ``preset``."""
    from transformers import AutoModelForMaskedLM, BertConfig, BertForMaskedLM

    from esplade_eval.model.checkpoint import resolve_checkpoint

    if not init_encoder:
        return BertForMaskedLM(BertConfig(vocab_size=len(tokenizer), **PRESETS[preset])), None
    model = AutoModelForMaskedLM.from_pretrained(resolve_checkpoint(init_encoder))
    if model.config.vocab_size != len(tokenizer) or not hasattr(model, "cls"):
        raise EspladeError(f"{init_encoder}: not a WordPiece masked LM over the input tokenizer's "
                           f"{len(tokenizer)} pieces")
    return model, {"source": str(init_encoder), "head": "the source's own WordPiece head"}
