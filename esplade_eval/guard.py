"""The output guard: no output may replace, hold or sit inside an input, or replace an
artifact of another kind.

Every verb declares, in one line of its ``register``, which of its arguments it reads and
which it writes (:func:`declare_paths`); :func:`esplade_eval.cli.main` calls :func:`check_args`
after parsing and before the verb runs, so a refused output costs no model load, no JVM and
no reading of inputs. An output is refused (an :class:`OutputGuardError`, exit 2, both paths
named), ``--overwrite`` or not, when:

* it is one of the command's inputs, contains one, or lies inside one (a *workspace* input,
  a flow folder read by ``cost --flow``, may hold new outputs, but not inside its artifacts);
* two of the command's outputs are, contain or lie inside each other;
* it exists and is an artifact of another kind than the verb writes there, known from its
  manifest or marker (:func:`kind_of`); ``--overwrite`` replaces only an artifact of the same kind.

A verb opts in with one line in its ``register`` (destinations, as argparse names them)::

    declare_paths(p, inputs=["index", "topics"], outputs={"output": guard.RUN}, names=["tag"])

``tests/test_guard.py`` then tries every output of the verb onto, around and inside every
input, and fails while any string argument of the verb has no declared role. A verb that
names an output itself (a default name) calls :func:`check_default_output` on it.

>>> import tempfile, os
>>> d = tempfile.mkdtemp(); run = os.path.join(d, "run.txt")
>>> _ = open(run, "w").write("q1 Q0 d1 1 2.0 t\\n")
>>> kind_of(run)
'TREC run'
>>> check_paths(inputs=[("RUN", run)], outputs=[("--output", run, "table")])
Traceback (most recent call last):
...
esplade_eval.guard.OutputGuardError: ...run.txt: --output is the input RUN ...run.txt; write it elsewhere
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from esplade_eval.artifacts import EXPORT_MANIFEST, INDEX_MANIFEST, split_named
from esplade_eval.data.prepared import RECORD
from esplade_eval.errors import EspladeError

#: the kinds an output may be declared as: a folder or file kind known to :func:`kind_of`, or a
#: kind no marker identifies (a table, a JSON file, plots), which replaces only unmarked files
EXPORT, LEVEL, INDEX, COLLECTION, FLOW = "export folder", "export level", "Lucene index", "prepared collection", "flow folder"
RUN, QRELS, CHECKPOINT, VOCAB, RESULTS = "TREC run", "TREC qrels", "checkpoint", "output vocabulary", "results folder"
STUDY_WORK, NOTEBOOK = "study work folder", "notebook"


class OutputGuardError(EspladeError):
    """An output that would replace, hold or sit inside an input, or replace another kind of artifact."""

    def __init__(self, path, message: str):
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: {message}")


@dataclass(frozen=True)
class Paths:
    """The path arguments of a verb, by destination: ``inputs`` read, ``outputs`` written
    (destination -> kind), ``workspaces`` inputs that may hold outputs, ``names`` string
    arguments that name no path (a tag, a device): declared so the generated tests know
    every string argument's role."""

    inputs: tuple[str, ...] = ()
    outputs: Mapping[str, str] = field(default_factory=dict)
    workspaces: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


def declare_paths(parser: argparse.ArgumentParser, inputs: Sequence[str] = (), outputs: Mapping[str, str] | None = None,
                  workspaces: Sequence[str] = (), names: Sequence[str] = ()) -> None:
    """Declare a verb's path arguments (by ``dest``); :func:`esplade_eval.cli.main` guards them.

    >>> p = argparse.ArgumentParser(); _ = p.add_argument("--runs"); _ = p.add_argument("--output")
    >>> declare_paths(p, inputs=["runs"], outputs={"output": "table"})
    """
    parser.set_defaults(_paths=Paths(tuple(inputs), dict(outputs or {}), tuple(workspaces), tuple(names)))


