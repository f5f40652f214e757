"""Comparison reports, several renderings each: DataFrame, Markdown, LaTeX, CSV, JSON.

The DataFrame is the single source: every rendering is computed from it, so a number in
a pasted LaTeX table and the CSV beside it cannot disagree. This module only renders: it
imports nothing of the layer that computes (:mod:`~esplade_eval.evaluate.compare`).

* :class:`Report` (a baseline, or means only): a dagger (†, ``$^{\\dagger}$``) marks a system
  whose difference from the baseline is significant after the multiple-testing correction
  (``reject`` is true); without a correction it marks raw p < alpha, and the caption says
  so. Markdown and LaTeX carry a details table: Δ, its interval, d, wins/ties/losses, p raw
  and corrected, and name the test.
* :class:`PairsReport` (all pairs): ranx's superscript markers, a system's mean carries the
  letters of the systems it is significantly better than.

>>> from esplade_eval.evaluate import compare, evaluate
>>> rep = compare(evaluate({"q1": {"a": 1}}, {"s": {"q1": {"a": 1.0}}}, ["AP"]))
>>> print(rep.to_markdown().splitlines()[2])
| system | AP |
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

from esplade_eval.defaults import FORMATS

DAGGER_MD = "†"
DAGGER_TEX = r"$^{\dagger}$"
FAILED = "failed"
TEST_NAMES = {"t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test", "permutation": "paired randomisation test",
              None: None}
CORRECTION_NAMES = {"holm": "Holm", "bonferroni": "Bonferroni", "holm-sidak": "Holm-Šidák", "sidak": "Šidák",
                    "fdr_bh": "Benjamini-Hochberg", "fdr_by": "Benjamini-Yekutieli"}


@dataclass
class _Base:
    """What both reports share: settings, query set, notes and the per-query values."""

    table: Any
    measures: list[str]
    queries: list[str]
    correction: str | None = None
    alpha: float = 0.05
    confidence: float = 0.95
    notes: list[str] = field(default_factory=list)
    per_query: Any = None
    test: str | None = "t"
    ci: str = "t"
    failed: dict[str, str] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    @property
    def systems(self) -> list[str]:
        return list(self.table.index)

    def scores(self, system: str, measure: str | None = None):
        """Per-query values of one system (index ``qid``): a DataFrame, or a Series for one measure.

        These are the paired values the tests ran on (after the missing-query policy).
        """
        frame = self.per_query.xs(system, level="system")
        return frame if measure is None else frame[measure]

    def _test_text(self) -> str:
        name = TEST_NAMES[self.test]
        if self.test == "permutation" and self.settings.get("permutations"):
            name += f" ({self.settings['permutations']:,} sign patterns at most, exact when fewer exist)"
        return name

    def _correction_text(self, family: str) -> str:
        if not self.correction:
            return "no multiple-testing correction"
        return f"{CORRECTION_NAMES.get(self.correction, self.correction)} correction across {family}"

    def _ci_text(self, tex: bool = False) -> str:
        level = f"{self.confidence * 100:.4g}" + (r"\%" if tex else "%")
        delta = r"$\Delta$" if tex else "Δ"
        if self.ci == "bootstrap":
            return f"{level} percentile bootstrap CI of {delta} ({self.settings.get('resamples') or 0:,} resamples)"
        return f"{level} CI of {delta} (Student " + ("$t$)" if tex else "t)")

    def _ci_label(self) -> str:
        return f"{self.confidence * 100:.4g}% CI of Δ"

    def _value(self, system: str, measure: str, digits: int) -> str:
        return FAILED if measure in self.failed else _num(self.table.at[system, measure], digits)

    def render(self, fmt: str = "markdown", digits: int = 4) -> str:
        """Render in one of :data:`FORMATS`."""
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
        return {"markdown": lambda: self.to_markdown(digits), "latex": lambda: self.to_latex(digits),
                "csv": self.to_csv, "json": self.to_json}[fmt]()

    def to_json(self, indent: int = 2) -> str:
        """:meth:`to_dict` as JSON (NaN becomes null)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False) + "\n"

    def __str__(self) -> str:
        return self.to_markdown()


