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
from esplade_eval.cli._args import check_environment
from esplade_eval.errors import EspladeError, stop_signals
from esplade_eval.guard import check_args

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
    for verb in sub.choices.values():
        verb.formatter_class = DefaultsHelpFormatter
    return parser


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """``--help`` shows every default: ``(default: X)`` added where the help does not say it."""

    def _get_help_string(self, action):
        text = action.help or ""
        value = action.default
        if ("default" not in text.lower() and action.option_strings and action.nargs != 0
                and not (value is None or isinstance(value, bool) or value == [] or value is argparse.SUPPRESS)):
            shown = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else getattr(value, "name", value)
            text += f" (default: {str(shown).replace('%', '%%')})"
        return text


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every verb's parser by its name (aliases included)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser | None:
    return subparsers(parser).get(command)


#: the plain spelling of the marks reports use, for a terminal whose encoding lacks them
PLAIN_MARKS = {"†": "+", "‡": "++", "±": "+/-", "Δ": "delta", "…": "...", "∩": "&", "×": "x", "≥": ">=", "≤": "<=",
               "—": "-", "–": "-", "−": "-", "·": ".", "ρ": "rho"}


def _plain_marks(exc: UnicodeEncodeError):
    """Codec error handler: a mark the stream cannot encode in its plain spelling (else ``?``)."""
    text = exc.object[exc.start:exc.end]
    return "".join(PLAIN_MARKS.get(ch, "?") for ch in text), exc.end


def plain_marks_on_limited_terminals(stream=None) -> None:
    """Print reports on a stream whose encoding lacks their marks (``†``, ``±``, ``Δ``; e.g. an
    ASCII or Latin-1 terminal) in plain marks instead of failing; files are always UTF-8."""
    import codecs

    stream = stream or sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        "†±Δ".encode(encoding)
        return
    except (UnicodeEncodeError, LookupError):
        pass
    codecs.register_error("esplade_plain", _plain_marks)
    if hasattr(stream, "reconfigure"):
        stream.reconfigure(errors="esplade_plain")


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
    if not args.verbose:  # libraries' own start-up chatter (faiss: which SIMD build loaded) only with --verbose
        logging.getLogger("faiss").setLevel(logging.WARNING)
    plain_marks_on_limited_terminals()
    previous = {s: signal.getsignal(s) for s in stop_signals()}
    install_stop_handlers()
    try:
        with quiet_scope():  # --quiet holds for this command only
            check_environment()
            check_args(args, _subparser(parser, args.command))  # before any work: outputs never replace inputs
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
