"""What every stage kind shares: its :class:`Inputs`, the :class:`FromConfig` and :class:`Record`
mixins of its ``Params`` and ``Outputs``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

#: a stage's record in its folder (key, params, inputs, code version, timings, outputs)
RECORD = "record.json"
#: the corpus name that means the study's own collection (its documents)
EVAL_COLLECTION = "collection"


@dataclass
class Inputs:
    """A stage's inputs: its temporary output folder, the collection, its dependencies' outputs."""

    tmp: Path
    collection: object
    deps: dict = field(default_factory=dict)  # {kind: (folder, Outputs)}
    system: str | None = None
    sources: list = field(default_factory=list)  # every dependency as a Source (several of one kind too)

    def dep(self, kind: str):
        """Folder and ``Outputs`` of the dependency of ``kind``."""
        if kind not in self.deps:
            raise RuntimeError(f"no {kind} dependency")
        return self.deps[kind]


@dataclass(frozen=True)
class Source:
    """One dependency of a stage: its kind, system, seed, folder and ``Outputs``."""

    kind: str
    system: str | None
    seed: int | None
    folder: Path
    outputs: object


class FromConfig:
    """Mixin of every ``Params``: built from the stage's config slice (the plan's dict)."""

    @classmethod
    def of(cls, params: dict):
        return cls(**params)


class Record:
    """Mixin of every ``Outputs``: the JSON of a stage record's ``outputs``, and back."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, outputs: dict):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in outputs.items() if k in known})

    @classmethod
    def load(cls, folder: str | Path):
        """The outputs recorded in a complete stage folder's ``record.json``."""
        return cls.from_dict(json.loads((Path(folder) / RECORD).read_text(encoding="utf-8"))["outputs"])


def eval_sources(sources, collection) -> list[str]:
    """``"collection"`` is the study's collection: its corpus file."""
    return [str(collection.corpus) if s == EVAL_COLLECTION else s for s in sources]


def pick(state: dict, keys) -> dict:
    return {k: state[k] for k in keys if k in state}