def paths_of(parser_or_args) -> Paths | None:
    """The declaration of a subparser (or of parsed arguments), None when it has none."""
    if isinstance(parser_or_args, argparse.ArgumentParser):
        return parser_or_args.get_default("_paths")
    return getattr(parser_or_args, "_paths", None)


def _values(value, named: bool = True) -> list[str]:
    """The paths in an argument's value: a path, or a list of them; with ``named`` (inputs) also
    ``NAME=PATH`` and ``NAME=A,B,C``."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _values(v, named)]
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if os.path.exists(text) or not named:
        return [text]
    text = split_named(text)[1]
    if os.path.exists(text) or "," not in text:
        return [text]
    return [part for part in text.split(",") if part]


def _flag(parser: argparse.ArgumentParser | None, dest: str) -> str:
    if parser is not None:
        for action in parser._actions:
            if action.dest == dest:
                return action.option_strings[-1] if action.option_strings else (action.metavar or dest.upper())
    return "--" + dest.replace("_", "-")


def check_args(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> None:
    """Guard the outputs of parsed arguments against their inputs (see the module docstring)."""
    spec = paths_of(args)
    if spec is None:
        return
    inputs = [(_flag(parser, d), p) for d in spec.inputs + spec.workspaces for p in _values(getattr(args, d, None))]
    outputs = [(_flag(parser, d), p, kind) for d, kind in spec.outputs.items()
               for p in _values(getattr(args, d, None), named=False)]
    workspaces = [p for d in spec.workspaces for p in _values(getattr(args, d, None))]
    check_paths(inputs, outputs, workspaces)


def check_default_output(args: argparse.Namespace, dest: str, overwrite: bool) -> None:
    """Guard an output a verb named itself (``args.<dest>`` set to its default name): as a given
    one (:func:`check_args`), and refused when it exists without ``overwrite``, because a default
    name can repeat (two indexes in folders of one name give one default run name)."""
    path = getattr(args, dest)
    if not overwrite and os.path.lexists(path):
        raise OutputGuardError(path, "the default output of this command already exists (from an earlier "
                                     "run?): pass --overwrite to replace it, or name the output")
    check_args(args)


def _real(path: str | os.PathLike) -> Path:
    return Path(os.path.realpath(os.path.abspath(path)))


def _inside(child: Path, parent: Path) -> bool:
    return child != parent and parent in child.parents


def check_paths(inputs: Iterable[tuple[str, str]], outputs: Iterable[tuple[str, str, str]],
                workspaces: Iterable[str] = ()) -> None:
    """Refuse outputs ``(flag, path, kind)`` that are, hold or sit inside an input ``(flag, path)``
    or another output, or replace an artifact of another kind (an :class:`OutputGuardError`)."""
    inputs, outputs = list(inputs), list(outputs)
    spaces = {_real(w) for w in workspaces}
    for i, (flag, path, kind) in enumerate(outputs):
        out = _real(path)
        for in_flag, in_path in inputs:
            if not os.path.lexists(in_path):  # a name (splade-tiny, semanlink, irds:...) or a missing file
                continue
            _refuse_overlap(flag, path, out, f"the input {in_flag}", in_path, _real(in_path) in spaces)
        for other_flag, other_path, _ in outputs[i + 1:]:
            _refuse_overlap(flag, path, out, f"the output {other_flag}", other_path, False)
        check_kind(path, kind, flag)


def _refuse_overlap(flag: str, path: str, out: Path, what: str, other: str, workspace: bool) -> None:
    real = _real(other)
    if out == real:
        raise OutputGuardError(path, f"{flag} is {what} {other}; write it elsewhere")
    if _inside(real, out):
        raise OutputGuardError(path, f"{flag} holds {what} {other}; write it elsewhere")
    if _inside(out, real):
        if workspace:
            return _refuse_inside_artifact(flag, path, out, real)
        raise OutputGuardError(path, f"{flag} lies inside {what} {other}; write it elsewhere")


def _refuse_inside_artifact(flag: str, path: str, out: Path, space: Path) -> None:
    """An output in a workspace must not sit inside one of its artifacts (an index, a level)."""
    for parent in out.parents:
        if parent == space:
            return
        kind = kind_of(parent)
        if kind is not None:
            raise OutputGuardError(path, f"{flag} lies inside the {kind} {parent}; write it elsewhere")


def check_kind(path: str | os.PathLike, kind: str, flag: str = "the output") -> None:
    """Refuse writing a ``kind`` at ``path`` when an artifact of another kind is there."""
    found = kind_of(path)
    if found is None or found == kind:
        return
    raise OutputGuardError(path, f"{flag} names {_a(found)} ({_evidence(path, found)}), not {_a(kind)}: "
                                 "not replaced, --overwrite or not; write it elsewhere")


def _a(kind: str) -> str:
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"


# --- what an existing path is ---------------------------------------------------------

#: folder kinds, each recognised by the files it holds (any one of the names; the first match wins)
_FOLDER_MARKERS = (
    (INDEX, (INDEX_MANIFEST, "segments_*")),
    (LEVEL, (EXPORT_MANIFEST,)),
    (COLLECTION, (RECORD,)),
    (FLOW, (f"data/{RECORD}", f"vectors/*/{EXPORT_MANIFEST}", f"indexes/*/{INDEX_MANIFEST}", "flow-stages")),
    (RESULTS, ("results.json",)),
    (STUDY_WORK, ("stages",)),
    (CHECKPOINT, ("config.json",)),
    (VOCAB, ("output_vocab.txt",)),
    (EXPORT, (f"*/{EXPORT_MANIFEST}",)),
)


def _marker(folder: Path, kind: str) -> str | None:
    for names in (names for k, names in _FOLDER_MARKERS if k == kind):
        for name in names:
            found = sorted(folder.glob(name)) if "*" in name else [folder / name] if (folder / name).exists() else []
            if found:
                return found[0].relative_to(folder).as_posix()
    return None


def kind_of(path: str | os.PathLike) -> str | None:
    """The kind of artifact at ``path`` known from its manifest or marker; None when nothing is
    there, or nothing this toolkit recognises (a plain folder, a table, a log).

    A folder: an index (``esplade_eval.json`` or Lucene segments), an export level
    (``manifest.json``), a prepared collection (``collection.json``), a flow folder
    (``data/collection.json``, levels under ``vectors/``, indexes under ``indexes/``, the engine's
    ``flow-stages/``), a study's
    results (``results.json``) or work folder (``stages/``), a checkpoint (``config.json``), an
    output vocabulary, an export folder (levels inside). A file: a notebook (``.ipynb``), a
    TREC run or TREC qrels (from its first line, gzipped or not).
    """
    path = Path(path)
    if path.is_dir():
        for kind, _ in _FOLDER_MARKERS:
            if _marker(path, kind):
                return kind
        return None
    if not path.is_file():
        return None
    if path.suffix == ".ipynb":
        return NOTEBOOK
    return _file_kind(_first_line(path))


def _first_line(path: Path) -> str:
    import gzip

    try:
        with open(path, "rb") as raw:
            head = raw.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as fh:
            for line in fh:
                if line.strip():
                    return line[:4096].decode("utf-8", "replace")
                return ""
    except (OSError, EOFError):
        return ""
    return ""


def _file_kind(line: str) -> str | None:
    fields = line.split()
    if len(fields) == 6 and fields[1] == "Q0" and fields[3].isdigit():
        return RUN
    if len(fields) == 4 and fields[1].lstrip("-").isdigit() and fields[3].lstrip("-").isdigit():
        return QRELS
    return None


def _evidence(path, kind: str) -> str:
    """Why ``path`` is a ``kind``: the marker file found, or the first line of a file."""
    path = Path(path)
    if path.is_dir():
        return f"it holds {_marker(path, kind)}"
    return "its .ipynb name" if kind == NOTEBOOK else "from its first line"
