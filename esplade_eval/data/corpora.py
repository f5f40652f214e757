"""Text corpora for MLM pre-training and output-vocabulary building.

Two bundled arms (the study's "general vs titles" contrast), read from installed carriers
(never imported, see :mod:`esplade_eval.data.carriers`):

* ``general`` = ``wiki`` (gensim's 106-article English Wikipedia dump, wiki markup
  stripped, one text per paragraph) + ``lee`` (the Lee news corpus, 300 documents).
* ``titles`` = ``semanlink`` (7,300 Semanlink web-document titles, empty ones skipped): the
  bundled collection's own document titles, so the titles arm is in the evaluation's domain
  (unlabelled text; a study declares it and may keep it out with ``exclude_eval_docs``).
* ``films`` (the 17,472 film titles of bokeh-sampledata's ``movies.db`` table ``omdb``) stays
  a named corpus of its own, outside the ``titles`` arm.

Any other name is read as a user text file, one text per line (``.gz`` allowed).

Held-out texts: a text is held out when ``sha1(text) % 100 < 5`` (:func:`is_heldout`). The
rule depends on the text only, so it is the same for every corpus, run and machine, and a
held-out text is never trained on, whichever corpus list a run uses.

Word normalisation (:func:`words`), shared by the output vocabulary and the MLM targets:
Unicode NFKC, then ``str.lower``, then the maximal runs of Unicode letters and digits
(regex ``[^\\W_]+``): every other character (punctuation, symbols, ``_``, spaces)
separates words.

>>> words("Deep-Learning for NLP_tasks: «Café» 2024")
['deep', 'learning', 'for', 'nlp', 'tasks', 'café', '2024']
"""

from __future__ import annotations

import bz2
import hashlib
import html
import json
import os
import re
import sqlite3
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Callable, Iterator

from esplade_eval._read import open_text
from esplade_eval.data.carriers import carrier_path
from esplade_eval.errors import EspladeError

_WORD = re.compile(r"[^\W_]+")
HELDOUT_PERCENT = 5

WIKI_FILE = ("gensim", "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
LEE_FILE = ("gensim", "gensim/test/test_data/lee_background.cor")
SEMANLINK_FILE = ("cherche", "cherche/data/semanlink/docs.json")
FILMS_FILE = ("bokeh-sampledata", "bokeh_sampledata/_data/movies.db")


def normalize(text: str) -> str:
    """NFKC + lowercase (the first two steps of :func:`words`)."""
    return unicodedata.normalize("NFKC", text).lower()


def words(text: str) -> list[str]:
    """Normalised whole words of ``text`` (see the module docstring)."""
    return _WORD.findall(normalize(text))


def is_heldout(text: str) -> bool:
    """True for the ~5% of texts reserved for held-out MLM evaluation (stable hash)."""
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % 100 < HELDOUT_PERCENT


# --- wiki markup ---------------------------------------------------------------------

_RE_COMMENT = re.compile(r"<!--.*?-->", re.S)
_RE_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.S | re.I)
_RE_TAG_BLOCK = re.compile(r"<(math|gallery|timeline|code|pre|score|syntaxhighlight)[^>]*>.*?</\1>", re.S | re.I)
_RE_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_RE_FILE_START = re.compile(r"\[\[(?:File|Image|Category|Media|[a-z]{2,3}(?:-[a-z]+)?):", re.I)
_RE_LINK = re.compile(r"\[\[(?:[^\[\]|]*\|)?([^\[\]]*)\]\]")
_RE_EXTLINK = re.compile(r"\[(?:https?|ftp)://[^\s\]]+\s*([^\]]*)\]")
_RE_URL = re.compile(r"https?://\S+")
_RE_QUOTES = re.compile(r"'{2,}")
_RE_HEADING = re.compile(r"^=+\s*(.*?)\s*=+\s*$", re.M)


def _strip_nested(text: str, open_: str, close: str) -> str:
    """Remove balanced ``open_ ... close`` spans (templates and tables nest).

    Jumps from token to token with ``str.find`` (a per-character loop took most of the
    time of reading the wiki corpus); an opening token wins over a closing one that starts
    later, an unmatched closing token outside any span is kept as text.

    >>> _strip_nested("a{{b{{c}}d}}e}}f", "{{", "}}")
    'ae}}f'
    """
    out, depth, i, n = [], 0, 0, len(text)
    while i < n:
        nxt_open = text.find(open_, i)
        nxt_close = text.find(close, i) if depth else -1
        if nxt_open < 0 and nxt_close < 0:
            if not depth:
                out.append(text[i:])
            break
        if nxt_close < 0 or 0 <= nxt_open <= nxt_close:
            if not depth:
                out.append(text[i:nxt_open])
            depth += 1
            i = nxt_open + len(open_)
        else:
            depth -= 1
            i = nxt_close + len(close)
    return "".join(out)


