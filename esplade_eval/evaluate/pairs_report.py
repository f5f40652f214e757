"""The all-pairs report (:func:`~esplade_eval.evaluate.compare.compare_all_pairs`): ranx's
superscript markers, a system's mean carries the letters of the systems it is significantly
better than; renderings as :class:`~esplade_eval.evaluate.report.Report`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from esplade_eval._format import fixed, integer, md_escape, md_table, pvalue, signed, tex_escape
from esplade_eval.evaluate.report import TEST_NAMES, _Base, _json, _tex_close, _tex_open


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
            rows.append([self.letters[s], md_escape(s), *cells])
        lines += md_table(["", "system", *[md_escape(m) for m in self.measures]], rows,
                           ["l", "l"] + ["r"] * len(self.measures))
        lines += ["", f"Pairs ({self._test_text()}; Δ = system − other, {self._ci_text()}):", ""]
        head, det = self._pair_rows(digits, md_escape)
        lines += md_table(head, det, ["l", "l", "l"] + ["r"] * (len(head) - 3))
        if self.notes:
            lines += [""] + [f"- {md_escape(n)}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def _pair_rows(self, digits: int, escape) -> tuple[list[str], list[list[str]]]:
        head = ["measure", "system", "other", "Δ", self._ci_label(), "d", "+/=/−", "p",
                "p corrected" if self.correction else "p (uncorrected)", "significant"]
        rows = []
        for d in self.pairs.to_dict(orient="records"):
            rows.append([escape(d["measure"]), escape(d["system"]), escape(d["other"]), signed(d["delta"], digits),
                         f"[{signed(d['ci low'], digits)}, {signed(d['ci high'], digits)}]", fixed(d["d"], 2),
                         f"{integer(d['+'])}/{integer(d['='])}/{integer(d['-'])}", pvalue(d["p-value"]),
                         pvalue(d["p-value corrected"]), "yes" if d["reject"] else "no"])
        return head, rows

    def to_latex(self, digits: int = 4, caption: str | None = None, label: str = "tab:pairs",
                 details: bool = True) -> str:
        """Means with ``$^{ab}$`` markers (best in bold) and, with ``details``, every pair's Δ, interval and p."""
        best = {m: self.table[m].max() for m in self.measures if m not in self.failed}
        out = _tex_open("ll" + "r" * len(self.measures), ["", "System"] + [tex_escape(m) for m in self.measures])
        for s in self.systems:
            cells = [self.letters[s], tex_escape(s)]
            for m in self.measures:
                value = self._value(s, m, digits)
                if m in best and math.isclose(self.table.at[s, m], best[m], rel_tol=0, abs_tol=0.5 * 10 ** -digits):
                    value = rf"\textbf{{{value}}}"
                mark = "" if m in self.failed else self.markers(s, m)
                cells.append(value + (f"$^{{{mark}}}$" if mark else ""))
            out.append(" & ".join(cells) + r" \\")
        out += _tex_close(caption or tex_escape(self.summary()), label)
        if details:
            head, rows = self._pair_rows(digits, tex_escape)
            head = [tex_escape(h).replace("Δ", r"$\Delta$").replace("−", "--") for h in head]
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


def _letter(i: int) -> str:
    """a ... z, then aa, ab ... (ranx marks systems by letter)."""
    text = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        text = chr(ord("a") + r) + text
    return text