@dataclass
class Report(_Base):
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
        notes: facts about the query set, missing queries and failed measures.
        per_query: the per-query values compared, index (system, qid); see :meth:`scores`.
        test: ``"t"``, ``"wilcoxon"`` or ``"permutation"``: what ``p-value`` comes from.
        ci: ``"t"`` or ``"bootstrap"``: how the interval of Δ is computed.
        failed: measures that could not be computed, with the reason.
    """

    baseline: str | None = None
    wilcoxon: bool = False

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
            test = self._test_text() + (" (Wilcoxon signed-rank also reported)"
                                        if self.wilcoxon and self.test != "wilcoxon" else "")
            corr = self._correction_text(f"{n} system{'s' if n != 1 else ''} per measure")
            what = "significant after correction" if self.correction else "raw p < alpha"
            parts.append(f"Baseline: {self.baseline}; {test}, {corr}, alpha = {self.alpha:g}; "
                         f"{DAGGER_MD} = {what}; Δ = system − baseline, {self._ci_text()}, d = Cohen's d_z.")
        return " ".join(parts)

    # -- Markdown -----------------------------------------------------------------------------
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
            lines += ["", f"Details (vs {_md_escape(self.baseline)}, {self._test_text()}):", ""]
            head, det = self._details(digits, DAGGER_MD, _md_escape)
            lines += _md_table(head, det, ["l", "l"] + ["r"] * (len(head) - 2))
        if self.notes:
            lines += [""] + [f"- {_md_escape(n)}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def _details(self, digits: int, marker: str, escape) -> tuple[list[str], list[list[str]]]:
        """Header and rows of the details table: one row per (system, measure)."""
        head = ["system", "measure", "mean", "Δ", self._ci_label(), "d", "+/=/−", "p",
                "p corrected" if self.correction else "p (uncorrected)"]
        if self.wilcoxon and self.test != "wilcoxon":
            head += ["Wilcoxon p", "Wilcoxon p corrected"]
        rows, t = [], self.table
        for s in self.systems[1:]:
            for m in self.measures:
                if m in self.failed:
                    rows.append([escape(s), escape(m), FAILED] + ["–"] * (len(head) - 3))
                    continue
                row = [escape(s), escape(m), _num(t.at[s, m], digits), _signed(t.at[s, f"{m} delta"], digits),
                       f"[{_signed(t.at[s, f'{m} ci low'], digits)}, {_signed(t.at[s, f'{m} ci high'], digits)}]",
                       _num(t.at[s, f"{m} d"], 2),
                       f"{_int(t.at[s, f'{m} +'])}/{_int(t.at[s, f'{m} ='])}/{_int(t.at[s, f'{m} -'])}",
                       _p(t.at[s, f"{m} p-value"]),
                       _p(t.at[s, f"{m} p-value corrected"]) + (marker if self.significant(s, m) else "")]
                if len(head) > 9:
                    row += [_p(t.at[s, f"{m} wilcoxon p-value"]), _p(t.at[s, f"{m} wilcoxon p-value corrected"])]
                rows.append(row)
        return head, rows

    # -- LaTeX --------------------------------------------------------------------------------
    def to_latex(self, digits: int = 4, caption: str | None = None, label: str = "tab:results",
                 details: bool = True) -> str:
        r"""A booktabs ``table`` for papers: means, the best per measure in bold, ``$^{\dagger}$`` markers;
        with ``details`` (and a baseline) a second table with Δ, its interval, d, wins/ties/losses,
        p raw and corrected, and the test named in its caption."""
        t = self.table
        best = {m: t[m].max() for m in self.measures if m not in self.failed}
        out = _tex_open("l" + "r" * len(self.measures), ["System"] + [_tex_escape(m) for m in self.measures])
        for s in self.systems:
            cells = [_tex_escape(s) + (" (baseline)" if s == self.baseline else "")]
            for m in self.measures:
                value = self._value(s, m, digits)
                if m in best and _isnum(t.at[s, m]) and math.isclose(t.at[s, m], best[m], rel_tol=0,
                                                                     abs_tol=0.5 * 10 ** -digits):
                    value = rf"\textbf{{{value}}}"
                cells.append(value + (DAGGER_TEX if self.significant(s, m) else ""))
            out.append(" & ".join(cells) + r" \\")
        out += _tex_close(caption or self._latex_caption(), label)
        if details and self.baseline is not None and len(self.systems) > 1:
            head, rows = self._details(digits, DAGGER_TEX, _tex_escape)
            head = [_tex_escape(h).replace("Δ", r"$\Delta$").replace("−", "--") for h in head]
            out += ["", *_tex_open("ll" + "r" * (len(head) - 2), head)]
            out += [" & ".join(c.replace("−", "--") for c in r) + r" \\" for r in rows]
            out += _tex_close(self._details_caption(), label + "-details")
        return "\n".join(out) + "\n"

    def _latex_caption(self) -> str:
        caption = f"Mean over {len(self.queries)} queries; best per measure in bold."
        if self.baseline is not None:
            test, base = TEST_NAMES[self.test], _tex_escape(self.baseline)
            what = (f"significant difference from {base} ({test}, "
                    f"{CORRECTION_NAMES.get(self.correction, self.correction)} correction, $\\alpha={self.alpha:g}$)"
                    if self.correction else f"$p<{self.alpha:g}$ vs {base} ({test}, uncorrected)")
            caption += f" {DAGGER_TEX}: {what}."
        if self.failed:
            caption += " " + _tex_escape(f"{FAILED}: {', '.join(self.failed)} could not be computed.")
        return caption

    def _details_caption(self) -> str:
        n = len(self.systems) - 1
        return (f"Differences from {_tex_escape(self.baseline)} over {len(self.queries)} queries: "
                f"$\\Delta$ = system $-$ baseline, {self._ci_text(tex=True)}, $d$ = Cohen's $d_z$, +/=/-- = queries "
                f"above/equal/below the baseline, $p$ from the {self._test_text()}, "
                f"{self._correction_text(f'{n} system' + ('s' if n != 1 else '') + ' per measure')}, "
                f"$\\alpha={self.alpha:g}$.")

    # -- CSV / JSON ---------------------------------------------------------------------------
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
        return {"baseline": self.baseline, "measures": self.measures,
                "test": TEST_NAMES[self.test] if self.baseline else None, "wilcoxon": self.wilcoxon,
                "correction": self.correction, "alpha": self.alpha, "confidence": self.confidence, "ci": self.ci,
                "settings": self.settings, "failed": self.failed, "n_queries": len(self.queries),
                "queries": list(self.queries), "notes": self.notes, "systems": records}

    def _cell(self, system: str, measure: str, digits: int, marker: str) -> str:
        text = self._value(system, measure, digits)
        if self.baseline is not None and system != self.baseline and measure not in self.failed:
            text += f" ({_signed(self.table.at[system, f'{measure} delta'], digits)})"
            if self.significant(system, measure):
                text += marker
        return text


@dataclass
class PairsReport(_Base):
    """The result of :func:`~esplade_eval.evaluate.compare.compare_all_pairs`.

    Attributes:
        table: means, one row per system (given order), one column per measure.
        pairs: one row per (measure, pair): ``measure``, ``system``, ``other`` (earlier in the
            order), ``mean``, ``other mean``, ``delta`` (system − other), ``ci low``,
            ``ci high``, ``d``, ``+``, ``=``, ``-``, ``p-value``, ``p-value corrected``, ``reject``.
        Others as in :class:`Report`.
    """

    pairs: Any = None

    @property
    def letters(self) -> dict[str, str]:
        """The marker letter of every system: a, b, c ... in the given order."""
        return {s: _letter(i) for i, s in enumerate(self.systems)}

    def to_dataframe(self):
        """A copy of the pairs table (one row per measure and pair)."""
        return self.pairs.copy()

    def beats(self, system: str, measure: str) -> list[str]:
        """Systems this one is significantly better than on the measure."""
        p = self.pairs[(self.pairs["measure"] == measure) & self.pairs["reject"]]
        won = list(p.loc[(p["system"] == system) & (p["delta"] > 0), "other"])
        won += list(p.loc[(p["other"] == system) & (p["delta"] < 0), "system"])
        return [s for s in self.systems if s in won]

    def markers(self, system: str, measure: str) -> str:
        """The superscript letters of :meth:`beats` (ranx's convention)."""
        return "".join(self.letters[s] for s in self.beats(system, measure))

    def summary(self) -> str:
        k = len(self.systems)
        family = f"the {k * (k - 1) // 2} pairs per measure"
        what = "after correction" if self.correction else "raw p < alpha"
        return (f"Mean over {len(self.queries)} queries; every pair of systems, {self._test_text()}, "
                f"{self._correction_text(family)}, alpha = {self.alpha:g}. A superscript lists the systems "
                f"(by letter) that this one is significantly better than ({what}).")

    def to_markdown(self, digits: int = 4) -> str:
        """Means with superscript letters, then every pair (Δ, interval, p raw and corrected), notes."""
        lines = [self.summary(), ""]
        rows = []
        for s in self.systems:
            cells = []
            for m in self.measures:
                mark = "" if m in self.failed else self.markers(s, m)
                cells.append(self._value(s, m, digits) + (f"<sup>{mark}</sup>" if mark else ""))
            rows.append([self.letters[s], _md_escape(s), *cells])
        lines += _md_table(["", "system", *[_md_escape(m) for m in self.measures]], rows,
                           ["l", "l"] + ["r"] * len(self.measures))
        lines += ["", f"Pairs ({self._test_text()}; Δ = system − other, {self._ci_text()}):", ""]
        head, det = self._pair_rows(digits, _md_escape)
        lines += _md_table(head, det, ["l", "l", "l"] + ["r"] * (len(head) - 3))
        if self.notes:
            lines += [""] + [f"- {_md_escape(n)}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def _pair_rows(self, digits: int, escape) -> tuple[list[str], list[list[str]]]:
        head = ["measure", "system", "other", "Δ", self._ci_label(), "d", "+/=/−", "p",
                "p corrected" if self.correction else "p (uncorrected)", "significant"]
        rows = []
        for d in self.pairs.to_dict(orient="records"):
            rows.append([escape(d["measure"]), escape(d["system"]), escape(d["other"]), _signed(d["delta"], digits),
                         f"[{_signed(d['ci low'], digits)}, {_signed(d['ci high'], digits)}]", _num(d["d"], 2),
                         f"{_int(d['+'])}/{_int(d['='])}/{_int(d['-'])}", _p(d["p-value"]),
                         _p(d["p-value corrected"]), "yes" if d["reject"] else "no"])
        return head, rows

    def to_latex(self, digits: int = 4, caption: str | None = None, label: str = "tab:pairs",
                 details: bool = True) -> str:
        """Means with ``$^{ab}$`` markers (best in bold) and, with ``details``, every pair's Δ, interval and p."""
        best = {m: self.table[m].max() for m in self.measures if m not in self.failed}
        out = _tex_open("ll" + "r" * len(self.measures), ["", "System"] + [_tex_escape(m) for m in self.measures])
        for s in self.systems:
            cells = [self.letters[s], _tex_escape(s)]
            for m in self.measures:
                value = self._value(s, m, digits)
                if m in best and math.isclose(self.table.at[s, m], best[m], rel_tol=0, abs_tol=0.5 * 10 ** -digits):
                    value = rf"\textbf{{{value}}}"
                mark = "" if m in self.failed else self.markers(s, m)
                cells.append(value + (f"$^{{{mark}}}$" if mark else ""))
            out.append(" & ".join(cells) + r" \\")
        out += _tex_close(caption or _tex_escape(self.summary()), label)
        if details:
            head, rows = self._pair_rows(digits, _tex_escape)
            head = [_tex_escape(h).replace("Δ", r"$\Delta$").replace("−", "--") for h in head]
            out += ["", *_tex_open("lll" + "r" * (len(head) - 3), head)]
            out += [" & ".join(c.replace("−", "--") for c in r) + r" \\" for r in rows]
            text = (f"Every pair: $\\Delta$ = system $-$ other, {self._ci_text(tex=True)}, $p$ from the "
                    f"{self._test_text()}.")
            out += _tex_close(text, label + "-details")
        return "\n".join(out) + "\n"

    def to_csv(self) -> str:
        """The pairs table as CSV (full precision)."""
        return self.pairs.to_csv(index=False)

    def to_dict(self) -> dict:
        return {"mode": "all pairs", "measures": self.measures, "systems": self.systems, "letters": self.letters,
                "means": {s: {m: _json(self.table.at[s, m]) for m in self.measures} for s in self.systems},
                "test": TEST_NAMES[self.test], "correction": self.correction, "alpha": self.alpha,
                "confidence": self.confidence, "ci": self.ci, "settings": self.settings, "failed": self.failed,
                "n_queries": len(self.queries), "queries": list(self.queries), "notes": self.notes,
                "pairs": [{k: _json(v) for k, v in rec.items()} for rec in self.pairs.to_dict(orient="records")]}


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
def _letter(i: int) -> str:
    """a ... z, then aa, ab ... (ranx marks systems by letter)."""
    text = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        text = chr(ord("a") + r) + text
    return text


def _tex_open(cols: str, header: list[str]) -> list[str]:
    return [r"\begin{table}[t]", r"\centering", rf"\begin{{tabular}}{{{cols}}}", r"\toprule",
            " & ".join(header) + r" \\", r"\midrule"]


def _tex_close(caption: str, label: str) -> list[str]:
    return [r"\bottomrule", r"\end{tabular}", rf"\caption{{{caption}}}", rf"\label{{{label}}}", r"\end{table}"]


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