def _strip_files(text: str) -> str:
    """Remove ``[[File:...]]``, categories and interwiki links, captions (nested links) included."""
    out, pos = [], 0
    while (m := _RE_FILE_START.search(text, pos)) is not None:
        out.append(text[pos:m.start()])
        depth, i = 1, m.end()
        while i < len(text) and depth:
            if text.startswith("[[", i):
                depth, i = depth + 1, i + 2
            elif text.startswith("]]", i):
                depth, i = depth - 1, i + 2
            else:
                i += 1
        pos = i
    out.append(text[pos:])
    return "".join(out)


def strip_wiki(markup: str) -> str:
    """Plain text from MediaWiki markup: templates, tables, refs, files and tags removed,
    links replaced by their visible text, headings kept as lines.

    >>> strip_wiki("'''Anarchism''' is a [[political philosophy|philosophy]]{{cn}}.<ref>x</ref>")
    'Anarchism is a philosophy.'
    """
    text = html.unescape(markup)
    text = _RE_COMMENT.sub("", text)
    text = _RE_REF.sub("", text)
    text = _RE_TAG_BLOCK.sub("", text)
    text = _strip_nested(text, "{{", "}}")
    text = _strip_nested(text, "{|", "|}")
    text = _strip_files(text)
    text = _RE_LINK.sub(r"\1", text)
    text = _RE_EXTLINK.sub(r"\1", text)
    text = _RE_URL.sub("", text)
    text = _RE_TAG.sub("", text)
    text = _RE_QUOTES.sub("", text)
    text = _RE_HEADING.sub(r"\1", text)
    return text.strip()


def _wiki_paragraphs(min_words: int = 8) -> Iterator[str]:
    path = carrier_path(*WIKI_FILE)
    with bz2.open(path, "rb") as fh:
        for _, elem in ET.iterparse(fh, events=("end",)):
            if not elem.tag.endswith("}page"):
                continue
            ns = elem.find("{*}ns")
            node = elem.find("{*}revision/{*}text")
            body = node.text if node is not None and node.text else ""
            elem.clear()
            if ns is None or ns.text != "0" or body.lstrip().upper().startswith("#REDIRECT"):
                continue
            for para in strip_wiki(body).split("\n"):
                para = " ".join(para.split())
                # list items, table leftovers and "See also" stubs are not prose
                if para and not para.startswith(("*", "#", ":", ";", "|", "!")) and len(para.split()) >= min_words:
                    yield para


def _lee() -> Iterator[str]:
    with open(carrier_path(*LEE_FILE), encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = " ".join(line.split())
            if line:
                yield line


def _semanlink() -> Iterator[str]:
    with open(carrier_path(*SEMANLINK_FILE), encoding="utf-8") as fh:
        docs = json.load(fh)
    for d in docs:
        t = " ".join(d["title"].split())
        if t:
            yield t


def _films() -> Iterator[str]:
    con = sqlite3.connect(f"file:{carrier_path(*FILMS_FILE)}?mode=ro", uri=True)
    try:
        for (title,) in con.execute("SELECT Title FROM omdb ORDER BY ID"):
            t = " ".join(str(title or "").split())
            if t:
                yield t
    finally:
        con.close()


#: bundled corpus name -> (arm, reader); arms are what held-out accuracy is reported on
BUNDLED: dict[str, tuple[str, Callable[[], Iterator[str]]]] = {
    "wiki": ("general", _wiki_paragraphs),
    "lee": ("general", _lee),
    "semanlink": ("titles", _semanlink),
    "films": ("titles", _films),
}
ARMS = {"general": ("wiki", "lee"), "titles": ("semanlink",)}


@dataclass
class Corpus:
    """Texts of one named corpus, split into train and held-out parts."""

    name: str
    train: list[str]
    heldout: list[str]

    def describe(self) -> dict:
        return {"name": self.name, "train_texts": len(self.train), "heldout_texts": len(self.heldout),
                "train_words": sum(len(t.split()) for t in self.train)}


def iter_texts(name: str) -> Iterator[str]:
    """All texts of a bundled corpus, an arm (``general``/``titles``) or a user file."""
    if name in ARMS:
        for part in ARMS[name]:
            yield from iter_texts(part)
    elif name in BUNDLED:
        yield from BUNDLED[name][1]()
    elif os.path.isfile(name):
        with open_text(name) as fh:
            for line in fh:
                line = " ".join(line.split())
                if line:
                    yield line
    else:
        choices = ", ".join([*ARMS, *BUNDLED])
        raise EspladeError(f"{name}: neither a bundled corpus ({choices}) nor a text file")


def load_corpus(name: str) -> Corpus:
    """Read ``name`` and split it by :func:`is_heldout` (order kept, duplicates kept)."""
    train, held = [], []
    for t in iter_texts(name):
        (held if is_heldout(t) else train).append(t)
    return Corpus(name, train, held)
