"""Every command-line convention, in one place (Pyserini's ``define_*_args`` pattern).

A verb's module builds its parser from these and calls down into the library; the defaults
come from :mod:`esplade_eval.defaults`, so a verb and the function it calls agree:

* inputs named ``NAME=PATH`` (runs, checkpoints, levels): :func:`named_args`, one rule
  (:func:`esplade_eval.artifacts.named`) for ``evaluate``, ``compare``, ``grid``, ``cost --level``;
* ``--threads`` (a positive integer, default every CPU), ``--device`` (default CUDA when
  present), ``--seed`` (default 0), ``--measures`` (default :data:`~esplade_eval.defaults.MEASURES`),
  ``--levels`` (pruning levels, default :data:`~esplade_eval.defaults.LEVELS`);
* ``--progress`` / ``--quiet``: bars on a terminal only unless forced;
* ``--ray [ADDRESS]``: run a verb's work on Ray (:func:`define_ray_args`);
* output: a rendering printed and, with ``--output``, also written atomically (:func:`emit`);
* the reference verbs (``bm25``, ``dense``): :func:`define_reference_args`, :func:`reference_job`.
"""

from __future__ import annotations

import argparse

from esplade_eval import defaults


def check_environment() -> None:
    """The environment variables a verb may read, checked before it runs (as its options are):
    ``$ESPLADE_EVAL_JAVA_HEAP`` must be a JVM heap size."""
    import os

    from esplade_eval.errors import EspladeError
    from esplade_eval.lucene.java import HEAP_ENV, check_heap

    if os.environ.get(HEAP_ENV):
        try:
            check_heap(os.environ[HEAP_ENV])
        except ValueError as exc:
            raise EspladeError(f"${HEAP_ENV}: {exc}") from None


