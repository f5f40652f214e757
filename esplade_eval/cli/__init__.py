"""``esplade-eval``: one subcommand per stage of the flow.

Each subcommand lives in its own module under this package and exposes
``register(subparsers)``; modules only build parsers here and import heavy libraries
(torch, the JVM) inside their handlers, so ``esplade-eval --help`` and
``esplade-eval evaluate`` never start a JVM or load torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from esplade_eval import __version__
from esplade_eval._progress import quiet_scope
from esplade_eval.errors import EspladeError

#: subcommand modules, in the order ``--help`` lists them
MODULES = [
    "esplade_eval.cli.data",
    "esplade_eval.cli.collection",
    "esplade_eval.cli.export",
    "esplade_eval.cli.index",
    "esplade_eval.cli.search",
    "esplade_eval.cli.evaluate",
    "esplade_eval.cli.compare",
    "esplade_eval.cli.runs",
    "esplade_eval.cli.fuse",
    "esplade_eval.cli.notebook",
    "esplade_eval.cli.postings",
    "esplade_eval.cli.cost",
    "esplade_eval.cli.train",
    "esplade_eval.cli.study",
    "esplade_eval.cli.grid",
    "esplade_eval.cli.demo",
    "esplade_eval.cli.java",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="esplade-eval", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"esplade_eval {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at DEBUG level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in MODULES:
        # a subcommand module that fails to import is an error, never a verb silently missing
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            raise ImportError(f"esplade-eval: the subcommand module {name} failed to import: "
                              f"{type(exc).__name__}: {exc}") from exc
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        with quiet_scope():  # --quiet holds for this command only
            return int(args.func(args) or 0)
    except (EspladeError, FileExistsError, FileNotFoundError) as exc:
        print(f"esplade-eval {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; no partial output was kept", file=sys.stderr)
        return 130
