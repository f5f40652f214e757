"""One comparison report, several renderings: DataFrame, Markdown, LaTeX, CSV, JSON.

The DataFrame is the single source: every rendering is computed from it, so a number in
a pasted LaTeX table and the CSV beside it cannot disagree.

Significance markers (Markdown and LaTeX): a dagger (†, ``$^{\\dagger}$``) marks a system
whose difference from the baseline is significant after the multiple-testing correction
(``reject`` is true); without a correction it marks raw p < alpha, and the caption says so.

>>> from esplade_eval.evaluate import compare, evaluate
>>> rep = compare(evaluate({"q1": {"a": 1}}, {"s": {"q1": {"a": 1.0}}}, ["AP"]), missing="zero")
>>> print(rep.to_markdown().splitlines()[2])
| system | AP |
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("markdown", "latex", "csv", "json")
DAGGER_MD = "†"
DAGGER_TEX = r"$^{\dagger}$"


@dataclass
class Report:
    """The result of :func:`~esplade_eval.evaluate.compare.compare`.

    Attributes:
        table: one row per system (baseline first), columns as documented in ``compare``.
        measures: measure names, in column order.
        baseline: the baseline system, or None for a table of means.
        queries: the query ids the numbers are computed over.
        correction: multiple-testing correction used, or None.
        alpha: significance level.
        wilcoxon: whether Wilcoxon p-values are included.
        confidence: level of the interval of the mean difference.
        notes: facts about the query set and missing queries.
        per_query: the per-query values compared, index (system, qid).
    """

    table: Any
    measures: list[str]
    baseline: str | None
    queries: list[str]
    correction: str | None = None
    alpha: float = 0.05
    wilcoxon: bool = False
    confidence: float = 0.95
    notes: list[str] = field(default_factory=list)
    per_query: Any = None

    # -- data ---------------------------------------------------------------------------------
    @property
    def systems(self) -> list[str]:
        return list(self.table.index)

    def to_dataframe(self):
        """A copy of the full table (pandas DataFrame, index ``system``)."""
        return self.table.copy()

    def significant(self, system: str, measure: str) -> bool:
        """Whether the system differs from the baseline on the measure (corrected if a correction was used)."""
        col = f"{measure} reject"
        if col not in self.table or system == self.baseline:
            return False
        value = self.table.at[system, col]
        return not _missing(value) and bool(value)

    def summary(self) -> str:
        """One paragraph: what was compared, how, and what the marker means."""
        parts = [f"Mean over {len(self.queries)} queries."]
        if self.baseline is not None:
            n = len(self.systems) - 1
            corr = (f"{self.correction.capitalize()} correction across {n} system{'s' if n != 1 else ''} per measure"
                    if self.correction else "no multiple-testing correction")
            test = "paired t-test" + (" (Wilcoxon signed-rank also reported)" if self.wilcoxon else "")
            what = "significant after correction" if self.correction else "raw p < alpha"
            parts.append(f"Baseline: {self.baseline}; {test}, {corr}, alpha = {self.alpha:g}; "
                         f"{DAGGER_MD} = {what}; Δ = system − baseline, {self.confidence:.0%} CI of Δ, d = Cohen's d_z.")
        return " ".join(parts)

    # -- renderings ---------------------------------------------------------------------------
    def render(self, fmt: str = "markdown", digits: int = 4) -> str:
        """Render in one of :data:`FORMATS`."""
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
        if fmt == "markdown":
            return self.to_markdown(digits)
        if fmt == "latex":
            return self.to_latex(digits)
        if fmt == "csv":
            return self.to_csv()
        return self.to_json()

    def to_markdown(self, digits: int = 4) -> str:
        """A GitHub Markdown summary table (mean, delta and marker per measure), details, notes."""
        lines = [self.summary(), ""]
        header = ["system"] + self.measures
        rows = []
        for s in self.systems:
            label = f"{s} (baseline)" if s == self.baseline else s
            rows.append([_md_escape(label)] + [self._cell(s, m, digits, DAGGER_MD) for m in self.measures])
        lines += _md_table(header, rows, ["l"] + ["r"] * len(self.measures))
        if self.baseline is not None and len(self.systems) > 1:
            lines += ["", f"Details (vs {_md_escape(self.baseline)}):", ""]
            head = ["system", "measure", "mean", "Δ", f"{self.confidence:.0%} CI of Δ", "d", "+/=/−", "p", "p corrected"]
            if self.wilcoxon:
                head += ["Wilcoxon p", "Wilcoxon p corrected"]
            det = []
            t = self.table
            for s in self.systems[1:]:
                for m in self.measures:
                    row = [_md_escape(s), m, _num(t.at[s, m], digits), _signed(t.at[s, f"{m} delta"], digits),
                           f"[{_signed(t.at[s, f'{m} ci low'], digits)}, {_signed(t.at[s, f'{m} ci high'], digits)}]",
                           _num(t.at[s, f"{m} d"], 2),
                           f"{_int(t.at[s, f'{m} +'])}/{_int(t.at[s, f'{m} ='])}/{_int(t.at[s, f'{m} -'])}",
                           _p(t.at[s, f"{m} p-value"]),
                           _p(t.at[s, f"{m} p-value corrected"]) + (DAGGER_MD if self.significant(s, m) else "")]
                    if self.wilcoxon:
                        row += [_p(t.at[s, f"{m} wilcoxon p-value"]), _p(t.at[s, f"{m} wilcoxon p-value corrected"])]
                    det.append(row)
            lines += _md_table(head, det, ["l", "l"] + ["r"] * (len(head) - 2))
        if self.notes:
            lines += [""] + [f"- {_md_escape(n)}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def to_latex(self, digits: int = 4, caption: str | None = None, label: str = "tab:results") -> str:
        r"""A booktabs ``table`` for papers: means, the best per measure in bold, ``$^{\dagger}$`` markers."""
        t = self.table
        best = {m: t[m].max() for m in self.measures}
        cols = "l" + "r" * len(self.measures)
        out = [r"\begin{table}[t]", r"\centering", rf"\begin{{tabular}}{{{cols}}}", r"\toprule",
               " & ".join(["System"] + [_tex_escape(m) for m in self.measures]) + r" \\", r"\midrule"]
        for s in self.systems:
            cells = [_tex_escape(s) + (" (baseline)" if s == self.baseline else "")]
            for m in self.measures:
                value = _num(t.at[s, m], digits)
                if _isnum(t.at[s, m]) and math.isclose(t.at[s, m], best[m], rel_tol=0, abs_tol=0.5 * 10 ** -digits):
                    value = rf"\textbf{{{value}}}"
                cells.append(value + (DAGGER_TEX if self.significant(s, m) else ""))
            out.append(" & ".join(cells) + r" \\")
        if caption is None:
            caption = f"Mean over {len(self.queries)} queries; best per measure in bold."
            if self.baseline is not None:
                what = (f"significant difference from {self.baseline} (paired t-test, {self.correction.capitalize()}"
                        f" correction, $\\alpha={self.alpha:g}$)" if self.correction else
                        f"$p<{self.alpha:g}$ vs {self.baseline} (paired t-test, uncorrected)")
                caption += f" {DAGGER_TEX}: {_tex_escape(what, math_ok=True)}."
        out += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{caption}}}", rf"\label{{{label}}}", r"\end{table}"]
        return "\n".join(out) + "\n"

    def to_csv(self) -> str:
        """The full table as CSV (one row per system, every column, full precision)."""
        buf = io.StringIO()
        self.table.to_csv(buf)
        return buf.getvalue()

    def to_dict(self) -> dict:
        """JSON-ready structure: settings, query set, notes and one record per system."""
        records = []
        for s in self.systems:
            rec: dict[str, Any] = {"system": s, "baseline": s == self.baseline}
            for m in self.measures:
                stats = {"mean": _json(self.table.at[s, m])}
                for c in self.table.columns:
                    if c.startswith(m + " ") and c[len(m) + 1:] not in stats:
                        stats[c[len(m) + 1:]] = _json(self.table.at[s, c])
                rec[m] = stats
            records.append(rec)
        return {"baseline": self.baseline, "measures": self.measures, "test": "paired t-test" if self.baseline else None,
                "wilcoxon": self.wilcoxon, "correction": self.correction, "alpha": self.alpha,
                "confidence": self.confidence, "n_queries": len(self.queries), "queries": list(self.queries),
                "notes": self.notes, "systems": records}

    def to_json(self, indent: int = 2) -> str:
        """:meth:`to_dict` as JSON (NaN becomes null)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False) + "\n"

    def _cell(self, system: str, measure: str, digits: int, marker: str) -> str:
        t = self.table
        text = _num(t.at[system, measure], digits)
        if self.baseline is not None and system != self.baseline:
            text += f" ({_signed(t.at[system, f'{measure} delta'], digits)})"
            if self.significant(system, measure):
                text += marker
        return text

    def __str__(self) -> str:
        return self.to_markdown()