def heap_type(text: str) -> str:
    """argparse type: a JVM heap size (``512m``, ``2g``)."""
    from esplade_eval.lucene.java import check_heap

    try:
        return check_heap(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


#: the largest count the layers below accept: Lucene's hits, Java's ``int``
INT_MAX = 2**31 - 1
#: the largest seed numpy and torch accept
SEED_MAX = 2**32 - 1


class Number:
    """An argparse type for a number in ``[lo, hi]`` (floats also finite, ``> lo`` when
    ``open_lo``): every numeric option of every verb is one, so a value the layer below would
    abort on (a hit count past Java's int, a negative seed, NaN) is refused while parsing,
    with ``expected <what>, got <text>``; the generated tests read ``lo``/``hi``.

    >>> positive_int("3"), seed_type("4294967295")
    (3, 4294967295)
    >>> positive_int(str(2**31))
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a positive integer (at most 2147483647), got 2147483648
    """

    def __init__(self, cast, lo, hi, expected: str, open_lo: bool = False, open_hi: bool = False):
        self.cast, self.lo, self.hi, self.expected = cast, lo, hi, expected
        self.open_lo, self.open_hi = open_lo, open_hi
        self.__name__ = expected

    def ok(self, value) -> bool:
        import math

        if self.cast is float and not math.isfinite(value):
            return False
        return (value > self.lo if self.open_lo else value >= self.lo) and (
            value < self.hi if self.open_hi else value <= self.hi)

    def __call__(self, text: str):
        try:
            value = self.cast(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"expected {self.expected}, got {text!r}") from None
        if not self.ok(value):
            bound = f" (at most {self.hi:g})" if self.cast is float else f" (at most {self.hi})"
            raise argparse.ArgumentTypeError(f"expected {self.expected}{bound if value > self.hi > 1 else ''}, got {value}")
        return value


FLOAT_MAX = 1e300  # finite, with room for arithmetic on it
#: argparse type: an integer >= 1 (hits, passes, threads, steps, batch sizes ...)
positive_int = Number(int, 1, INT_MAX, "a positive integer")
#: argparse type: an integer >= 0 (warm-up passes ...)
non_negative_int = Number(int, 0, INT_MAX, "an integer >= 0")
#: argparse type: a random seed, 0 ... 2**32 - 1 (what numpy accepts)
seed_type = Number(int, 0, SEED_MAX, f"a seed from 0 to {SEED_MAX}")
#: argparse type: a finite number > 0 (RRF k, learning rate ...)
positive_float = Number(float, 0.0, FLOAT_MAX, "a finite number > 0", open_lo=True)
#: argparse type: a finite number >= 0 (FLOPS weights, interpolation weights ...)
non_negative_float = Number(float, 0.0, FLOAT_MAX, "a finite number >= 0")
#: argparse type: a number strictly between 0 and 1 (alpha, confidence, mask rate)
fraction = Number(float, 0.0, 1.0, "a number between 0 and 1 (exclusive)", open_lo=True, open_hi=True)


def scale_type(text: str) -> float:
    """argparse type: a quantisation scale (finite, > 0, at most the largest exact impact),
    checked while parsing, before any model loads."""
    from esplade_eval.errors import RangeError
    from esplade_eval.sparse.quantize import check_scale

    try:
        return check_scale(text)
    except RangeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def pruning_type(text: str):
    """argparse type: a pruning level name (``full``, ``d64-q16``, ``d8-q4-w0.5``)."""
    from esplade_eval.sparse.prune import Pruning

    try:
        return Pruning.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class AppendUnique(argparse.Action):
    """A list option (``nargs``) that refuses a value given twice (``--levels d8 d8``) while
    parsing, before any work."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = []
        for value in values:
            if value in items:
                parser.error(f"argument {option_string}: {value} given twice")
            items.append(value)
        setattr(namespace, self.dest, items)


def define_threads_arg(parser, help: str = "threads (torch and Lucene)") -> None:
    """``--threads N``: a positive integer, default every CPU of the machine."""
    parser.add_argument("--threads", type=positive_int, default=defaults.threads(),
                        help=f"{help} (default: every CPU, {defaults.threads()} here)")


def device_type(text: str) -> str:
    """argparse type: a torch device name (``cpu``, ``cuda``, ``cuda:1``, ``mps``), checked while parsing."""
    import re

    if not re.fullmatch(r"cpu|cuda(:\d+)?|mps", text):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda, cuda:N or mps, got {text!r}")
    return text


def tag_type(text: str) -> str:
    """argparse type: a TREC run tag: not empty, no whitespace (a tag with a blank would add a column)."""
    if not text or any(ch.isspace() for ch in text):
        raise argparse.ArgumentTypeError(f"expected a run tag without blanks, got {text!r}")
    return text


def define_device_arg(parser) -> None:
    parser.add_argument("--device", type=device_type, default=None,
                        help="cpu, cuda, cuda:1 ... (default: cuda when present)")


def define_seed_arg(parser, help: str = "random seed") -> None:
    parser.add_argument("--seed", type=seed_type, default=defaults.SEED, help=f"{help} (default {defaults.SEED})")


def measure_type(text: str) -> str:
    """argparse type: an ir_measures string or trec_eval name with a known measure and a
    positive integer cut-off (pytrec_eval aborts the process on ``P@0``), checked while parsing.
    A word naming an existing path is kept as is: a run that ``--measures`` swallowed (the
    verb moves it to the runs)."""
    import os

    from esplade_eval.artifacts import split_named
    from esplade_eval.errors import EspladeError
    from esplade_eval.evaluate.measures import parse_measure

    if os.path.exists(split_named(text)[1]):
        return text
    try:
        parse_measure(text)
    except EspladeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


#: argparse types of string options (checked while parsing, but not numbers)
STRING_TYPES = (measure_type, device_type, tag_type)


def define_measures_arg(parser, default=defaults.MEASURES) -> None:
    """``--measures``: ir_measures strings or trec_eval names."""
    parser.add_argument("--measures", nargs="+", type=measure_type, default=list(default), metavar="MEASURE",
                        help=f"ir_measures strings or trec_eval names (default: {' '.join(default)}); "
                             "e.g. AP Judged@10 P@5, or map ndcg_cut.10 recall.100 P.5 recip_rank")


def define_levels_arg(parser, help: str = "test-time pruning levels") -> None:
    """``--levels LEVEL ...``: pruning levels (default :data:`~esplade_eval.defaults.LEVELS`)."""
    parser.add_argument("--levels", nargs="+", type=pruning_type, default=None, metavar="LEVEL", action=AppendUnique,
                        help=f"{help}, e.g. full d64-q16 d8-q4-w0.5 (default: {' '.join(defaults.LEVELS)})")


def levels_of(args) -> list:
    """The ``--levels`` given, else the default levels."""
    return list(args.levels) if args.levels else [pruning_type(name) for name in defaults.LEVELS]


def define_progress_args(parser) -> None:
    """``--progress`` / ``--quiet``, the one pair of every verb that shows progress: bars show
    on a terminal by default, never in a pipe or log."""
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_const", const=True, default=None,
                   help="always show progress bars (default: only when stderr is a terminal)")
    g.add_argument("--quiet", dest="progress", action="store_const",
                   const=False, help="no progress bars")


def progress_of(args) -> bool | None:
    """The progress setting of parsed arguments (None: automatic); ``--quiet`` silences every bar."""
    from esplade_eval._progress import set_quiet

    value = getattr(args, "progress", None)
    if value is False:
        set_quiet(True)
    return value


def define_latency_args(parser, passes: int = defaults.LATENCY_PASSES, search: bool = True) -> None:
    """Timing of searches: ``--passes`` and progress bars; with
    ``search`` also ``--hits``, ``--warmup`` and ``--no-latency``."""
    g = parser.add_argument_group("latency")
    if search:
        g.add_argument("--hits", type=positive_int, default=defaults.HITS, help="top-k of each timed search")
    g.add_argument("--passes", type=positive_int, default=passes,
                   help=f"timed passes over the query set (default {passes})")
    if search:
        g.add_argument("--warmup", type=non_negative_int, default=defaults.LATENCY_WARMUP,
                       help="untimed passes first (JIT, caches)")
        g.add_argument("--no-latency", action="store_true", help="skip timing (postings and FLOPS only)")
    define_progress_args(parser)


def define_encoder_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    g = parser.add_argument_group("encoder")
    g.add_argument("--checkpoint", required=required,
                   help="Hugging Face masked-LM folder (SPLADE or ESPLADE) or a name: splade-tiny")
    g.add_argument("--max-length", type=positive_int, default=defaults.MAX_LENGTH,
                   help="tokens per text, truncating longer ones (recorded)")
    g.add_argument("--batch-size", type=positive_int, default=128, help="texts per forward pass")
    define_threads_arg(g, "torch CPU threads / Lucene threads")
    define_device_arg(g)
    g.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                   help="inference precision (bfloat16: faster on recent CPUs/GPUs, not bit-identical)")


def check_encoder_args(args) -> None:
    """What the encoder options must fit, checked before any input is read: ``--max-length``
    at most the checkpoint's positions (read from its config, no weights loaded)."""
    from esplade_eval.model.checkpoint import check_max_length, resolve_checkpoint

    if getattr(args, "checkpoint", None):
        check_max_length(resolve_checkpoint(args.checkpoint), args.max_length)


def load_encoder(args):
    from esplade_eval.model.encoder import SpladeEncoder

    return SpladeEncoder.from_checkpoint(args.checkpoint, max_length=args.max_length, device=args.device,
                                         threads=args.threads, batch_size=args.batch_size, dtype=args.dtype)


def define_quantization_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("quantisation")
    g.add_argument("--scale", type=scale_type, default=100.0,
                   help="impact = round(weight * scale): finite, > 0, impacts at most 2**24 (default 100)")
    g.add_argument("--rounding", choices=["rint", "floor", "ceil"], default="rint", help="rounding rule")


def define_ray_args(parser: argparse.ArgumentParser, what: str) -> None:
    """``--ray [ADDRESS]``: absent = no Ray; alone = $RAY_ADDRESS or a local instance; ADDRESS = that cluster."""
    parser.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                        help=f"{what}. Alone: $RAY_ADDRESS if set, else a local Ray instance with this machine's "
                             "cores; ADDRESS: a running cluster (auto, HOST:6379, ray://HOST:10001)")


