"""The study's collection: the bundled Semanlink titles, whole or its first N documents.

A subset (``[collection] documents = N``, for smoke runs) keeps the first ``N`` documents
of the corpus, every split's judgments on them, and the topics that still have one; it is
written once, atomically, under ``<work>/data/``. The collection's **fingerprint** (the
SHA-256 of its corpus, topics and qrels files) is an input of every stage that reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

from esplade_eval.study.cache import digest, file_fingerprint

SPLITS = ("train", "dev", "test")


def collection_root(cfg) -> Path:
    spec = cfg.collection
    base = Path(spec["root"]) if spec.get("root") else cfg.work / "data" / "semanlink"
    if spec.get("documents"):
        return cfg.work / "data" / f"{base.name}-first{spec['documents']}"
    return base


def prepare_collection(cfg, create: bool = True):
    """The collection's :class:`~esplade_eval.data.semanlink.Collection`; None when it is
    not built yet and ``create`` is off (a dry run writes nothing)."""
    from esplade_eval.data.semanlink import Collection, ensure_semanlink

    spec = cfg.collection
    full = Path(spec["root"]) if spec.get("root") else cfg.work / "data" / "semanlink"
    root = collection_root(cfg)
    if (root / "stats.json").is_file():
        return Collection(root)
    if not create:
        return None
    source = ensure_semanlink(full)
    return _subset(source, root, spec["documents"]) if spec.get("documents") else source


def _subset(source, root: Path, documents: int):
    from esplade_eval._io import atomic_dir, write_json
    from esplade_eval.data.semanlink import Collection
    from esplade_eval.data.trec import read_corpus, read_qrels, read_topics, write_qrels, write_topics

    docs = []
    for docid, text in read_corpus(source.corpus):
        docs.append((docid, text))
        if len(docs) == documents:
            break
    keep = {d for d, _ in docs}
    counts = {}
    with atomic_dir(root, overwrite=True) as tmp:
        with open(tmp / "corpus.jsonl", "w", encoding="utf-8") as fh:
            for docid, text in docs:
                fh.write(json.dumps({"id": docid, "contents": text}, ensure_ascii=False) + "\n")
        for split in SPLITS:
            qrels = {q: {d: g for d, g in j.items() if d in keep} for q, j in read_qrels(source.qrels(split)).items()}
            qrels = {q: j for q, j in qrels.items() if j}
            topics = {q: t for q, t in read_topics(source.topics(split)).items() if q in qrels}
            write_qrels(tmp / f"qrels.{split}.txt", qrels)
            write_topics(tmp / f"topics.{split}.tsv", topics)
            counts[split] = len(topics)
        write_json(tmp / "stats.json", {"documents": len(docs), "queries": counts,
                                        "subset_of": str(source.root), "first_documents": documents})
    return Collection(root)


def fingerprint(collection) -> str:
    """SHA-256 over the collection's corpus, topics and qrels files."""
    files = [collection.corpus] + [p for s in SPLITS for p in (collection.topics(s), collection.qrels(s))]
    return digest({Path(p).name: file_fingerprint(p) for p in files if Path(p).is_file()})
