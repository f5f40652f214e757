"""Inputs that fail with ``path:line: problem``.

:func:`open_text` is the one way text inputs are read: UTF-8 (a leading BOM dropped), gzip
recognised by its magic bytes whatever the name, and every fault of the bytes (not UTF-8,
UTF-16, a NUL, a byte-order mark inside the file, truncated or corrupt gzip) an
:class:`~esplade_eval.errors.InputError` naming the file and line; JSON files and JSON
lines are read through it (:func:`read_json`, :func:`json_line`).
"""

from __future__ import annotations

import gzip
import os
import zlib
from typing import Iterator

from esplade_eval._io import Closing
from esplade_eval.errors import InputError


def is_gzip(path: str | os.PathLike) -> bool:
    """True when the file starts with gzip's magic bytes (whatever its name)."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class TextReader(Closing):
    """Lines of a UTF-8 text file, plain or gzip, with every fault of the bytes an
    :class:`~esplade_eval.errors.InputError` naming the line (see :func:`open_text`).

    Lines are split on ``\\n`` only (``\\r\\n`` becomes ``\\n``) and decoded one at a time,
    so an undecodable byte is reported on its own line, not somewhere in an 8 KiB block.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self.line = 0
        if os.path.isdir(self.path):
            raise InputError(self.path, "is a folder, expected a file")
        raw = open(self.path, "rb")
        try:
            head = raw.peek(4)[:4]
        except OSError:
            raw.close()
            raise
        self.gzip = head[:2] == b"\x1f\x8b"
        self._fh = gzip.GzipFile(fileobj=raw, mode="rb") if self.gzip else raw
        self._raw = raw
        if head[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff") or head[:2] in _UTF16_BOMS:
            self.close()
            raise InputError(self.path, "UTF-16/32 text (byte-order mark): convert the file to UTF-8", line=1)

    def __iter__(self) -> Iterator[str]:
        lines = iter(self._fh)
        while True:
            try:
                raw = next(lines)
            except StopIteration:
                return
            except (EOFError, zlib.error, OSError) as exc:  # gzip.BadGzipFile is an OSError
                raise InputError(self.path, f"truncated or corrupt gzip data: {exc}", line=self.line + 1) from None
            self.line += 1
            yield self._decode(raw)

    def _decode(self, raw: bytes) -> str:
        if self.line == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            column = len(raw[:exc.start].decode("utf-8", "replace")) + 1
            raise InputError(self.path, f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {column} "
                                        "(convert the file to UTF-8)", line=self.line) from None
        if "\x00" in text:
            raise InputError(self.path, f"NUL byte at column {text.index(chr(0)) + 1} (a binary file, or "
                                        "UTF-16 text?)", line=self.line)
        if text.startswith("\ufeff"):
            raise InputError(self.path, "byte-order mark inside the file (files joined together?)", line=self.line)
        return text[:-2] + "\n" if text.endswith("\r\n") else text

    def read(self) -> str:
        """The rest of the file as one string (checked line by line)."""
        return "".join(self)

    def close(self) -> None:
        self._fh.close()
        self._raw.close()


def open_text(path: str | os.PathLike) -> TextReader:
    """Open a UTF-8 text file for reading line by line (a leading BOM dropped), gunzipping it
    when it is gzip (detected from its magic bytes, not its name); see :class:`TextReader`.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.tsv")
    >>> _ = open(p, "wb").write(b"q1\\tok\\nq2\\tcaf\\xe9\\n")
    >>> [line for line in open_text(p)]
    Traceback (most recent call last):
    ...
    esplade_eval.errors.InputError: ...t.tsv:2: not UTF-8: byte 0xe9 at column 7 (convert the file to UTF-8)
    """
    return TextReader(path)


def read_json(path: str | os.PathLike, what: str = "JSON file") -> dict:
    """A JSON object from ``path`` (plain or gzip), every fault an :class:`InputError`:
    missing, empty, not UTF-8, malformed (with its line), not an object."""
    try:
        with open_text(path) as fh:
            text = fh.read()
    except FileNotFoundError:
        raise InputError(path, f"{what} not found") from None
    if not text.strip():
        raise InputError(path, f"empty {what}")
    import json

    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"malformed JSON in the {what}: {exc.msg} (column {exc.colno})", line=exc.lineno) from None
    if not isinstance(obj, dict):
        raise InputError(path, f"the {what} must hold a JSON object, found {type(obj).__name__}")
    return obj


def numbered_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """``(1-based line number, line without its end-of-line)`` for every non-blank line of a
    text file (:func:`open_text`: gzip and a BOM handled): what every line reader loops over,
    so its messages can name ``path:line``."""
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield lineno, line


def json_line(path: str | os.PathLike, lineno: int, line: str) -> dict:
    """One JSON-lines record as a dict; an error naming ``path:lineno`` when it is not one."""
    import json

    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"malformed JSON: {exc.msg} (column {exc.colno})", line=lineno) from None
    if not isinstance(obj, dict):
        raise InputError(path, f"expected a JSON object, found {type(obj).__name__}", line=lineno)
    return obj
