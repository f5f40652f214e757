"""A prepared collection: the canonical files of a corpus, topics and qrels, and their record.

:mod:`esplade_eval.data.collection` prepares one from a user's files (or the Semanlink
builder writes one); this module is what every stage reads afterwards. The folder holds::

    corpus.jsonl         {"id", "contents"} per line
    topics.<split>.tsv   qid<TAB>text
    qrels.<split>.txt    TREC qrels
    collection.json      name, sources, counts, the judgment check, the files' SHA-256
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Mapping

from esplade_eval.data.formats import read_corpus, read_qrels, read_topics
from esplade_eval.errors import EspladeError, InputError

RECORD = "collection.json"
RECORD_FORMAT = "esplade_eval.collection/1"
CORPUS = "corpus.jsonl"
EXAMPLES = 5  # ids shown in a warning


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- the prepared collection ----------------------------------------------------------

@dataclass(frozen=True)
class Collection:
    """A prepared collection: canonical files in ``root`` (see the module docstring).

    >>> from esplade_eval.data.collection import load_collection
    >>> col = load_collection("semanlink", root="artifacts/semanlink")  # doctest: +SKIP
    >>> col.corpus, col.topics("test"), col.qrels("test"), col.splits  # doctest: +SKIP
    >>> col.fingerprint, col.summary["documents"]  # doctest: +SKIP
    """

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @cached_property
    def record(self) -> dict:
        """``collection.json`` (empty for a folder prepared by hand or by an older version)."""
        path = self.root / RECORD
        if not path.is_file():
            return {}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(path, f"malformed JSON: {exc.msg}", line=exc.lineno) from None

    @property
    def name(self) -> str:
        if self.record.get("name"):
            return self.record["name"]
        return "semanlink" if (self.root / "stats.json").is_file() else self.root.name

    @property
    def description(self) -> str:
        return self.record.get("description", "")

    @property
    def corpus(self) -> Path:
        return self.root / CORPUS

    def topics(self, split: str) -> Path:
        return self.root / f"topics.{split}.tsv"

    def qrels(self, split: str) -> Path:
        return self.root / f"qrels.{split}.txt"

    @property
    def splits(self) -> tuple[str, ...]:
        """Splits with topics, in sorted order."""
        return tuple(sorted(p.name[len("topics."):-len(".tsv")] for p in self.root.glob("topics.*.tsv")))

    def require_split(self, split: str, qrels: bool = True) -> None:
        """An error naming the available splits unless ``split`` has topics (and qrels)."""
        missing = [p for p in (self.topics(split), *([self.qrels(split)] if qrels else [])) if not p.is_file()]
        if missing:
            raise EspladeError(f"collection {self.name} ({self.root}) has no split {split!r} "
                               f"({missing[0].name} missing); its splits: {', '.join(self.splits) or 'none'}")

    def docs(self) -> Iterator[tuple[str, str]]:
        return read_corpus(self.corpus, "jsonl")

    def read_topics(self, split: str) -> dict[str, str]:
        return read_topics(self.topics(split), "tsv")

    def read_qrels(self, split: str) -> dict[str, dict[str, int]]:
        return read_qrels(self.qrels(split), "trec") if self.qrels(split).is_file() else {}

    def _files(self) -> list[Path]:
        files = [self.corpus]
        for split in self.splits:
            files += [self.topics(split)] + ([self.qrels(split)] if self.qrels(split).is_file() else [])
        return files

    @cached_property
    def hashes(self) -> dict[str, str]:
        """SHA-256 of every canonical file, by file name (read once per object)."""
        if not self.corpus.is_file():
            raise EspladeError(f"{self.root}: not a collection ({CORPUS} missing)")
        return {p.name: sha256_file(p) for p in self._files()}

    @property
    def corpus_sha256(self) -> str:
        return self.hashes[CORPUS]

    def topics_sha256(self, split: str) -> str:
        return self.hashes[self.topics(split).name]

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 over the canonical files' hashes: identical content, identical fingerprint."""
        text = "".join(f"{name} {digest}\n" for name, digest in sorted(self.hashes.items()))
        return hashlib.sha256(text.encode()).hexdigest()

    @cached_property
    def summary(self) -> dict:
        """Counts and the judgment check (:func:`summarise`), recorded or computed from the files."""
        if self.record.get("files") == self.hashes and "summary" in self.record:
            return self.record["summary"]
        ids, empty = set(), 0
        for docid, text in self.docs():
            ids.add(docid)
            empty += not text.strip()
        splits = self.splits
        return summarise(ids, empty, {s: self.read_topics(s) for s in splits}, {s: self.read_qrels(s) for s in splits},
                         {s: self.qrels(s) for s in splits})

    def provenance(self) -> dict:
        """What an artifact records about the collection it was built from."""
        return {"name": self.name, "root": str(self.root), "fingerprint": self.fingerprint,
                "corpus_sha256": self.corpus_sha256}

    def describe(self) -> list[str]:
        """The counts and warnings printed whenever the collection is loaded."""
        return describe_summary(self.name, self.summary)


