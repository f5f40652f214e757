"""The study config reference (``docs/study-config.md``), generated from the schema.

Keys, types, defaults and the keys the study sets itself are read from
:mod:`esplade_eval.study.schema` and from the training dataclasses it takes its keys from
(their inline comments are the descriptions), so a new training option or finding setting
appears here at once. ``python -m esplade_eval.study.reference docs/study-config.md``
rewrites the page; ``mkdocs build`` renders the fresh text and a test checks that the
committed page is current.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys

from esplade_eval.study import checks, schema
from esplade_eval.study.systems import REFERENCES

#: one line per top-level key (a test checks that every key of ``schema.TOP_LEVEL`` has one)
TOP_LEVEL = {
    "name": ("a string", "the file name", "the study's name: its work and results folders"),
    "description": ("a string", "`\"\"`", "one line, printed in the summary"),
    "work": ("a path", "`artifacts/study/<name>`", "stage folders (cache); `--work` overrides"),
    "results": ("a path", "`results/<name>`", "the results folder; `--results` overrides"),
    "threads": ("an integer", "every CPU", "torch and Lucene threads; `--threads` overrides"),
    "jobs": ("an integer", "`1`", "stages run at once, each in its own worker process (same results and "
             "keys as `1`); `--jobs` overrides"),
    "device": ("a string", "cuda when present", "`cpu`, `cuda`, `cuda:1` ..."),
    "seeds": ("a list of integers", "`[0]`", "every arm and fine-tuned reference is trained once per seed"),
    "split": ("a string", "`test`", "the split every table reports; fine-tuning reads train and dev"),
    "collection": ("a table or a name", "`semanlink`", "[`[collection]`](#collection)"),
    "vocab": ("a table", "", "[`[vocab]`](#vocab): one output vocabulary for every arm"),
    "pretrain": ("a table", "", "[`[pretrain]`](#pretrain): the settings every arm starts from"),
    "grid": ("a table", "", "[`[grid]`](#grid): a list of values per axis; the arms are the product"),
    "arms": ("a list of tables", "", "[`[[arms]]`](#arms): explicit arms added to the grid's"),
    "finetune": ("a table", "", "[`[finetune]`](#finetune): the one fine-tuning recipe"),
    "references": ("a table", "", "[`[references]`](#references): reference systems, each on by default"),
    "evaluation": ("a table", "", "[`[evaluation]`](#evaluation): levels, measures, search and cost settings"),
    "findings": ("a table", "", "[`[findings]`](#findings): alpha and each finding's settings"),
    "tuning": ("a table", "absent", "[`[tuning]`](#tuning): candidate recipes scored on dev by `--tune`"),
    "parity": ("a table", "on", "[`[parity]`](#parity): the arms' starting point checked against SPLADE-tiny"),
}

COLLECTION = {
    "name": "a registry name, a registry `.toml` or a folder, as `--collection` takes them (default `semanlink`)",
    "root": "where the collection is prepared (default `<work>/data/<name>`)",
    "documents": "keep the first N documents, with every split's judgments on them (smoke runs; at least 2)",
    "description": "with the files inline: one line",
    "corpus": "the files inline, as a registry entry: corpus path or `{path, format, fields, id_field, separator}`",
    "topics": "per split: `{train = ..., dev = ..., test = ...}` (paths relative to the config)",
    "qrels": "per split, as `topics`",
}

HEADER = """# Study config reference

Generated from `esplade_eval/study/schema.py` and the training dataclasses it reads its keys
from, by `python -m esplade_eval.study.reference docs/study-config.md`; do not edit by hand.
How the study uses these keys: [the study](study.md). `configs/smoke.toml` is a complete,
commented example. TOML has no null: the string `"none"` unsets a key whose type allows it.
"""


def _comments(cls) -> dict[str, str]:
    """``{field: its inline comment}`` from the dataclass's source."""
    found = re.findall(r"^\s+(\w+): [^=\n]+=[^#\n]*#\s*(.+)$", inspect.getsource(cls), re.M)
    return {name: text.strip() for name, text in found}


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    if value is None:
        return '`"none"`'
    return f"`{str(value).lower()}`" if isinstance(value, bool) else f"`{value!r}`".replace("'", '"')


def _cell(text: str) -> str:
    """Table-safe: bars escaped; ``<`` escaped outside code spans (where Markdown would read HTML)."""
    parts = str(text).replace("|", "\\|").split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;") for i, p in enumerate(parts))


def _table(rows: list[tuple[str, str, str, str]]) -> list[str]:
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    return [*lines, *(f"| `{k}` | {_cell(t)} | {d} | {_cell(m)} |" for k, t, d, m in rows), ""]


def _dataclass_rows(cls, settable: dict, reserved: dict) -> list[tuple[str, str, str, str]]:
    notes, rows = _comments(cls), []
    for f in dataclasses.fields(cls):
        if f.name in settable:
            rows.append((f.name, checks._describe(settable[f.name]), _default(f), notes.get(f.name, "")))
        elif f.name in reserved:
            rows.append((f.name, "set by the study", "", reserved[f.name]))
    return rows


