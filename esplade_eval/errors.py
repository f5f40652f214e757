"""Exceptions with messages a user can act on (file, line, problem)."""

from __future__ import annotations

import os


class EspladeError(Exception):
    """Base class of every error this toolkit raises on purpose."""


class InputError(EspladeError, ValueError):
    """Bad input: names the file and, where known, the 1-based line number.

    >>> str(InputError("run.txt", "score is not a number: 'abc'", line=3))
    "run.txt:3: score is not a number: 'abc'"
    """

    def __init__(self, path: str | os.PathLike | None, message: str, line: int | None = None):
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.problem = message
        where = self.path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


class JavaNotFoundError(EspladeError, RuntimeError):
    """No Java 21+ runtime could be found for Lucene."""


class JavaStartError(EspladeError, RuntimeError):
    """The JVM did not start (a bad option, too large a heap, a broken runtime)."""


class OutputBusyError(EspladeError, FileExistsError):
    """Another process is writing the same output (it holds the claim: :func:`esplade_eval._io.claim`)."""

    def __init__(self, path: str | os.PathLike, message: str):
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: {message}")


def stop_signals() -> tuple:
    """The signals that stop a command (SIGINT, SIGTERM, SIGHUP where the platform has them):
    raised as :class:`Interrupted`, held back while an output is published."""
    import signal

    return tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A stop signal (SIGINT, SIGTERM, SIGHUP) turned into an exception, so that every
    ``finally`` runs: child JVMs are stopped and partial outputs removed on the way out."""

    def __init__(self, signum: int):
        import signal

        self.signum = signum
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        self.name = name
        super().__init__(name)


class RangeError(EspladeError, ValueError):
    """A number outside what the toolkit, or Lucene, handles correctly (a scale, a weight, an impact)."""