def define_collection_args(parser: argparse.ArgumentParser, default: str | None = "semanlink",
                           split: bool = True) -> None:
    """``--collection SPEC`` (registry name, TOML file or folder), ``--registry FILE``, ``--split``."""
    g = parser.add_argument_group("collection")
    g.add_argument("--collection", default=default, metavar="SPEC",
                   help="a registry name (semanlink, or one of --registry), a registry .toml holding one "
                        "collection, or a folder: BEIR (corpus.jsonl, queries.jsonl, qrels/<split>.tsv), SMART "
                        "(*.ALL, *.QRY, *.REL: CISI, CACM, Cranfield, Medline), corpus.*/topics.<split>.*/"
                        f"qrels.<split>.* or prepared{f' (default: {default})' if default else ''}")
    g.add_argument("--registry", default=None, metavar="FILE",
                   help="registry of named collections (default: $ESPLADE_EVAL_COLLECTIONS, else ./collections.toml)")
    if split:
        g.add_argument("--split", default="test", help="which split's topics and qrels (any name the collection has)")


def named_args(items, what: str = "run", default=None) -> dict[str, str]:
    """``{name: value}`` for arguments ``VALUE`` or ``NAME=VALUE`` (:func:`esplade_eval.artifacts.named`)."""
    from esplade_eval.artifacts import named, run_name

    return named(items, default or run_name, what)


