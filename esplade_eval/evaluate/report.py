"""Comparison reports, several renderings each: DataFrame, Markdown, LaTeX, CSV, JSON.

The DataFrame is the single source: every rendering is computed from it, so a number in
a pasted LaTeX table and the CSV beside it cannot disagree. This module only renders: it
imports nothing of the layer that computes (:mod:`~esplade_eval.evaluate.compare`).

* :class:`Report` (a baseline, or means only): a dagger (†, ``$^{\\dagger}$``) marks a system
  whose difference from the baseline is significant after the multiple-testing correction
  (``reject`` is true); without a correction it marks raw p < alpha, and the caption says
  so. Markdown and LaTeX carry a details table: Δ, its interval, d, wins/ties/losses, p raw
  and corrected, and name the test.
* :class:`~esplade_eval.evaluate.pairs_report.PairsReport` (all pairs, in its own module): ranx's
  superscript markers, a system's mean carries the letters of the systems it is significantly
  better than.

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

from esplade_eval._format import (
    DAGGER,
    DAGGER_TEX,
    fixed,
    integer,
    is_number,
    md_escape,
    md_table,
    missing,
    pvalue,
    signed,
    tex_escape,
)
from esplade_eval.defaults import FORMATS

FAILED = "failed"
TEST_NAMES = {"t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test", "permutation": "paired randomisation test",
              None: None,
              # set by a caller that re-tests the pairs over queries x seeds (esplade_eval.study.stats.all_pairs)
              "seeds": "seed-aware test over queries x seeds (variance components, Satterthwaite df)"}
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
        return FAILED if measure in self.failed else fixed(self.table.at[system, measure], digits)

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
        return not missing(value) and bool(value)

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
                         f"{DAGGER} = {what}; Δ = system − baseline, {self._ci_text()}, d = Cohen's d_z.")
        return " ".join(parts)

    # -- Markdown -----------------------------------------------------------------------------
    def to_markdown(self, digits: int = 4) -> str:
        """A GitHub Markdown summary table (mean, delta and marker per measure), details, notes."""
        lines = [self.summary(), ""]
        header = ["system"] + self.measures
        rows = []
        for s in self.systems:
            label = f"{s} (baseline)" if s == self.baseline else s
            rows.append([md_escape(label)] + [self._cell(s, m, digits, DAGGER) for m in self.measures])
        lines += md_table(header, rows, ["l"] + ["r"] * len(self.measures))
        if self.baseline is not None and len(self.systems) > 1:
            lines += ["", f"Details (vs {md_escape(self.baseline)}, {self._test_text()}):", ""]
            head, det = self._details(digits, DAGGER, md_escape)
            lines += md_table(head, det, ["l", "l"] + ["r"] * (len(head) - 2))
        if self.notes:
            lines += [""] + [f"- {md_escape(n)}" for n in self.notes]
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
                row = [escape(s), escape(m), fixed(t.at[s, m], digits), signed(t.at[s, f"{m} delta"], digits),
                       f"[{signed(t.at[s, f'{m} ci low'], digits)}, {signed(t.at[s, f'{m} ci high'], digits)}]",
                       fixed(t.at[s, f"{m} d"], 2),
                       f"{integer(t.at[s, f'{m} +'])}/{integer(t.at[s, f'{m} ='])}/{integer(t.at[s, f'{m} -'])}",
                       pvalue(t.at[s, f"{m} p-value"]),
                       pvalue(t.at[s, f"{m} p-value corrected"]) + (marker if self.significant(s, m) else "")]
                if len(head) > 9:
                    row += [pvalue(t.at[s, f"{m} wilcoxon p-value"]), pvalue(t.at[s, f"{m} wilcoxon p-value corrected"])]
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
        out = _tex_open("l" + "r" * len(self.measures), ["System"] + [tex_escape(m) for m in self.measures])
        for s in self.systems:
            cells = [tex_escape(s) + (" (baseline)" if s == self.baseline else "")]
            for m in self.measures:
                value = self._value(s, m, digits)
                if m in best and is_number(t.at[s, m]) and math.isclose(t.at[s, m], best[m], rel_tol=0,
                                                                     abs_tol=0.5 * 10 ** -digits):
                    value = rf"\textbf{{{value}}}"
                cells.append(value + (DAGGER_TEX if self.significant(s, m) else ""))
            out.append(" & ".join(cells) + r" \\")
        out += _tex_close(caption or self._latex_caption(), label)
        if details and self.baseline is not None and len(self.systems) > 1:
            head, rows = self._details(digits, DAGGER_TEX, tex_escape)
            head = [tex_escape(h).replace("Δ", r"$\Delta$").replace("−", "--") for h in head]
            out += ["", *_tex_open("ll" + "r" * (len(head) - 2), head)]
            out += [" & ".join(c.replace("−", "--") for c in r) + r" \\" for r in rows]
            out += _tex_close(self._details_caption(), label + "-details")
        return "\n".join(out) + "\n"

    def _latex_caption(self) -> str:
        caption = f"Mean over {len(self.queries)} queries; best per measure in bold."
        if self.baseline is not None:
            test, base = TEST_NAMES[self.test], tex_escape(self.baseline)
            what = (f"significant difference from {base} ({test}, "
                    f"{CORRECTION_NAMES.get(self.correction, self.correction)} correction, $\\alpha={self.alpha:g}$)"
                    if self.correction else f"$p<{self.alpha:g}$ vs {base} ({test}, uncorrected)")
            caption += f" {DAGGER_TEX}: {what}."
        if self.failed:
            caption += " " + tex_escape(f"{FAILED}: {', '.join(self.failed)} could not be computed.")
        return caption

    def _details_caption(self) -> str:
        n = len(self.systems) - 1
        return (f"Differences from {tex_escape(self.baseline)} over {len(self.queries)} queries: "
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
            text += f" ({signed(self.table.at[system, f'{measure} delta'], digits)})"
            if self.significant(system, measure):
                text += marker
        return text


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
    rows = [[fixed(v, digits) if is_number(v) else str(v) for v in rec] for rec in flat.itertuples(index=False)]
    if fmt == "markdown":
        aligns = ["r" if is_number(v) else "l" for v in (flat.iloc[0] if len(flat) else header)]
        return "\n".join(md_table([md_escape(h) for h in header], [[md_escape(c) for c in r] for r in rows], aligns)) + "\n"
    out = [rf"\begin{{tabular}}{{{'l' * len(header)}}}", r"\toprule", " & ".join(tex_escape(h) for h in header) + r" \\",
           r"\midrule"]
    out += [" & ".join(tex_escape(c) for c in r) + r" \\" for r in rows]
    return "\n".join(out + [r"\bottomrule", r"\end{tabular}"]) + "\n"


# -- formatting helpers -----------------------------------------------------------------------
def _tex_open(cols: str, header: list[str]) -> list[str]:
    return [r"\begin{table}[t]", r"\centering", rf"\begin{{tabular}}{{{cols}}}", r"\toprule",
            " & ".join(header) + r" \\", r"\midrule"]


def _tex_close(caption: str, label: str) -> list[str]:
    return [r"\bottomrule", r"\end{tabular}", rf"\caption{{{caption}}}", rf"\label{{{label}}}", r"\end{table}"]


def _json(v):
    if missing(v):
        return None
    if isinstance(v, (bool,)) or type(v).__name__ in ("bool_", "bool"):
        return bool(v)
    if hasattr(v, "item"):
        v = v.item()
    return v
