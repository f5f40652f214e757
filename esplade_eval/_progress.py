"""Progress bars for long stages: tqdm on stderr, with totals and rates, quiet when nobody watches.

A bar shows only when stderr is a terminal (a log file or a pipe gets no carriage-return
noise), unless forced on (``--progress``) or off (``--quiet``, or :func:`set_quiet`).
Libraries take ``progress=None`` (automatic), ``True`` or ``False`` and call :func:`bar`.

>>> with bar(total=3, desc="demo", enabled=False) as b:
...     b.update(3)
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

_QUIET = False


def set_quiet(quiet: bool = True) -> None:
    """Silence every bar of this process (the CLI's ``--quiet``)."""
    global _QUIET
    _QUIET = bool(quiet)


@contextlib.contextmanager
def quiet_scope() -> Iterator[None]:
    """Whatever :func:`set_quiet` is called with inside, the setting before is restored on exit
    (one command's ``--quiet`` does not silence the next call in the same process)."""
    global _QUIET
    before = _QUIET
    try:
        yield
    finally:
        _QUIET = before


def shown(enabled: bool | None = None) -> bool:
    """Whether a bar would show: forced by ``enabled``, else only on a terminal; never when quiet."""
    if _QUIET:
        return False
    if enabled is not None:
        return bool(enabled)
    stream = sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


def bar(total: int | float | None = None, desc: str = "", unit: str = "it", enabled: bool | None = None,
        leave: bool = True, **kwargs):
    """A tqdm bar (disabled, and free, when not :func:`shown`)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not shown(enabled), leave=leave, dynamic_ncols=True,
                mininterval=0.5, file=sys.stderr, **kwargs)
