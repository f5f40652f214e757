"""The classic SMART test-collection files: CISI, CACM, Cranfield, Medline (``.I``/``.T``/``.W``).

A file of documents (``CISI.ALL``, ``cacm.all``, ``cran.all.1400``, ``MED.ALL``) or queries
(``CISI.QRY``, ``query.text``, ``cran.qry``) is a sequence of records. A record starts with a
line ``.I <id>``; each field starts with a line holding a dot and one capital letter (``.T``
title, ``.A`` authors, ``.B`` bibliographic note, ``.W`` text, ``.X`` citations, ``.N``,
``.K``, ...) and runs, over any number of lines, to the next such line::

    .I 1
    .T
    18 Editions of the Dewey Decimal Classifications
    .A
    Comaromi, J.P.
    .W
       The present study is a history of the DEWEY Decimal
    Classification. ...

The text of a record is its chosen fields joined, in the order named, whitespace
normalised; a field a record lacks adds nothing (CACM has documents without ``.W``).
Defaults: documents ``T`` + ``W`` (title and abstract), queries ``W`` (the question; CISI's
later queries also carry the ``.T`` of an article, which is not the question), or ``T``
when a query has no ``W``.

Ids made of digits are read as numbers (``.I 001``, CACM's qrels ``01``: ``1``), so the three
files of a collection agree. Relevance files (``CISI.REL``, ``qrels.text``, ``cranqrel``,
``MED.REL``), read by :func:`read_smart_qrels`, have whitespace-separated columns, laid out
as the first line shows:

==========================  ==================  ========================================
first line                  collection          grade
==========================  ==================  ========================================
``qid docid 0 0.0``         CISI, CACM          1 (the file lists relevant pairs only)
``qid 0 docid grade``       Medline (TREC)      the grade as written
``qid docid grade``         Cranfield           1 -> 4, 2 -> 3, 3 -> 2, 4 -> 1, -1 or 5 -> 0
``qid docid``               any                 1
==========================  ==================  ========================================

Cranfield's grades run the wrong way for gain-based measures: 1 is "a complete answer",
2 "a high degree of relevance", 3 "useful as background", 4 "of minimum interest", and -1
(5 in the original scale) "of no interest"; they become gains 4, 3, 2, 1 and 0.
"""

from __future__ import annotations

import os
import re
from typing import Iterator, Sequence

from esplade_eval._read import open_text
from esplade_eval.errors import InputError

DEFAULT_FIELDS = {"corpus": ("T", "W"), "topics": ("W",)}
TOPIC_FALLBACK = "T"
CRANFIELD_GAINS = {1: 4, 2: 3, 3: 2, 4: 1, 5: 0, -1: 0}
_MARK = re.compile(r"^\.([A-Z])(?:\s+(.*))?$")


def is_smart_line(line: str) -> bool:
    """Whether ``line`` opens a SMART record (``.I <id>``)."""
    m = _MARK.match(line.strip())
    return bool(m and m.group(1) == "I" and m.group(2))


def normal_id(ident: str) -> str:
    """``"001"`` -> ``"1"``: numeric ids compared as numbers across the three files."""
    ident = ident.strip()
    return str(int(ident)) if ident.isdigit() else ident


def iter_records(path: str | os.PathLike) -> Iterator[tuple[int, str, dict[str, list[str]]]]:
    """``(line, id, {field letter: lines})`` for every record; ids checked (non-empty, unique)."""
    seen: set[str] = set()
    record: tuple[int, str, dict] | None = None
    field = None
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            mark = _MARK.match(line.rstrip("\r\n"))
            if mark and mark.group(1) == "I":
                if record is not None:
                    yield record
                ident = normal_id(mark.group(2) or "")
                if " " in ident or ident in seen:
                    raise InputError(path, f"{'duplicate' if ident in seen else 'bad'} record id {ident!r}",
                                     line=lineno)
                seen.add(ident)
                record, field = (lineno, ident, {}), None
            elif mark:
                if record is None:
                    raise InputError(path, f"field .{mark.group(1)} before the first '.I <id>' line", line=lineno)
                field = mark.group(1)
                record[2].setdefault(field, []).append(mark.group(2) or "")
            elif line.strip():
                if record is None:
                    raise InputError(path, f"text before the first '.I <id>' line: {line.strip()[:40]!r}",
                                     line=lineno)
                if field is None:
                    raise InputError(path, f"text outside a field in record {record[1]} (a '.T', '.W', ... line "
                                           "must come first)", line=lineno)
                record[2][field].append(line)
    if record is None:
        raise InputError(path, "no SMART record (a line '.I <id>') in the file")
    yield record


def smart_texts(path: str | os.PathLike, fields: Sequence[str], fallback: str | None = None
                ) -> Iterator[tuple[str, str]]:
    """``(id, text)`` per record: ``fields`` joined (``fallback`` when none is present)."""
    for _, ident, record in iter_records(path):
        chosen = [f for f in fields if f in record] or ([fallback] if fallback in record else [])
        yield ident, " ".join(" ".join(" ".join(record[f]) for f in chosen).split())


def read_smart_qrels(path: str | os.PathLike) -> dict[str, dict[str, int]]:
    """``{qid: {docid: gain}}`` from a SMART relevance file (layouts in the module docstring)."""
    qrels: dict[str, dict[str, int]] = {}
    layout = None
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            layout = layout or _layout(path, lineno, parts)
            if len(parts) != layout[0]:
                raise InputError(path, f"expected {layout[0]} columns as on the first line ({layout[1]}), "
                                       f"found {len(parts)}", line=lineno)
            qid, docid, gain = _judgment(path, lineno, parts, layout[1])
            docs = qrels.setdefault(normal_id(qid), {})
            if normal_id(docid) in docs:
                raise InputError(path, f"duplicate judgment for query {qid!r}, document {docid!r}", line=lineno)
            docs[normal_id(docid)] = gain
    if layout is None:
        raise InputError(path, "empty relevance file")
    return qrels


def _layout(path, lineno: int, parts: list[str]) -> tuple[int, str]:
    if len(parts) == 4:
        if _number(parts[2]) == 0 and _number(parts[3]) == 0:
            return 4, "qid docid 0 0"
        return 4, "qid 0 docid grade"
    if len(parts) in (2, 3):
        return len(parts), ("qid docid", "qid docid grade")[len(parts) - 2]
    raise InputError(path, f"cannot read {len(parts)} columns as relevance judgments: expected 'qid docid 0 0.0' "
                           "(CISI, CACM), 'qid 0 docid grade' (Medline), 'qid docid grade' (Cranfield) or "
                           "'qid docid'", line=lineno)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _judgment(path, lineno: int, parts: list[str], layout: str) -> tuple[str, str, int]:
    if layout == "qid 0 docid grade":
        grade = _number(parts[3])
        if grade is None or grade != int(grade):
            raise InputError(path, f"relevance grade is not an integer: {parts[3]!r}", line=lineno)
        return parts[0], parts[2], int(grade)
    if layout == "qid docid grade":
        grade = _number(parts[2])
        if grade not in CRANFIELD_GAINS:
            raise InputError(path, f"Cranfield grade must be 1, 2, 3, 4, 5 or -1, found {parts[2]!r}", line=lineno)
        return parts[0], parts[1], CRANFIELD_GAINS[int(grade)]
    return parts[0], parts[1], 1
