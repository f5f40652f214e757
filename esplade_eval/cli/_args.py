"""Reusable argument builders (Pyserini's ``define_*_args`` pattern)."""

from __future__ import annotations

import argparse
import os


def define_encoder_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    g = parser.add_argument_group("encoder")
    g.add_argument("--checkpoint", required=required,
                   help="Hugging Face masked-LM folder (SPLADE or ESPLADE) or a name: splade-tiny")
    g.add_argument("--max-length", type=int, default=256, help="tokens per text, truncating longer ones (recorded)")
    g.add_argument("--batch-size", type=int, default=128, help="texts per forward pass")
    g.add_argument("--threads", type=positive_int, default=os.cpu_count() or 1, help="torch CPU threads / Lucene threads")
    g.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when present)")
    g.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                   help="inference precision (bfloat16: faster on recent CPUs/GPUs, not bit-identical)")


def define_quantization_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("quantisation")
    g.add_argument("--scale", type=float, default=100.0, help="impact = round(weight * scale)")
    g.add_argument("--rounding", choices=["rint", "floor", "ceil"], default="rint", help="rounding rule")


def pruning_type(text: str):
    from esplade_eval.sparse.prune import Pruning

    try:
        return Pruning.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def load_encoder(args):
    from esplade_eval.model.encoder import SpladeEncoder

    return SpladeEncoder.from_checkpoint(args.checkpoint, max_length=args.max_length, device=args.device,
                                         threads=args.threads, batch_size=args.batch_size, dtype=args.dtype)


def heap_type(text: str) -> str:
    """argparse type: a JVM heap size (``512m``, ``2g``)."""
    from esplade_eval.lucene.java import check_heap

    try:
        return check_heap(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (hits, repeats, threads ...)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def define_progress_args(parser: argparse.ArgumentParser) -> None:
    """``--progress`` / ``--quiet``: bars show on a terminal by default, never in a pipe or log."""
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_const", const=True, default=None,
                   help="always show progress bars (default: only when stderr is a terminal)")
    g.add_argument("--quiet", dest="progress", action="store_const", const=False,
                   help="no progress bars")


def progress_of(args) -> bool | None:
    """The progress setting of parsed arguments (None: automatic); ``--quiet`` silences every bar."""
    from esplade_eval._progress import set_quiet

    value = getattr(args, "progress", None)
    if value is False:
        set_quiet(True)
    return value


def define_collection_args(parser: argparse.ArgumentParser, default: str | None = "semanlink",
                           split: bool = True) -> None:
    """``--collection SPEC`` (registry name, TOML file or folder), ``--registry FILE``, ``--split``."""
    g = parser.add_argument_group("collection")
    g.add_argument("--collection", default=default, metavar="SPEC",
                   help="a registry name (semanlink, or one of --registry), a registry .toml holding one "
                        f"collection, or a folder{f' (default: {default})' if default else ''}")
    g.add_argument("--registry", default=None, metavar="FILE",
                   help="registry of named collections (default: $ESPLADE_EVAL_COLLECTIONS, else ./collections.toml)")
    if split:
        g.add_argument("--split", default="test", help="which split's topics and qrels (any name the collection has)")
