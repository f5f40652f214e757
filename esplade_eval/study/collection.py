"""The study's collection: any collection :mod:`esplade_eval.data.collection` knows, whole or
its first N documents.

``[collection]`` names it like ``--collection`` does (``semanlink``, a registry entry, a
registry ``.toml``, a folder) or gives its files inline; it is prepared once under
``root`` (default ``<work>/data/<name>``). A subset (``documents = N``, for smoke runs)
keeps the first ``N`` documents, every split's judgments on them and the topics that
still have one, written once, atomically. The collection's **fingerprint** (SHA-256 over
its canonical files) is an input of every stage that reads it.
"""

from __future__ import annotations

import json
from pathlib import Path


def collection_root(cfg) -> Path:
    """Where the collection is prepared (and its subset written)."""
    spec = cfg.collection
    return Path(spec["root"]) if spec.get("root") else cfg.work / "data" / spec["name"]


def _subset_root(cfg) -> Path:
    root = collection_root(cfg)
    return root.parent / f"{root.name}-first{cfg.collection['documents']}"


def prepare_collection(cfg, create: bool = True, echo=None):
    """The prepared :class:`~esplade_eval.data.prepared.Collection`; None when it is not
    prepared yet and ``create`` is off (a dry run writes nothing)."""
    from esplade_eval.data.collection import load_collection
    from esplade_eval.data.prepared import RECORD, Collection

    spec = cfg.collection
    target = _subset_root(cfg) if spec.get("documents") else collection_root(cfg)
    if not create:
        done = (target / "stats.json").is_file() or (target / RECORD).is_file()
        return Collection(target) if done else None
    full = load_collection(spec["spec"], root=collection_root(cfg), base=spec["base"], echo=echo)
    if not spec.get("documents"):
        return full
    return Collection(target) if (target / "stats.json").is_file() else _subset(full, target, spec["documents"])


def _subset(source, root: Path, documents: int):
    from esplade_eval._io import atomic_dir, write_json
    from esplade_eval.data.prepared import Collection
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
        for split in source.splits:
            qrels = {q: {d: g for d, g in j.items() if d in keep} for q, j in read_qrels(source.qrels(split)).items()}
            qrels = {q: j for q, j in qrels.items() if j}
            topics = {q: t for q, t in read_topics(source.topics(split)).items() if q in qrels}
            write_qrels(tmp / f"qrels.{split}.txt", qrels)
            write_topics(tmp / f"topics.{split}.tsv", topics)
            counts[split] = len(topics)
        write_json(tmp / "stats.json", {"documents": len(docs), "queries": counts,
                                        "subset_of": str(source.root), "first_documents": documents})
    return Collection(root)


def check_splits(collection, cfg) -> None:
    """The evaluated split, and train and dev when something is fine-tuned, must exist."""
    collection.require_split(cfg.split)
    if cfg.arms or cfg.references.get("splade_tiny_finetuned") or cfg.references.get("esplade_no_mlm"):
        for split in ("train", "dev"):
            collection.require_split(split)
