"""Generic checks of a config table: collected problems, typed values, names.

Every problem is collected (:class:`Problems`), none raised here; :mod:`.schema` states the
study config's keys with them.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from dataclasses import fields
from typing import Any

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_MISSING = object()


class Problems:
    """Collected ``(key, problem)`` pairs."""

    def __init__(self):
        self.items: list[tuple[str, str]] = []

    def add(self, key: str, problem: str) -> None:
        if (key, problem) not in self.items:
            self.items.append((key, problem))

    def __bool__(self) -> bool:
        return bool(self.items)

    def unknown(self, table: dict, known, prefix: str, reserved: dict | None = None) -> None:
        """An entry per key of ``table`` that is neither known nor reserved."""
        for key in table:
            where = join(prefix, key)
            if reserved and key in reserved:
                self.add(where, f"set by the study: {reserved[key]}")
            elif key not in known:
                close = difflib.get_close_matches(key, list(known), 1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; known keys: {', '.join(sorted(known))}"
                self.add(where, f"unknown key{hint}")


def join(prefix: str, key) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else str(key)


def valid_name(name) -> bool:
    return isinstance(name, str) and bool(_NAME.match(name))


# --- types ----------------------------------------------------------------------------

def _describe(hint) -> str:
    if hint is float:
        return "a number"
    if hint is int:
        return "an integer"
    if hint is bool:
        return "true or false"
    if hint is str:
        return "a string"
    origin = typing.get_origin(hint)
    if origin is list:
        return f"a list of {_describe(typing.get_args(hint)[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin in (typing.Union, types.UnionType):
        parts = [_describe(h) for h in typing.get_args(hint) if h is not type(None)]
        return " or ".join(parts) + (" (or \"none\")" if type(None) in typing.get_args(hint) else "")
    return str(hint)


def conforms(value, hint) -> bool:
    """Whether a TOML value fits a dataclass annotation (int is a number; bool is not an int)."""
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, h) for h in typing.get_args(hint))
    if origin is list:
        return isinstance(value, list) and all(conforms(v, typing.get_args(hint)[0]) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return True


def _optional(hint) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


def typed(value, hint, key: str, problems: Problems):
    """``value`` checked against ``hint`` (``"none"`` unsets an optional field); _MISSING when wrong."""
    if _optional(hint) and value == "none":
        return None
    if not conforms(value, hint):
        problems.add(key, f"expected {_describe(hint)}, got {value!r}")
        return _MISSING
    if hint is float or (typing.get_origin(hint) in (typing.Union, types.UnionType) and float in typing.get_args(hint)
                         and isinstance(value, int) and not isinstance(value, bool)):
        return float(value)
    return value


def get(table: dict, key: str, hint, problems: Problems, prefix: str = "", default=None, minimum=None):
    """``table[key]`` checked (``default`` when absent or wrong)."""
    if key not in table:
        return default
    value = typed(table[key], hint, join(prefix, key), problems)
    if value is _MISSING:
        return default
    if minimum is not None and value is not None and value < minimum:
        problems.add(join(prefix, key), f"must be >= {minimum}, got {value!r}")
        return default
    return value


def table(raw: dict, key: str, problems: Problems) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        problems.add(key, f"expected a table ([{key}]), got {value!r}")
        return {}
    return value


def dataclass_hints(cls) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def format_value(value) -> str:
    """A short, readable, exact text for a name: ``0.001`` -> ``1e-3``, ``2.5e-4`` -> ``2.5e-4``.

    >>> [format_value(v) for v in (0.001, 0.00025, 3, 1.5, "splade-tiny", None, "my/file.txt")]
    ['1e-3', '2.5e-4', '3', '1.5', 'splade-tiny', 'none', 'file']
    """
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != 0 and (abs(value) < 0.01 or abs(value) >= 1e5):
            mantissa, exp = f"{value:.12e}".split("e")
            mantissa = mantissa.rstrip("0").rstrip(".")
            return f"{mantissa}e{int(exp)}"
        return f"{value:g}" if float(f"{value:g}") == value else repr(value)
    if isinstance(value, list):
        return "+".join(format_value(v) for v in value)
    text = str(value)
    if os.sep in text or "." in os.path.basename(text):
        text = os.path.splitext(os.path.basename(text))[0]
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", text).strip("-") or "x"
