"""A folder as a collection: which of the accepted forms it is, told from its files.

============  =================================================================================
form          files
============  =================================================================================
BEIR          ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``,
              ``text``), ``qrels/<split>.tsv`` (header ``query-id corpus-id score``); gzipped or
              not. A split's topics are the queries its qrels judge (as BEIR's own loader does);
              documents are title + text.
SMART         one documents file ``*.ALL`` (``CISI.ALL``, ``cacm.all``, ``cran.all.1400``), one
              queries file ``*.QRY`` (``CISI.QRY``, ``cran.qry``) or ``query.text`` (CACM), one
              relevance file ``*.REL`` (``CISI.REL``, ``MED.REL``), ``qrels.text`` (CACM) or
              ``cranqrel`` (Cranfield); read by :mod:`esplade_eval.data.smart`, one split
              ``test``. Cranfield numbers its judged queries 1..225 by position while
              ``cran.qry`` says ``.I 001, 002, 004, ...``: when the queries' ids are not 1..N in
              order and every judged query id is within 1..N, queries are numbered by position
              (and the collection says so when prepared).
named files   ``corpus.*``, ``topics.<split>.*``, ``qrels.<split>.*`` in any format of
              :mod:`esplade_eval.data.formats`.
============  =================================================================================

:func:`folder_entry` returns a registry entry (a mapping, as in a ``collections.toml``) and a
*topics rule* that preparation applies (:func:`apply_topics_rule`): ``judged`` (BEIR),
``position`` (Cranfield) or none.
"""

from __future__ import annotations

import json
from pathlib import Path

from esplade_eval._read import open_text
from esplade_eval.errors import EspladeError

GZ = ("", ".gz")
SMART_PATTERNS = {"corpus": ("*.all", "*.all.*"), "topics": ("*.qry", "*.qry.*", "query.text"),
                  "qrels": ("*.rel", "*.rel.*", "qrels.text", "qrels.text.*", "cranqrel", "cranqrel.*")}
FORMS = ("a BEIR folder: corpus.jsonl, queries.jsonl and qrels/<split>.tsv",
         "a SMART folder: *.ALL (documents), *.QRY or query.text (queries), *.REL, qrels.text or cranqrel "
         "(judgments), as CISI, CACM, Cranfield and Medline are distributed",
         "named files: corpus.*, topics.<split>.*, qrels.<split>.* (JSON lines, TSV, TREC)",
         "a prepared collection (with collection.json)")


def _one(folder: Path, names) -> Path | None:
    found = [folder / n for n in names if (folder / n).is_file()]
    return found[0] if found else None


def _smart_files(folder: Path) -> dict[str, list[Path]]:
    files = [p for p in folder.iterdir() if p.is_file()]
    out = {}
    for kind, patterns in SMART_PATTERNS.items():
        out[kind] = sorted(p for p in files if any(Path(p.name.lower()).match(pat) for pat in patterns))
    return out


def folder_entry(folder: str | Path) -> tuple[dict, str]:
    """``(registry entry, topics rule)`` for ``folder``; an error lists what it lacks and the forms."""
    folder = Path(folder)
    beir = _beir_entry(folder)
    if beir is not None:
        return beir, "judged"
    named = list(folder.glob("corpus.*")) and list(folder.glob("topics.*"))
    smart = _smart_files(folder)
    if any(smart.values()) and not named:
        return _smart_entry(folder, smart)
    if named or (list(folder.glob("corpus.*")) and not _one(folder, _gz("queries.jsonl"))):
        return _named_entry(folder), ""
    raise _unrecognised(folder)


def _unrecognised(folder: Path) -> EspladeError:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "") if names else "nothing"
    lacks = ["a corpus (corpus.jsonl, corpus.* or *.ALL)"]
    if _one(folder, _gz("queries.jsonl")) or (folder / "qrels").is_dir() or _one(folder, _gz("corpus.jsonl")):
        lacks = [n for n, ok in (("corpus.jsonl", _one(folder, _gz("corpus.jsonl"))),
                                 ("queries.jsonl", _one(folder, _gz("queries.jsonl"))),
                                 ("qrels/<split>.tsv", _beir_qrels(folder))) if not ok]
    return EspladeError(f"{folder}: not a collection folder: it holds {shown}; it lacks "
                        f"{', '.join(lacks)}. Accepted forms:\n" + "\n".join(f"  - {f}" for f in FORMS))


def _gz(name: str) -> list[str]:
    return [name + g for g in GZ]


def _beir_qrels(folder: Path) -> dict[str, Path]:
    qrels = folder / "qrels"
    if not qrels.is_dir():
        return {}
    found = {}
    for path in sorted(qrels.iterdir()):
        split = path.name.removesuffix(".gz").removesuffix(".tsv")
        if path.is_file() and path.name != split:
            found[split] = path
    return found