def summarise(doc_ids: set[str], empty_documents: int, topics: Mapping[str, Mapping[str, str]],
              qrels: Mapping[str, Mapping[str, Mapping[str, int]]], qrels_paths: Mapping[str, Any]) -> dict:
    """Counts per split and the judgment check; an error when no judged query (or document) is present."""
    out = {"documents": len(doc_ids), "empty_documents": empty_documents, "splits": {}}
    for split, topic_map in topics.items():
        judged = qrels.get(split, {})
        docs = {d for judgments in judged.values() for d in judgments}
        missing_q = sorted(set(judged) - set(topic_map))
        missing_d = sorted(docs - doc_ids)
        if judged and len(missing_q) == len(judged):
            raise InputError(qrels_paths[split], f"none of the {len(judged)} judged queries is in the {split} topics "
                                                 f"(e.g. {', '.join(missing_q[:3])}): do the query ids match?")
        if docs and len(missing_d) == len(docs):
            raise InputError(qrels_paths[split], f"none of the {len(docs)} judged documents is in the corpus "
                                                 f"(e.g. {', '.join(missing_d[:3])}): do the document ids match?")
        out["splits"][split] = {
            "queries": len(topic_map),
            "empty_queries": sum(1 for t in topic_map.values() if not t.strip()),
            "judged_queries": len(judged),
            "judgments": sum(len(j) for j in judged.values()),
            "relevant": sum(1 for j in judged.values() for g in j.values() if g > 0),
            "judged_documents": len(docs),
            "topics_without_judgments": len(set(topic_map) - set(judged)) if judged else 0,
            "judged_queries_not_in_topics": {"count": len(missing_q), "examples": missing_q[:EXAMPLES]},
            "judged_documents_not_in_corpus": {"count": len(missing_d), "examples": missing_d[:EXAMPLES]},
        }
    return out


def describe_summary(name: str, summary: dict) -> list[str]:
    lines = [f"collection {name}: {summary['documents']:,} documents ({summary['empty_documents']:,} empty)"]
    for split, s in summary["splits"].items():
        if s["judged_queries"]:
            judged = (f"{s['judgments']:,} judgments ({s['relevant']:,} relevant) for {s['judged_queries']:,} "
                      f"queries, {s['judged_documents']:,} documents")
        else:
            judged = "no judgments"
        lines.append(f"  {split}: {s['queries']:,} queries, {judged}")
    for split, s in summary["splits"].items():
        q, d = s["judged_queries_not_in_topics"], s["judged_documents_not_in_corpus"]
        if q["count"]:
            lines.append(f"  warning: {split}: {q['count']:,} judged queries are not in the topics "
                         f"({_examples(q)}): evaluation leaves them out")
        if d["count"]:
            lines.append(f"  warning: {split}: {d['count']:,} of {s['judged_documents']:,} judged documents are not "
                         f"in the corpus ({_examples(d)}): no run can retrieve them")
        if s["topics_without_judgments"]:
            lines.append(f"  note: {split}: {s['topics_without_judgments']:,} topics have no judgments: evaluation "
                         "leaves them out")
    return lines


def _examples(entry: dict) -> str:
    more = ", ..." if entry["count"] > len(entry["examples"]) else ""
    return ", ".join(entry["examples"]) + more


def write_record(folder: Path, name: str, source: dict, source_fingerprint: str, summary: dict,
                 description: str = "") -> None:
    """Write ``collection.json`` for the canonical files in ``folder`` (hashes computed here)."""
    from esplade_eval._io import write_json

    col = Collection(folder)
    write_json(folder / RECORD, {"format": RECORD_FORMAT, "name": name, "description": description,
                                 "source": source, "source_fingerprint": source_fingerprint,
                                 "files": col.hashes, "summary": summary})


def fingerprint_of(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