def emit(text: str, output: str | None = None) -> None:
    """Print a rendering; with ``--output`` also write it atomically."""
    print(text, end="" if text.endswith("\n") else "\n")
    if output:
        from esplade_eval._io import atomic_file

        with atomic_file(output) as fh:
            fh.write(text)


def write_output(text: str, path: str, what: str) -> None:
    """Write a rendering to ``path`` atomically and say so (``table -> PATH``)."""
    from esplade_eval._io import atomic_file

    with atomic_file(path) as fh:
        fh.write(text)
    print(f"\n{what} -> {path}")


def emit_json(obj, path: str | None, what: str) -> None:
    """With ``--json PATH``, write ``obj`` there (atomically) and say so."""
    if path:
        from esplade_eval._io import write_json

        write_json(path, obj)
        print(f"\n{what} -> {path}")


# --- the reference verbs (bm25, dense) -------------------------------------------------------


def define_reference_args(parser) -> None:
    """``--collection/--registry/--split``, ``--out``, ``--hits``, ``--threads``, progress."""
    define_collection_args(parser)
    parser.add_argument("--out", default="artifacts/demo",
                        help="flow folder: the index goes to OUT/references/<name>/, the run to "
                             "OUT/runs/run.<split>.<name>.txt, a collection spec is prepared into OUT/data "
                             "(default: artifacts/demo, the demo's folder)")
    parser.add_argument("--hits", type=positive_int, default=defaults.HITS, help=f"hits per query (default {defaults.HITS})")
    define_threads_arg(parser)
    define_progress_args(parser)


def reference_job(args):
    """The :class:`~esplade_eval.study.references.ReferenceJob` of parsed arguments; an ``--out``
    that is, or lies inside, an input is refused before any work."""
    from pathlib import Path

    from esplade_eval.errors import EspladeError
    from esplade_eval.study.flow import resolve_collection
    from esplade_eval.study.references import ReferenceJob, refuse_input_as_output

    out = Path(args.out)
    spec = Path(args.collection)
    if spec.is_dir():  # a source folder named as the collection is an input too
        refuse_input_as_output(out, spec)
    elif spec.is_file() and out.resolve() == spec.resolve():
        raise EspladeError(f"--out {out}: is the collection file {spec} (an input)")
    collection = resolve_collection(args.collection, out, args.registry)
    refuse_input_as_output(out, collection.root)
    collection.require_split(args.split, qrels=False)
    return ReferenceJob(out, collection, args.split, args.hits, args.threads, progress_of(args))


def report_reference(result, collection, split: str) -> None:
    """Print where the run went and, when the split has judgments, its nDCG@10 and R@1000."""
    from esplade_eval.evaluate import Evaluator

    print(f"{result.name}: {result.info['queries']} queries -> {result.run} (index {result.index})")
    if collection.qrels(split).is_file():
        evaluation = Evaluator(collection.qrels(split), ["nDCG@10", "R@1000"],
                               topics=collection.topics(split)).evaluate({result.name: str(result.run)})
        means = evaluation.aggregate()
        print(f"{result.name} on {collection.name} {split}: nDCG@10 {means.loc[result.name, 'nDCG@10']:.4f}, "
              f"R@1000 {means.loc[result.name, 'R@1000']:.4f}")
