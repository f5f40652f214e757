"""How every report writes numbers, p-values, significance marks, tables and figures.

One module at the bottom layer, so a p-value reads the same in every file of a results
folder (``compare``'s tables, a study's ``findings.md``, ``pairs.md`` and ``results.md``):

* a p-value (:func:`pvalue`): 4 decimals, or scientific notation with two decimals
  below 0.001 (``0.0123``, ``2.00e-04``); a missing value is ``–``;
* a significant difference after correction is marked :data:`DAGGER` (``†``; LaTeX
  :data:`DAGGER_TEX`);
* numbers: fixed decimals (:func:`fixed`, :func:`signed`), readable magnitudes for results
  pages (:func:`readable`: thousands separated, fewer decimals above 100), ``mean ± sd``
  (:func:`mean_sd`), and the cost tables' 4 significant digits (:func:`compact`);
* figures (:func:`figure`, :func:`save_figure`): matplotlib's object API (no pyplot, no
  global state), constrained layout, written atomically at 120 dpi.

>>> pvalue(0.01234), pvalue(0.0002), pvalue(float("nan"))
('0.0123', '2.00e-04', '–')
>>> readable(12345.6), readable(123.45), mean_sd(0.5, 0.01), compact(0.1234567), compact(2.0)
('12,346', '123.5', '0.5000 ± 0.0100', '0.1235', '2')
"""

from __future__ import annotations

import math
import os
from pathlib import Path

#: a value that is not there (a failed measure, one seed's sd, an untested pair)
MISSING = "–"
#: the mark of a difference that is significant after the multiple-testing correction
DAGGER = "†"
DAGGER_TEX = r"$^{\dagger}$"
#: dots per inch of every figure
DPI = 120


def _na():
    import pandas as pd

    return pd.NA


def is_number(v) -> bool:
    """A Python or numpy number (never a bool)."""
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            or type(v).__module__ == "numpy" and hasattr(v, "dtype") and v.dtype.kind in "fiu")


def missing(v) -> bool:
    """None, NaN or ``pandas.NA``."""
    if v is None or (not isinstance(v, (str, int, float)) and v is _na()):
        return True
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return False


def fixed(v, digits: int) -> str:
    """``digits`` decimals."""
    return MISSING if missing(v) else f"{float(v):.{digits}f}"


def signed(v, digits: int) -> str:
    """``digits`` decimals with a sign."""
    return MISSING if missing(v) else f"{float(v):+.{digits}f}"


def integer(v) -> str:
    return MISSING if missing(v) else str(int(v))


def pvalue(p) -> str:
    """The one form of a p-value in every report."""
    if missing(p):
        return MISSING
    p = float(p)
    return f"{p:.2e}" if p < 1e-3 else f"{p:.4f}"


def readable(v, digits: int = 4) -> str:
    """A results page's number: thousands separated from 1000, one decimal from 100."""
    if missing(v):
        return MISSING
    v = float(v)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def readable_signed(v, digits: int = 4) -> str:
    """A difference on a results page: signed, thousands separated from 100."""
    if missing(v):
        return MISSING
    return f"{v:+,.0f}" if abs(v) >= 100 else f"{v:+.{digits}f}"


def mean_sd(mean, sd, digits: int = 4) -> str:
    """``mean ± sd``; the mean alone for one seed."""
    if missing(mean):
        return MISSING
    return readable(mean, digits) if missing(sd) else f"{readable(mean, digits)} ± {readable(sd, digits)}"


def compact(value) -> str:
    """A cost table's cell: integers in full, other numbers to 4 significant digits, None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.4g}"


def md_escape(text) -> str:
    return str(text).replace("|", r"\|")


def md_table(header: list[str], rows: list[list], aligns: list[str] | None = None) -> list[str]:
    """A GitHub Markdown table; ``aligns``: ``"r"`` right-aligns a column (default: none aligned)."""
    sep = ["---:" if a == "r" else "---" for a in aligns] if aligns else None
    rule = "| " + " | ".join(sep) + " |" if sep else "|" + "|".join("---" for _ in header) + "|"
    return ["| " + " | ".join(header) + " |", rule] + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
        "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex_escape(text, math_ok: bool = False) -> str:
    """LaTeX-safe text; ``math_ok``: our own caption text, its math kept."""
    if math_ok:
        return str(text).replace("_", r"\_").replace("&", r"\&").replace("%", r"\%").replace("#", r"\#")
    return "".join(_TEX.get(ch, ch) for ch in str(text))


def figure(width: float = 6.4, height: float = 4.8, ncols: int = 1):
    """``(figure, axes)``: no pyplot (no global state; the Agg canvas is made on save)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(1, ncols)


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Write a figure atomically (never seen half-written), in the format of its suffix (PNG without one)."""
    from esplade_eval._io import atomic_file

    path = Path(path)
    with atomic_file(path, "wb") as fh:
        fig.savefig(fh, dpi=DPI, format=path.suffix.lstrip(".") or "png")
    return path
