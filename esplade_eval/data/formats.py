"""Readers for corpora, topics and qrels in the formats users already hold, gzipped or not.

============  =========================================================================
kind          formats
============  =========================================================================
corpus        ``jsonl``: one JSON object per line: Pyserini's ``JsonCollection``
              ``{"id", "contents"}``, with a ``title`` too, BEIR ``{"_id", "title",
              "text"}``; the text is the chosen fields joined (e.g. title + contents).
              ``tsv``: ``id<TAB>text`` (MS MARCO ``collection.tsv``); the text is
              everything after the first tab.
topics        ``tsv``: ``qid<TAB>text`` (Pyserini/Anserini topic files, MS MARCO queries).
              ``trec``: ``<top> <num> Number: 301 <title> ... <desc> Description: ...
              <narr> Narrative: ... </top>`` (the title, or title + description).
              ``jsonl``: Anserini's ``{"id", "title"}``, ``{"qid", "query"}``, BEIR's
              ``{"_id", "text"}``, Pyserini's pre-encoded ``{"id", "contents", "vector"}``.
qrels         ``trec``: ``qid iter docid grade``. ``tsv``: BEIR's
              ``query-id<TAB>corpus-id<TAB>score`` (its header line is skipped).
all three     ``smart``: the classic SMART files (CISI, CACM, Cranfield, Medline:
              ``.I``/``.T``/``.W`` records, their relevance files), read by
              :mod:`esplade_eval.data.smart`; fields are the record's letters (``T``, ``W``).
============  =========================================================================

**Detection, never a silent guess.** A format is named, or read from the first non-empty
line: ``<top`` means TREC topics, ``{`` JSON lines, ``.I <id>`` SMART, a tab TSV (qrels: four
columns TREC, three BEIR; SMART relevance files are named, their columns being ambiguous).
Anything else is an error asking for the format; a later line that does not fit the
detected format is an error naming its line. Gzip is recognised by its magic
bytes, whatever the file is called. In JSON lines the id field and the text fields are
named, or default to the first of :data:`ID_FIELDS` / :data:`TEXT_FIELDS` present in the
first record; :meth:`FileFormat.describe` says what was chosen and which fields were left
out, and every later record must have them.

Errors are :class:`~esplade_eval.errors.InputError` (``path:line: problem``). Ids must be
non-empty, without whitespace (TREC runs and Anserini split on it) and unique.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, replace
from typing import Iterator, Sequence

from esplade_eval._read import is_gzip, json_line, numbered_lines, open_text
from esplade_eval.errors import InputError

Qrels = dict[str, dict[str, int]]

#: the formats of each kind of file, the first being the canonical one
FORMATS = {"corpus": ("jsonl", "tsv", "smart"), "topics": ("tsv", "trec", "jsonl", "smart"),
           "qrels": ("trec", "tsv", "smart")}
#: JSON-lines defaults: the first of these present in the first record
ID_FIELDS = {"corpus": ("id", "_id", "docid"), "topics": ("id", "qid", "_id", "query_id")}
TEXT_FIELDS = {"corpus": ("contents", "text"), "topics": ("title", "query", "text", "contents")}
#: TREC topic fields and their tags
TREC_FIELDS = {"title": "title", "description": "desc", "narrative": "narr"}
BEIR_QRELS_HEADER = ("query-id", "corpus-id", "score")


@dataclass(frozen=True)
class FileFormat:
    """How one file is read (see the module docstring); :func:`detect` fills in what was left open."""

    kind: str
    format: str
    id_field: str | None = None  # jsonl
    fields: tuple[str, ...] = ()  # jsonl: text fields; trec: title, description, narrative
    separator: str = " "  # joins the text fields
    gzip: bool = False
    unread_fields: tuple[str, ...] = ()  # fields of the first JSON record that are not read

    def describe(self) -> str:
        names = {"jsonl": "JSON lines", "tsv": "TSV", "trec": "TREC", "smart": "SMART"}
        text = names[self.format]
        if self.format == "smart" and self.kind != "qrels":
            text += f" .I records, text {' + '.join('.' + f for f in self.fields)}"
        if self.format == "jsonl":
            text += f", id {self.id_field!r}, text {' + '.join(map(repr, self.fields))}"
            if self.unread_fields:
                text += f" (not read: {', '.join(self.unread_fields)})"
        elif self.format == "trec" and self.kind == "topics":
            text += f" topics, {' + '.join(self.fields)}"
        elif self.format == "tsv":
            text += {"corpus": " id<TAB>text", "topics": " qid<TAB>text", "qrels": " (BEIR) query-id<TAB>corpus-id<TAB>score"}[self.kind]
        elif self.kind == "qrels":
            text += " qrels"
        return text + (", gzipped" if self.gzip else "")

    def options(self) -> dict:
        """What decides the parsed content (for fingerprints and ``collection.json``)."""
        out = {"format": self.format}
        if self.format in ("jsonl", "smart") or (self.format == "trec" and self.kind == "topics"):
            out |= {"id_field": self.id_field, "fields": list(self.fields), "separator": self.separator}
        return out


def first_line(path: str | os.PathLike) -> tuple[int, str] | None:
    """``(line number, text)`` of the first non-blank line, or None for an empty file."""
    with contextlib.closing(numbered_lines(path)) as lines:
        return next(lines, None)


def detect(path: str | os.PathLike, kind: str, format: str | None = None, id_field: str | None = None,
           fields: Sequence[str] | None = None, separator: str = " ") -> FileFormat:
    """The :class:`FileFormat` of ``path``: ``format`` as named or detected, fields chosen."""
    if kind not in FORMATS:
        raise ValueError(f"kind must be one of {', '.join(FORMATS)}: {kind!r}")
    if format is not None and format not in FORMATS[kind]:
        raise InputError(path, f"unknown {kind} format {format!r}; choose one of {', '.join(FORMATS[kind])}")
    found = first_line(path)
    if found is None:
        raise InputError(path, f"empty {kind} file")
    lineno, line = found
    format = format or _sniff(path, kind, lineno, line)
    fmt = FileFormat(kind, format, separator=separator, gzip=is_gzip(path))
    if format == "jsonl":
        return _jsonl_format(path, fmt, lineno, line, id_field, fields)
    if id_field is not None:
        raise InputError(path, f"an id field applies to JSON lines only, not {format}")
    if format == "smart" and kind != "qrels":
        from esplade_eval.data.smart import DEFAULT_FIELDS

        return replace(fmt, fields=tuple(fields or DEFAULT_FIELDS[kind]))
    if format == "trec" and kind == "topics":
        fields = tuple(fields or ("title",))
        unknown = [f for f in fields if f not in TREC_FIELDS]
        if unknown or not fields:
            raise InputError(path, f"TREC topic fields are {', '.join(TREC_FIELDS)}; got {list(fields)}")
        return replace(fmt, fields=fields)
    if fields:
        raise InputError(path, f"text fields apply to JSON lines, SMART files and TREC topics, not {format}")
    return fmt


def _sniff(path, kind: str, lineno: int, line: str) -> str:
    text = line.lstrip()
    if kind == "qrels":
        columns = len(line.split())
        if columns in (3, 4):
            return "trec" if columns == 4 else "tsv"
        raise InputError(path, f"cannot tell the qrels format: {columns} columns, expected 4 (TREC 'qid iter "
                               "docid grade') or 3 (BEIR 'query-id corpus-id score')", line=lineno)
    if kind == "topics" and text[:4].lower() == "<top":
        return "trec"
    from esplade_eval.data.smart import is_smart_line

    if is_smart_line(line):
        return "smart"
    if text.startswith("{"):
        return "jsonl"
    if "\t" in line:
        return "tsv"
    expected = "a JSON object, '<top>' or 'qid<TAB>text'" if kind == "topics" else "a JSON object or 'id<TAB>text'"
    raise InputError(path, f"cannot tell the {kind} format from this line (expected {expected}); "
                           f"name the format: {', '.join(FORMATS[kind])}", line=lineno)


def _jsonl_format(path, fmt: FileFormat, lineno: int, line: str, id_field, fields) -> FileFormat:
    record = json_line(path, lineno, line)
    kind = fmt.kind
    if id_field is None:
        id_field = next((f for f in ID_FIELDS[kind] if f in record), None)
        if id_field is None:
            raise InputError(path, f"no id field among {', '.join(ID_FIELDS[kind])} (fields: {_keys(record)}); "
                                   "name the id field", line=lineno)
    if not fields:
        text = next((f for f in TEXT_FIELDS[kind] if f in record), None)
        if text is None:
            raise InputError(path, f"no text field among {', '.join(TEXT_FIELDS[kind])} (fields: {_keys(record)}); "
                                   "name the text fields", line=lineno)
        fields = (text,)
    fields = tuple(fields)
    unread = tuple(k for k in record if k != id_field and k not in fields)
    return replace(fmt, id_field=id_field, fields=fields, unread_fields=unread)


def _keys(record: dict) -> str:
    return ", ".join(record) or "none"


def check_id(path, lineno: int, ident: str, seen: set[str], what: str) -> str:
    """``ident`` if it is non-empty, whitespace-free and new (then added to ``seen``); else an error."""
    if not ident:
        raise InputError(path, f"empty {what} id", line=lineno)
    if any(ch.isspace() for ch in ident):
        raise InputError(path, f"{what} id contains whitespace: {ident!r}", line=lineno)
    if ident in seen:
        raise InputError(path, f"duplicate {what} id {ident!r}", line=lineno)
    seen.add(ident)
    return ident


# --- corpora and topics ---------------------------------------------------------------

def read_corpus(path: str | os.PathLike, format: str | None = None, *, id_field: str | None = None,
                fields: Sequence[str] | None = None, separator: str = " ") -> Iterator[tuple[str, str]]:
    """Stream ``(id, text)`` from a corpus in any supported format (see the module docstring)."""
    yield from iter_corpus(path, detect(path, "corpus", format, id_field, fields, separator))


def iter_corpus(path: str | os.PathLike, fmt: FileFormat) -> Iterator[tuple[str, str]]:
    """Stream ``(id, text)`` from ``path`` read as ``fmt`` (from :func:`detect`)."""
    if fmt.format == "jsonl":
        yield from _jsonl_texts(path, fmt, "document")
    elif fmt.format == "smart":
        from esplade_eval.data.smart import smart_texts

        yield from smart_texts(path, fmt.fields)
    else:
        yield from _tsv_pairs(path, "document", "id<TAB>text")


def read_topics(path: str | os.PathLike, format: str | None = None, *, id_field: str | None = None,
                fields: Sequence[str] | None = None, separator: str = " ") -> dict[str, str]:
    """``{qid: text}`` from topics in any supported format (see the module docstring)."""
    return topics_as(path, detect(path, "topics", format, id_field, fields, separator))


def topics_as(path: str | os.PathLike, fmt: FileFormat) -> dict[str, str]:
    """``{qid: text}`` from ``path`` read as ``fmt`` (from :func:`detect`)."""
    if fmt.format == "trec":
        return _trec_topics(path, fmt)
    if fmt.format == "smart":
        from esplade_eval.data.smart import TOPIC_FALLBACK, smart_texts

        return dict(smart_texts(path, fmt.fields, TOPIC_FALLBACK))
    if fmt.format == "jsonl":
        return dict(_jsonl_texts(path, fmt, "query"))
    return {qid: text.strip() for qid, text in _tsv_pairs(path, "query", "qid<TAB>text")}


def _tsv_pairs(path, what: str, shape: str) -> Iterator[tuple[str, str]]:
    seen: set[str] = set()
    for lineno, line in numbered_lines(path):
        ident, sep, text = line.partition("\t")
        if not sep:
            raise InputError(path, f"expected '{shape}', found no tab", line=lineno)
        if what == "query" and "\t" in text:  # a third column would silently become part of the query
            raise InputError(path, f"expected '{shape}' (2 columns), found {line.count(chr(9)) + 1} columns",
                             line=lineno)
        yield check_id(path, lineno, ident.strip(), seen, what), text


def _jsonl_texts(path, fmt: FileFormat, what: str) -> Iterator[tuple[str, str]]:
    seen: set[str] = set()
    for lineno, line in numbered_lines(path):
        obj = json_line(path, lineno, line)
        if fmt.id_field not in obj:
            raise InputError(path, f"no {fmt.id_field!r} field", line=lineno)
        ident = obj[fmt.id_field]
        if isinstance(ident, bool) or not isinstance(ident, (str, int)):
            raise InputError(path, f"{fmt.id_field!r} must be a string or an integer, found {ident!r}", line=lineno)
        parts = []
        for field in fmt.fields:
            if field not in obj:
                raise InputError(path, f"no {field!r} field (fields: {_keys(obj)})", line=lineno)
            value = obj[field]
            if value is not None and not isinstance(value, str):
                raise InputError(path, f"{field!r} must be a string, found {type(value).__name__}", line=lineno)
            if value and value.strip():
                parts.append(value)
        yield check_id(path, lineno, str(ident), seen, what), fmt.separator.join(parts)


_TREC_TAG = re.compile(r"<(/?)(top|num|title|desc|narr)\b[^>]*>", re.I)
_TREC_LABEL = {"num": "number", "title": "topic", "desc": "description", "narr": "narrative"}


def _trec_topics(path, fmt: FileFormat) -> dict[str, str]:
    """TREC ad hoc topics; a field runs from its tag to the next tag, over several lines."""
    topics: dict[str, str] = {}
    seen: set[str] = set()
    topic: dict | None = None  # tag -> list of text pieces, plus "@line"
    field = None
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            pos = 0
            for m in [*_TREC_TAG.finditer(line), None]:
                piece = line[pos:m.start() if m else len(line)]
                if piece.strip():
                    if topic is None or field is None:
                        where = "outside <top> ... </top>" if topic is None else "outside a field"
                        raise InputError(path, f"text {where}: {piece.strip()[:40]!r}", line=lineno)
                    topic[field].append(piece)
                if m is None:
                    break
                pos = m.end()
                closing, tag = m.group(1) == "/", m.group(2).lower()
                if tag == "top":
                    if closing:
                        if topic is None:
                            raise InputError(path, "</top> without <top>", line=lineno)
                        _finish_topic(path, topic, fmt, topics, seen)
                        topic = field = None
                    elif topic is not None:
                        raise InputError(path, f"<top> inside the topic opened on line {topic['@line']} "
                                               "(missing </top>?)", line=lineno)
                    else:
                        topic = {"@line": lineno}
                    continue
                if topic is None:
                    raise InputError(path, f"<{m.group(2)}> outside <top> ... </top>", line=lineno)
                if closing:
                    field = None
                elif tag in topic:
                    raise InputError(path, f"a second <{tag}> in the topic opened on line {topic['@line']}", line=lineno)
                else:
                    field, topic[tag] = tag, []
    if topic is not None:
        raise InputError(path, "topic not closed by </top>", line=topic["@line"])
    return topics


def _finish_topic(path, topic: dict, fmt: FileFormat, topics: dict, seen: set) -> None:
    line = topic["@line"]

    def text(tag: str) -> str:
        words = " ".join(" ".join(topic[tag]).split())
        label = _TREC_LABEL[tag]
        if words[:len(label) + 1].lower() == label + ":":  # "Number: 301", "Description: ..."
            words = words[len(label) + 1:].lstrip()
        return words

    if "num" not in topic:
        raise InputError(path, "topic without <num>", line=line)
    qid = check_id(path, line, text("num"), seen, "query")
    parts = []
    for name in fmt.fields:
        tag = TREC_FIELDS[name]
        if tag not in topic:
            raise InputError(path, f"topic {qid} has no <{tag}>", line=line)
        if value := text(tag):
            parts.append(value)
    topics[qid] = fmt.separator.join(parts)


# --- qrels ------------------------------------------------------------------------------

def read_qrels(path: str | os.PathLike, format: str | None = None) -> Qrels:
    """``{qid: {docid: grade}}`` from TREC or BEIR qrels; grades must be integers, pairs unique."""
    fmt = detect(path, "qrels", format)
    if fmt.format == "smart":
        from esplade_eval.data.smart import read_smart_qrels

        return read_smart_qrels(path)
    columns = 4 if fmt.format == "trec" else 3
    shape = "qid iter docid grade" if columns == 4 else "query-id corpus-id score"
    qrels: Qrels = {}
    for lineno, line in numbered_lines(path):
        parts = line.split()
        if columns == 3 and tuple(parts) == BEIR_QRELS_HEADER:
            continue
        if len(parts) != columns:
            raise InputError(path, f"expected {columns} columns '{shape}', found {len(parts)}", line=lineno)
        qid, docid, grade = (parts[0], parts[2], parts[3]) if columns == 4 else parts
        try:
            value = int(grade)
        except ValueError:
            raise InputError(path, f"relevance grade is not an integer: {grade!r}", line=lineno) from None
        if not -2**31 <= value < 2**31:  # pytrec_eval reads grades as C ints: a larger one zeroes the table
            raise InputError(path, f"relevance grade {value} is outside int32 (-2**31 ... 2**31 - 1)", line=lineno)
        docs = qrels.setdefault(qid, {})
        if docid in docs:
            raise InputError(path, f"duplicate judgment for query {qid!r}, document {docid!r}", line=lineno)
        docs[docid] = value
    return qrels
