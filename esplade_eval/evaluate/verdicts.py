"""Decision rules that turn a seed-aware test into a verdict, each with its rule as text.

A verdict is *supported*, *contradicted* or *inconclusive*; the rule that produced it is
returned beside it so that every report can print the two together.

* :func:`equivalence`: a claim that a change "changes little" (within ``±margin``) is
  supported when the 90% interval of Δ lies inside ``±margin`` (two one-sided tests at
  alpha 0.05), contradicted only when the 95% interval lies entirely outside it (Δ is then
  shown to exceed the margin), otherwise inconclusive.

>>> from esplade_eval.evaluate.seeds import t_test
>>> equivalence(t_test(0.001, 0.004, 100, "t"), 0.02).verdict
'supported'
>>> equivalence(t_test(-0.05, 0.01, 100, "t"), 0.02).verdict
'contradicted'
>>> equivalence(t_test(-0.03, 0.015, 100, "t"), 0.02).verdict
'inconclusive'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from esplade_eval.errors import EspladeError

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"


@dataclass(frozen=True)
class Verdict:
    """A verdict, the rule that gave it, and the numbers the rule read."""

    verdict: str
    rule: str
    evidence: dict

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "rule": self.rule, **self.evidence}

    def __str__(self) -> str:
        return f"{self.verdict} (rule: {self.rule})"


def equivalence_rule(margin: float) -> str:
    """The text of :func:`equivalence`'s rule for ``margin``."""
    return (f"supported when the 90% confidence interval of the difference lies inside ±{margin:g} "
            f"(two one-sided tests at alpha 0.05); contradicted only when the 95% confidence interval lies "
            f"entirely outside ±{margin:g}; otherwise inconclusive. Intervals from the seed-aware test "
            "(query and seed variance, Satterthwaite df).")


def equivalence(test, margin: float) -> Verdict:
    """The equivalence verdict of ``test`` (anything with ``ci90`` and ``ci95``) for ``margin``.

    An interval that cannot be computed (NaN) gives *inconclusive*.
    """
    if not margin > 0:
        raise EspladeError(f"the equivalence margin must be positive, got {margin}")
    (lo90, hi90), (lo95, hi95) = test.ci90, test.ci95
    if any(math.isnan(x) for x in (lo90, hi90, lo95, hi95)):
        verdict = INCONCLUSIVE
    elif -margin < lo90 and hi90 < margin:
        verdict = SUPPORTED
    elif lo95 > margin or hi95 < -margin:
        verdict = CONTRADICTED
    else:
        verdict = INCONCLUSIVE
    evidence = {"delta": test.delta, "margin": margin, "ci90": tuple(test.ci90), "ci95": tuple(test.ci95)}
    return Verdict(verdict, equivalence_rule(margin), evidence)
