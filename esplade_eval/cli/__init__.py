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
import signal
import sys
import threading

from esplade_eval import __version__
from esplade_eval._children import install_stop_handlers
from esplade_eval._progress import quiet_scope
from esplade_eval.errors import EspladeError, stop_signals

#: subcommand modules, in the order ``--help`` lists them
MODULES = [
    "esplade_eval.cli.data",
    "esplade_eval.cli.collection",
    "esplade_eval.cli.export",
    "esplade_eval.cli.index",
    "esplade_eval.cli.search",
    "esplade_eval.cli.bm25",
    "esplade_eval.cli.dense",
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


def _message(exc: Exception) -> str:
    """``path: problem`` for an operating-system error too (``[Errno 2] ... 'path'`` otherwise)."""
    if isinstance(exc, OSError) and not isinstance(exc, EspladeError) and exc.filename and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; returns the exit status.

    0 success; 1 a check found problems (``check-run``, ``package-run``); 2 an error with a
    message (bad input or arguments, an output another process is writing, an unreadable
    file); 128 + N stopped by signal N (130 Ctrl-C, 143 SIGTERM), child JVMs stopped and
    partial outputs removed first.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    previous = {s: signal.getsignal(s) for s in stop_signals()}
    install_stop_handlers()
    try:
        with quiet_scope():  # --quiet holds for this command only
            return int(args.func(args) or 0)
    except (EspladeError, OSError) as exc:  # OSError: FileExistsError, FileNotFoundError, PermissionError ...
        print(f"esplade-eval {args.command}: error: {_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"esplade-eval {args.command}: stopped by {signal.Signals(signum).name}; child processes stopped, "
              "no partial output kept", file=sys.stderr)
        return 128 + int(signum)
    finally:
        if threading.current_thread() is threading.main_thread():
            for s, handler in previous.items():
                signal.signal(s, handler if handler is not None else signal.SIG_DFL)
