"""Measure names: ir_measures strings and trec_eval names, both ways.

A measure is an ir_measures object whose canonical text (``nDCG@10``) is its identity.
Users also type trec_eval's names (``ndcg_cut.10``, ``map``, ``recall.100``, ``P.5``,
``recip_rank``, ``bpref``): a name that is not valid ir_measures syntax is read as a
trec_eval name by ir_measures' own ``parse_trec_measure``, so ``map`` is ``AP`` and
``ndcg_cut.5,10`` is ``nDCG@5`` and ``nDCG@10``; a bare trec_eval family with default
cut-offs (``P``, ``ndcg_cut``) keeps ir_measures' meaning when it has one (``P`` is
precision of the whole ranking), otherwise expands like trec_eval (``recall`` is R@5 ...
R@1000). The reverse, :func:`trec_eval_name`, names output columns the way ``trec_eval -q``
prints them.

>>> [str(m) for m in parse_measures(["nDCG@10", "map", "recall.100", "P.5", "recip_rank"])]
['nDCG@10', 'AP', 'R@100', 'P@5', 'RR']
>>> [trec_eval_name(m) for m in parse_measures(["nDCG@10", "AP", "R@100", "RR", "RR@10"])]
['ndcg_cut_10', 'map', 'recall_100', 'recip_rank', 'RR@10']
"""

from __future__ import annotations

import contextlib
import io
from typing import Iterable

from esplade_eval.errors import EspladeError

#: ir_measures measure name -> (trec_eval name, name of the parameter trec_eval appends)
_TREC_NAMES = {
    "nDCG": ("ndcg", "ndcg_cut"), "P": ("P", "P"), "R": ("recall", "recall"), "AP": ("map", "map_cut"),
    "RR": ("recip_rank", None), "Rprec": ("Rprec", None), "Bpref": ("bpref", None), "infAP": ("infAP", None),
    "Success": (None, "success"), "NumRet": ("num_ret", None), "NumRel": ("num_rel", None),
    "NumRelRet": ("num_rel_ret", None), "NumQ": ("num_q", None), "SetP": ("set_P", None),
    "SetR": ("set_recall", None), "SetAP": ("set_map", None), "SetRelP": ("set_relative_P", None),
    "IPrec": (None, "iprec_at_recall"),
}
#: trec_eval measures printed as integers (``%ld``) rather than ``%6.4f``
INTEGER_MEASURES = frozenset({"num_ret", "num_rel", "num_rel_ret", "num_q"})
_EXAMPLES = "examples: nDCG@10, R@1000, RR@10, AP, Judged@10, or trec_eval names ndcg_cut.10, map, recall.100, P.5"


def parse_measure(spec: str) -> list:
    """ir_measures measure objects for one name: ir_measures syntax first, else trec_eval's.

    >>> [str(m) for m in parse_measure("ndcg_cut.5,10")]
    ['nDCG@5', 'nDCG@10']
    """
    import ir_measures

    text = spec.strip()
    try:
        parsed = ir_measures.parse_measure(text)
    except Exception as exc:  # ir_measures raises ValueError, NameError, SyntaxError, TypeError ...
        first = exc
    else:
        return [_checked(spec, parsed)]
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints "skipped [...]" for nicknames
            found = ir_measures.parse_trec_measure(text)
    except Exception:
        found = []
    if not found:
        raise EspladeError(f"unknown measure {spec!r}: {first} ({_EXAMPLES})")
    return [_checked(spec, m) for m in found]


#: the bounds pytrec_eval and the qrels reader accept: cut-offs, relevance levels (C ``int``)
_INT_MAX = 2**31 - 1


def _checked(spec: str, measure):
    """``measure`` when its cut-off is an integer from 1 to 2**31 - 1 and its relevance level an
    integer within int32; pytrec_eval aborts the process (SIGABRT) on a cut-off of 0 or 1.5.

    >>> parse_measure("P@0")
    Traceback (most recent call last):
    ...
    esplade_eval.errors.EspladeError: measure 'P@0': the cut-off must be an integer from 1 to 2147483647, got 0
    """
    params = getattr(measure, "params", {}) or {}
    cutoff = params.get("cutoff")
    if cutoff is not None and (not isinstance(cutoff, int) or isinstance(cutoff, bool) or not 1 <= cutoff <= _INT_MAX):
        raise EspladeError(f"measure {spec!r}: the cut-off must be an integer from 1 to {_INT_MAX}, got {cutoff!r}")
    rel = params.get("rel")
    if rel is not None and (not isinstance(rel, int) or isinstance(rel, bool) or not -_INT_MAX - 1 <= rel <= _INT_MAX):
        raise EspladeError(f"measure {spec!r}: the relevance level must be an integer within int32, got {rel!r}")
    return measure


def parse_measures(measures: Iterable[str | object]) -> list:
    """ir_measures measure objects from strings (ir_measures or trec_eval names) or objects.

    Asking for the same measure twice (``AP`` and ``map``) is an error rather than a
    silently duplicated column.

    >>> [str(m) for m in parse_measures(["nDCG@10", "AP"])]
    ['nDCG@10', 'AP']
    """
    parsed, seen = [], {}
    for spec in measures:
        for m in (parse_measure(spec) if isinstance(spec, str) else [spec]):
            if str(m) in seen:
                also = f" (as {seen[str(m)]!r})" if seen[str(m)] != spec else ""
                raise EspladeError(f"measure {str(m)!r} requested twice{also}")
            seen[str(m)] = spec
            parsed.append(m)
    if not parsed:
        raise EspladeError("no measures requested")
    return parsed


def trec_eval_name(measure) -> str:
    """The name ``trec_eval -q`` prints for a measure (``ndcg_cut_10``, ``map``, ``P_5``);
    a measure trec_eval has no name for keeps its ir_measures text (``RR@10``, ``Judged@10``).
    """
    params = dict(getattr(measure, "params", {}) or {})
    names = _TREC_NAMES.get(getattr(measure, "NAME", None))
    if names is None:
        return str(measure)
    plain, with_param = names
    if params.get("rel", 1) != 1 or set(params) - {"cutoff", "recall", "rel"}:
        return str(measure)
    value = params.get("cutoff", params.get("recall"))
    if value is None:
        return plain or str(measure)
    if with_param is None:
        return str(measure)
    text = f"{value:.2f}" if with_param == "iprec_at_recall" else str(value)
    return f"{with_param}_{text}"
