"""The levels a cost report is about: ``cost --level`` specs, and the levels a flow
folder (or a :class:`~esplade_eval.study.flow.FlowResult`) holds, unpruned first."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from esplade_eval.artifacts import FlowLayout, split_named
from esplade_eval.errors import EspladeError, InputError
from esplade_eval.sparse.prune import strictness


@dataclass
class LevelSpec:
    """One (checkpoint, pruning level): its index, its pre-encoded queries and its run."""

    checkpoint: str
    level: str
    index: Path
    queries: Path
    run: Path | None = None

    @property
    def label(self) -> str:
        return f"{self.checkpoint}/{self.level}"

    @classmethod
    def parse(cls, text: str) -> "LevelSpec":
        """``[CHECKPOINT/]LEVEL=INDEX,QUERIES[,RUN]`` (``cost --level``).

        >>> LevelSpec.parse("tiny/d8-q4=idx,q.jsonl").label
        'tiny/d8-q4'
        """
        name, value = split_named(text)
        parts = value.split(",")
        if name is None or len(parts) not in (2, 3) or not all(parts):
            raise EspladeError(f"--level {text!r}: expected NAME=INDEX,QUERIES[,RUN]")
        checkpoint, _, level = name.rpartition("/")
        return cls(checkpoint or "-", level, Path(parts[0]), Path(parts[1]), Path(parts[2]) if len(parts) == 3 else None)


def _checkpoint_name(checkpoint) -> str:
    return Path(str(checkpoint)).name or str(checkpoint)


def levels_of(flow) -> list[LevelSpec]:
    """The levels of a :class:`~esplade_eval.study.flow.FlowResult`."""
    ck = getattr(flow, "name", None) or _checkpoint_name(flow.checkpoint)
    return [LevelSpec(ck, name, Path(lv.index), Path(lv.queries), Path(lv.run)) for name, lv in flow.levels.items()]


def levels_in_folder(out: str | os.PathLike, split: str = "test", checkpoint: str | None = None) -> list[LevelSpec]:
    """Levels found in a flow output folder (:class:`~esplade_eval.artifacts.FlowLayout`: an
    index per level, its queries of ``split``, its run when there is one), ordered from
    unpruned to strictest (:func:`~esplade_eval.sparse.prune.strictness`)."""
    layout = FlowLayout(out)
    specs = []
    for level in sorted(layout.levels(), key=strictness):
        run = layout.run(split, level)
        specs.append(LevelSpec(checkpoint or layout.root.name, level, layout.index(level),
                               layout.queries(level, split), run if run.is_file() else None))
    return specs


def flow_judgments(out: str | os.PathLike, split: str = "test") -> tuple[Path | None, Path | None]:
    """The qrels and topics of ``split`` in a flow folder's prepared collection (None where absent)."""
    collection = FlowLayout(out).collection()
    qrels, topics = collection.qrels(split), collection.topics(split)
    return (qrels if qrels.is_file() else None), (topics if topics.is_file() else None)


def load_queries(path: str | os.PathLike) -> dict[str, dict[str, int]]:
    """``{qid: {term: impact}}`` from a pre-encoded query file; a clear error when it is missing."""
    from esplade_eval.sparse.jsonvector import read_query_vectors

    if not Path(path).is_file():
        raise InputError(path, "query file not found (pre-encoded queries: JSONL with id, contents, vector)")
    return read_query_vectors(path)[0]
