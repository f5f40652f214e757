"""Shared training plumbing: presets, seeding, devices, LR schedule, checkpoint writing."""

from __future__ import annotations

import json
import os
import random
import time
from contextlib import nullcontext
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


def autocast(device: str, bf16: bool | None = None):
    """bf16 autocast on CUDA devices that support it (CPU stays fp32: exact reproducibility)."""
    import torch

    if device.startswith("cuda") and (bf16 is None or bf16) and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def set_threads(threads: int | None) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


def linear_schedule(optimizer, warmup_steps: int, total_steps: int):
    """Linear warm-up from 0 to the peak LR, then linear decay to 0 at ``total_steps``."""
    import torch

    def factor(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def schedule_record(lr: float, warmup_steps: int, total_steps: int) -> dict:
    return {"type": "linear warmup + linear decay to 0", "peak_lr": lr, "warmup_steps": warmup_steps,
            "total_steps": total_steps}


def save_checkpoint(out: str | os.PathLike, model, tokenizer, output_vocab: list[str] | None,
                    records: dict[str, dict], overwrite: bool = False) -> Path:
    """Write model, tokenizer, ``output_vocab.txt`` and JSON records into ``out`` atomically."""
    from esplade_eval._io import atomic_dir
    from esplade_eval.train.vocab import write_vocab

    with atomic_dir(out, overwrite=overwrite) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if output_vocab is not None:
            write_vocab(tmp, output_vocab)
        for name, data in records.items():
            (tmp / name).write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n",
                                    encoding="utf-8")
    return Path(out)


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