def _beir_entry(folder: Path) -> dict | None:
    corpus, queries, qrels = _one(folder, _gz("corpus.jsonl")), _one(folder, _gz("queries.jsonl")), _beir_qrels(folder)
    if not (corpus and queries) or not (qrels or (folder / "qrels").is_dir()):
        return None
    if not qrels:
        raise EspladeError(f"{folder}: a BEIR folder whose qrels/ holds no <split>.tsv file (e.g. qrels/test.tsv "
                           "with the header 'query-id corpus-id score')")
    corpus_spec = {"path": corpus.name, "format": "jsonl"}
    if "title" in _first_record(corpus):
        corpus_spec["fields"] = ["title", "text"]
    return {"corpus": corpus_spec,
            "topics": {s: {"path": queries.name, "format": "jsonl"} for s in qrels},
            "qrels": {s: {"path": f"qrels/{p.name}", "format": "tsv"} for s, p in qrels.items()},
            "description": "BEIR folder: each split's topics are the queries its qrels judge"}


def _first_record(path: Path) -> dict:
    with open_text(path) as fh:
        for line in fh:
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    return {}  # the reader names the line
                return record if isinstance(record, dict) else {}
    return {}


def _smart_entry(folder: Path, smart: dict[str, list[Path]]) -> tuple[dict, str]:
    for kind, label in (("corpus", "documents (*.ALL)"), ("topics", "queries (*.QRY, query.text)"),
                        ("qrels", "judgments (*.REL, qrels.text, cranqrel)")):
        if len(smart[kind]) != 1:
            have = ", ".join(p.name for p in smart[kind]) or "none"
            raise EspladeError(f"{folder}: a SMART folder needs exactly one file of {label}; found {have}. "
                               "Accepted forms:\n" + "\n".join(f"  - {f}" for f in FORMS))
    corpus, topics, qrels = (smart[k][0] for k in ("corpus", "topics", "qrels"))
    entry = {"corpus": {"path": corpus.name, "format": "smart"},
             "topics": {"test": {"path": topics.name, "format": "smart"}},
             "qrels": {"test": {"path": qrels.name, "format": "smart"}},
             "description": "SMART folder"}
    rule = "position" if _numbered_by_position(topics, qrels) else ""
    if rule:
        entry["description"] += f" (queries numbered by position: {qrels.name} judges 1..N, {topics.name} " \
                                "has other ids)"
    return entry, rule


def _numbered_by_position(topics: Path, qrels: Path) -> bool:
    from esplade_eval.data.smart import iter_records, read_smart_qrels

    ids = [ident for _, ident, _ in iter_records(topics)]
    positions = [str(i) for i in range(1, len(ids) + 1)]
    judged = set(read_smart_qrels(qrels))
    return ids != positions and judged <= set(positions) and not judged <= set(ids)


def _named_entry(folder: Path) -> dict:
    """Files named ``corpus.*``, ``topics.<split>.*``, ``qrels.<split>.*`` in ``folder``."""
    def split_of(path: Path, prefix: str) -> str:
        stem = path.name[len(prefix):]
        for suffix in (".gz", ".tsv", ".txt", ".jsonl", ".json", ".trec"):
            stem = stem.removesuffix(suffix)
        return stem

    corpora = sorted(p for p in folder.glob("corpus.*") if p.is_file())
    if len(corpora) != 1:
        raise EspladeError(f"{folder}: expected one corpus.* file (corpus.jsonl, corpus.tsv, ... gzipped or not), "
                           f"found {len(corpora)}: {', '.join(p.name for p in corpora) or 'none'}")
    entry: dict = {"corpus": corpora[0].name, "topics": {}, "qrels": {}}
    for kind in ("topics", "qrels"):
        for path in sorted(folder.glob(f"{kind}.*")):
            split = split_of(path, f"{kind}.")
            if split in entry[kind]:
                raise EspladeError(f"{folder}: two {kind} files for split {split!r}: {entry[kind][split]}, {path.name}")
            entry[kind][split] = path.name
    if not entry["topics"]:
        raise EspladeError(f"{folder}: holds {corpora[0].name} but lacks topics: topics.<split>.* (e.g. "
                           "topics.test.tsv, with qrels.test.txt) or, for BEIR, queries.jsonl and qrels/<split>.tsv. "
                           "Accepted forms:\n" + "\n".join(f"  - {f}" for f in FORMS))
    return entry


def apply_topics_rule(rule: str, topics: dict[str, dict[str, str]], qrels: dict[str, dict]) -> dict:
    """Each split's topics after ``rule``: ``judged`` keeps the queries its qrels judge (in topic order),
    ``position`` numbers the queries 1..N in file order, none keeps them."""
    if rule == "judged":
        return {s: {q: t for q, t in topic_map.items() if q in qrels.get(s, {})} for s, topic_map in topics.items()}
    if rule == "position":
        return {s: {str(i): t for i, t in enumerate(topic_map.values(), 1)} for s, topic_map in topics.items()}
    return topics
