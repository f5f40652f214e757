"""Where a flow folder puts each artifact (:class:`FlowLayout`; the tree is in
:mod:`esplade_eval.artifacts`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from esplade_eval.artifacts.names import (
    queries_file,
    run_file,
)
from esplade_eval.errors import InputError


def _folder(name: str, doc: str) -> property:
    return property(lambda self: self.root / name, doc=f"``<root>/{name}``: {doc}")


@dataclass(frozen=True)
class FlowLayout:
    """Where the flow puts each artifact of ``root`` (see the module docstring)."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    data = _folder("data", "the prepared collection (:class:`esplade_eval.data.prepared.Collection`)")
    vectors_root = _folder("vectors", "one export level folder per pruning level")
    indexes_root = _folder("indexes", "one Lucene impact index per pruning level")
    runs_root = _folder("runs", "the TREC runs")
    plots = _folder("plots", "the demo's figures")

    def vectors(self, level: str) -> Path:
        return self.vectors_root / level

    def queries(self, level: str, split: str) -> Path:
        return self.vectors(level) / queries_file(split)

    def index(self, level: str) -> Path:
        return self.indexes_root / level

    def run(self, split: str, level: str) -> Path:
        return self.runs_root / run_file(split, level)

    def runs_of(self, level: str) -> list[Path]:
        """Every run searched on the index of ``level`` (any split)."""
        return sorted(self.runs_root.glob(run_file("*", level)))

    def runs_by_level(self, split: str) -> dict[str, Path]:
        """``{level: run}`` for every run of ``split`` in ``runs/`` (levels by name)."""
        head, tail = run_file(split, "*").split("*")
        return {p.name[len(head):-len(tail)]: p for p in sorted(self.runs_root.glob(run_file(split, "*")))}

    def levels(self) -> list[str]:
        """The levels with an index folder, by name (temporary folders left out)."""
        if not self.indexes_root.is_dir():
            raise InputError(self.root, "no indexes/ folder here (expected the output of `esplade-eval flow --out`)")
        found = sorted(p.name for p in self.indexes_root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not found:
            raise InputError(self.indexes_root, "no index folders")
        return found

    def collection(self):
        """The prepared collection in ``data/`` (:class:`esplade_eval.data.prepared.Collection`)."""
        from esplade_eval.data.prepared import Collection

        return Collection(self.data)
