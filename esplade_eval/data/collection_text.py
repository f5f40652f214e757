"""A prepared collection's unlabelled document text: what an output vocabulary may be built from.

No queries and no judgments are read here, only what the documents themselves say:

* **Semanlink** (the bundled collection): every document's ``title`` and its ``comment``
  (the bookmark's description), read from the carrier's ``cherche/data/semanlink/docs.json``
  the collection is built from, for the documents of its ``corpus.jsonl`` (a subset such as
  the first 600 keeps its own); one text per non-empty field.
* **any other collection**: its ``corpus.jsonl``, each row's ``title`` (when the row has
  one) and ``contents``.

>>> import json, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "corpus.jsonl").write_text(json.dumps({"id": "a", "title": "T", "contents": "Body"}) + "\\n")
>>> list(document_texts(folder))
['T', 'Body']
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

from esplade_eval.errors import InputError

#: what a study's results say the collection text is
DECLARATION = ("the evaluation collection's unlabelled document text (no queries, no judgments)")


def _root(collection) -> Path:
    from esplade_eval.data.prepared import Collection

    return collection.root if isinstance(collection, Collection) else Path(collection)


def is_semanlink(collection) -> bool:
    """True for a collection built by :func:`esplade_eval.data.semanlink.build_semanlink`."""
    from esplade_eval.data.prepared import Collection

    col = collection if isinstance(collection, Collection) else Collection(_root(collection))
    source = col.record.get("source") or {}
    return source.get("builtin") == "semanlink" or (not col.record and (col.root / "stats.json").is_file())


def _semanlink_texts(corpus: Path) -> Iterator[str]:
    """Title and comment of the carrier's documents that are in ``corpus`` (a subset keeps its own)."""
    from esplade_eval.data.formats import read_corpus
    from esplade_eval.data.semanlink import doc_id, load_raw

    ids = {did for did, _ in read_corpus(corpus, "jsonl")}
    docs, _ = load_raw()
    for d in docs:
        if doc_id(d["document"]) not in ids:
            continue
        for key in ("title", "comment"):
            text = " ".join(str(d.get(key) or "").split())
            if text:
                yield text


def _jsonl_texts(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(path, f"malformed JSON: {exc.msg}", line=n) from None
            if not isinstance(row, dict) or not isinstance(row.get("contents", ""), str):
                raise InputError(path, "expected an object with a string 'contents'", line=n)
            for key in ("title", "contents"):
                text = " ".join(str(row.get(key) or "").split())
                if text:
                    yield text


def document_texts(collection) -> Iterator[str]:
    """The unlabelled document text of a prepared collection (or its folder), see the module docstring."""
    path = _root(collection) / "corpus.jsonl"
    if not path.is_file():
        raise InputError(path, "no corpus.jsonl: not a prepared collection")
    yield from _semanlink_texts(path) if is_semanlink(collection) else _jsonl_texts(path)


def describe(collection) -> dict:
    """How :func:`document_texts` reads ``collection`` (for a results file)."""
    if is_semanlink(collection):
        fields = "title and comment of every document (cherche's docs.json)"
    else:
        fields = f"title (when present) and contents of every row of {os.fspath(_root(collection) / 'corpus.jsonl')}"
    return {"text": DECLARATION, "fields": fields}