def _training_sections() -> list[str]:
    from esplade_eval.train.finetune import FinetuneConfig
    from esplade_eval.train.pretrain import PretrainConfig

    corpus = ("corpus", "a string or a list of strings", "`[\"general\", \"titles\"]`",
              f"bundled ({', '.join(schema.BUNDLED_CORPORA)}) or a text file, one text a line")
    pre = [corpus, *_dataclass_rows(PretrainConfig, schema.pretrain_fields(), schema.PRETRAIN_RESERVED)]
    return ["## [pretrain]", "", "The settings every arm starts from; an arm or a grid axis overrides any of them.",
            "", *_table(pre),
            "## [grid]", "", "Any key of `[pretrain]` (usually `corpus`, `lr`, `repeats`) with a list of values; "
            "the arms are the product, named by their settings (`general-lr1e-3-r3`). Plus `vocab`, the kinds "
            "of output vocabulary (default `[\"expanded\"]`): `[\"expanded\", \"wordpiece\"]` runs every arm "
            "(grid and explicit) also as its plain SPLADE twin, named `-wp` (`general-lr1e-3-r3-wp`), with the "
            "WordPiece MLM head of the starting checkpoint and the same corpus, lr, repeats, budget and seeds; the "
            "findings judge the expanded arms, the summary compares each with its twin.", "",
            "## [[arms]]", "", "Explicit arms: any key of `[pretrain]`, plus an optional `name` and `vocab` (a kind "
            "or a list of kinds, instead of the grid's).", "",
            "## [finetune]", "", "The one fine-tuning recipe of every fine-tuned system.", "",
            *_table(_dataclass_rows(FinetuneConfig, schema.finetune_fields(), schema.FINETUNE_RESERVED))]


def _evaluation_rows() -> list[tuple[str, str, str, str]]:
    defaults = {"levels": '`["full", "d32-q16", "d8-q4"]`', "strictest": "the only level, if one",
                "unpruned": "`\"full\"`", "measures": '`["nDCG@10", "R@100", "RR@10"]`'}
    rows = []
    hints = checks.dataclass_hints(schema.Evaluation)
    for f in dataclasses.fields(schema.Evaluation):
        default = defaults.get(f.name) or _default(f)
        rows.append((f.name, checks._describe(hints[f.name]), default, ""))
    return rows


def _findings_rows() -> list[tuple[str, str, str, str]]:
    rows = [("alpha", "a number", "`0.05`", "significance level of every finding's tests"),
            ("seeds", "a string", f"`{schema.SEED_DESIGN!r}`", "seed-aware tests: `'independent'` (each arm's seed "
             "variance its own) or `'paired'` (seed i of every arm shares its randomness)")]
    for name, settings in schema.DEFAULTS.items():
        rows += [(f"{name}.{key}", "true or false" if isinstance(d, bool) else "a number" if isinstance(d, float)
                  else "a string", _default(dataclasses.field(default=d)), "") for key, d in settings.items()]
    return rows


def config_markdown() -> str:
    """The whole page: top-level keys, then one section per table."""
    lines = [HEADER, "## Top level", "", *_table([(k, *TOP_LEVEL[k]) for k in schema.TOP_LEVEL]),
             "## [collection]", "", *_table([(k, "", "", COLLECTION[k]) for k in schema.COLLECTION_KEYS]),
             "## [vocab]", "", *_table([("corpora", "a list of corpora", "every arm's", ""),
                                       ("size", "an integer", "`10000`", "words in the output vocabulary"),
                                       ("min_count", "an integer", "`2`", "a word's minimum count"),
                                       ("sources", "a list of strings", '`["corpora"]`',
                                        '`"corpora"` (the corpora above) and/or `"collection"` (the collection\'s '
                                        "unlabelled document text: Semanlink's titles and comments)")]),
             *_training_sections(),
             "## [references]", "", *_table([(k, "true or false", "`true`", desc)
                                            for k, (_, desc) in REFERENCES.items()]),
             "## [evaluation]", "", *_table(_evaluation_rows()),
             "## [findings]", "", "Each finding's settings are a table `[findings.<name>]`.", "",
             *_table(_findings_rows()),
             "## [tuning]", "", *_table([("system", "a string", "`\"esplade-no-mlm\"`", "the system tuned"),
                                        ("seeds", "a list of integers", "`[0]`", ""),
                                        ("candidates", "a list of tables", "required",
                                         "`[[tuning.candidates]]`: overrides of `[finetune]`, optional `name`")]),
             "## [parity]", "", "Planned when `esplade_no_mlm` and `splade_tiny_finetuned` are on; judged at the "
             "unpruned level (`esplade_eval.study.stages.parity`).", "",
             *_table([("enabled", "true or false", "`true`", "plan the parity check"),
                      ("tolerance", "a number", "`0.02`", "passes when SPLADE-tiny fine-tuned - esplade-no-mlm <= it"),
                      ("measure", "a string", "`\"nDCG@10\"`", "one of the evaluation measures")])]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # python -m esplade_eval.study.reference [PATH]
    from esplade_eval._io import write_page

    write_page(config_markdown(), sys.argv[1] if len(sys.argv) > 1 else None)