def render_frame(frame, fmt: str = "markdown", digits: int = 4) -> str:
    """Render a plain DataFrame (e.g. per-query values) in one of :data:`FORMATS`."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    flat = frame.reset_index()
    if fmt == "csv":
        return flat.to_csv(index=False)
    if fmt == "json":
        return json.dumps([{k: _json(v) for k, v in rec.items()} for rec in flat.to_dict(orient="records")],
                          indent=2, ensure_ascii=False) + "\n"
    header = [str(c) for c in flat.columns]
    rows = [[_num(v, digits) if _isnum(v) else str(v) for v in rec] for rec in flat.itertuples(index=False)]
    if fmt == "markdown":
        aligns = ["r" if _isnum(v) else "l" for v in (flat.iloc[0] if len(flat) else header)]
        return "\n".join(_md_table([_md_escape(h) for h in header], [[_md_escape(c) for c in r] for r in rows], aligns)) + "\n"
    out = [rf"\begin{{tabular}}{{{'l' * len(header)}}}", r"\toprule", " & ".join(_tex_escape(h) for h in header) + r" \\",
           r"\midrule"]
    out += [" & ".join(_tex_escape(c) for c in r) + r" \\" for r in rows]
    return "\n".join(out + [r"\bottomrule", r"\end{tabular}"]) + "\n"


# -- formatting helpers -----------------------------------------------------------------------
def _na():
    import pandas as pd

    return pd.NA


def _isnum(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) or type(v).__module__ == "numpy" and hasattr(v, "dtype") and v.dtype.kind in "fiu"


def _missing(v) -> bool:
    if v is None or v is _na():
        return True
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return False


def _num(v, digits: int) -> str:
    return "–" if _missing(v) else f"{float(v):.{digits}f}"


def _signed(v, digits: int) -> str:
    return "–" if _missing(v) else f"{float(v):+.{digits}f}"


def _int(v) -> str:
    return "–" if _missing(v) else str(int(v))


def _p(v) -> str:
    if _missing(v):
        return "–"
    v = float(v)
    return f"{v:.2e}" if v < 1e-3 else f"{v:.4f}"


def _json(v):
    if _missing(v):
        return None
    if isinstance(v, (bool,)) or type(v).__name__ in ("bool_", "bool"):
        return bool(v)
    if hasattr(v, "item"):
        v = v.item()
    return v


def _md_escape(text: str) -> str:
    return str(text).replace("|", r"\|")


def _md_table(header: list[str], rows: list[list[str]], aligns: list[str]) -> list[str]:
    sep = ["---:" if a == "r" else "---" for a in aligns]
    return ["| " + " | ".join(r) + " |" for r in [header, sep, *rows]]


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
        "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex_escape(text: str, math_ok: bool = False) -> str:
    if math_ok:  # our own caption text: keep its math, escape only what a system name could add
        return str(text).replace("_", r"\_").replace("&", r"\&").replace("%", r"\%").replace("#", r"\#")
    return "".join(_TEX.get(ch, ch) for ch in str(text))
