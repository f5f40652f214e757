"""The Semanlink web-document-title test collection, built from the ``cherche`` carrier.

Construction (deterministic; documented in the README):

* **documents** are the 7,300 bookmarked pages' titles (61 are empty and kept as empty
  documents). The id is ``d`` + the first 12 hex digits of SHA-1 of the page URL, stable
  and whitespace-free; ``docids.tsv`` maps it back to the URL.
* **queries** are the ``prefLabel`` of each tag that labels at least ``min_docs`` (5)
  documents: 873 tags. The query id is the tag's slug (the URI after ``/tag/``).
* **relevance**: grade 2 when the tag is on the document (10,924 pairs); grade 1 when the
  document carries a *direct* narrower tag (a tag whose ``broader`` lists it) but not the
  tag itself.
* **split**: by SHA-1 of the tag URI, ``int(hex, 16) % 10``: 0-5 train, 6-7 dev, 8-9 test.
  Fine-tuning uses train only; every reported figure uses test.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from pathlib import Path

from esplade_eval._io import atomic_dir, atomic_file, write_json
from esplade_eval.data.carriers import CARRIERS, carrier_path
from esplade_eval.data.prepared import Collection, fingerprint_of, summarise, write_record
from esplade_eval.data.trec import corpus_line, write_qrels, write_topics

__all__ = ["Collection", "SPLITS", "build_semanlink", "doc_id", "ensure_semanlink", "split_of"]

TAG_PREFIX = "http://www.semanlink.net/tag/"
SPLITS = ("train", "dev", "test")


def doc_id(url: str) -> str:
    return "d" + hashlib.sha1(url.encode("utf-8")).hexdigest()[:12]


def split_of(tag_uri: str) -> str:
    bucket = int(hashlib.sha1(tag_uri.encode("utf-8")).hexdigest(), 16) % 10
    return "train" if bucket < 6 else "dev" if bucket < 8 else "test"


def semanlink_fingerprint(min_docs: int) -> str:
    """What decides a build: the pinned carrier and ``min_docs`` (the construction is fixed)."""
    return fingerprint_of({"builtin": "semanlink", "cherche": CARRIERS["cherche"], "min_docs": min_docs})


def load_raw(source: str | os.PathLike | None = None) -> tuple[list[dict], dict[str, dict]]:
    """Read ``docs.json`` and ``tags.json`` (from the carrier unless ``source`` is given)."""
    folder = Path(source) if source else carrier_path("cherche", "cherche/data/semanlink")
    with open(folder / "docs.json", encoding="utf-8") as fh:
        docs = json.load(fh)
    with open(folder / "tags.json", encoding="utf-8") as fh:
        tags = json.load(fh)
    return docs, tags


def build_semanlink(out: str | os.PathLike, min_docs: int = 5, source: str | os.PathLike | None = None,
                    overwrite: bool = False) -> Collection:
    """Build the collection into ``out`` (written atomically as a whole folder)."""
    docs, tags = load_raw(source)
    ids: dict[str, str] = {}
    for d in docs:
        did = doc_id(d["document"])
        if did in ids and ids[did] != d["document"]:
            raise RuntimeError(f"document id collision: {did} for {ids[did]} and {d['document']}")
        ids[did] = d["document"]

    tag_docs: dict[str, list[str]] = defaultdict(list)
    for d in docs:
        did = doc_id(d["document"])
        for tag in dict.fromkeys(d["tag"]):  # de-duplicate, keep order
            tag_docs[tag].append(did)
    children: dict[str, set[str]] = defaultdict(set)
    for uri, info in tags.items():
        for parent in info.get("broader", []):
            children[parent].add(uri)

    queries = sorted(t for t, ds in tag_docs.items() if len(ds) >= min_docs and t in tags and tags[t]["prefLabel"])
    topics = {s: {} for s in SPLITS}
    qrels = {s: {} for s in SPLITS}
    for uri in queries:
        qid = uri[len(TAG_PREFIX):] if uri.startswith(TAG_PREFIX) else hashlib.sha1(uri.encode()).hexdigest()[:12]
        split = split_of(uri)
        topics[split][qid] = tags[uri]["prefLabel"][0]
        judged = {did: 2 for did in sorted(tag_docs[uri])}
        for child in sorted(children.get(uri, ())):
            for did in sorted(tag_docs.get(child, ())):
                judged.setdefault(did, 1)
        qrels[split][qid] = judged

    with atomic_dir(out, overwrite=overwrite) as tmp:
        with atomic_file(tmp / "corpus.jsonl") as fh:
            for d in docs:
                fh.write(corpus_line(doc_id(d["document"]), d["title"]))
        with atomic_file(tmp / "docids.tsv") as fh:
            for d in docs:
                fh.write(f"{doc_id(d['document'])}\t{d['document']}\n")
        for split in SPLITS:
            write_topics(tmp / f"topics.{split}.tsv", topics[split])
            write_qrels(tmp / f"qrels.{split}.txt", qrels[split])
        stats = {
            "documents": len(docs),
            "empty_documents": sum(1 for d in docs if not d["title"].strip()),
            "queries": {s: len(topics[s]) for s in SPLITS},
            "direct_pairs": sum(len(tag_docs[u]) for u in queries),
            "judgments": {s: sum(len(j) for j in qrels[s].values()) for s in SPLITS},
            "min_docs": min_docs,
        }
        write_json(tmp / "stats.json", stats)
        summary = summarise(set(ids), stats["empty_documents"], topics, qrels,
                            {s: tmp / f"qrels.{s}.txt" for s in SPLITS})
        write_record(tmp, "semanlink", {"builtin": "semanlink", "cherche": CARRIERS["cherche"], "min_docs": min_docs},
                     semanlink_fingerprint(min_docs), summary,
                     "Semanlink web-document titles; queries are tag labels, relevance is tagging")
    return Collection(Path(out))


def ensure_semanlink(out: str | os.PathLike) -> Collection:
    """Build the collection unless ``out`` already holds a prepared one.

    A prepared collection in ``out`` (Semanlink, or a user's prepared by
    :func:`esplade_eval.data.collection.load_collection`) is used as it is. A folder that
    exists but holds no prepared collection is an error, never replaced: it may hold
    somebody's files.
    """
    from esplade_eval.data.prepared import RECORD
    from esplade_eval.errors import EspladeError

    col = Collection(Path(out))
    if (col.root / "stats.json").exists() or (col.root / RECORD).exists():
        return col
    if col.root.exists() and any(col.root.iterdir()):
        raise EspladeError(f"{col.root}: exists and is not a built Semanlink collection (no stats.json) nor another "
                           f"prepared collection (no {RECORD}); give an empty or new folder")
    if col.root.exists():
        col.root.rmdir()
    return build_semanlink(out)
