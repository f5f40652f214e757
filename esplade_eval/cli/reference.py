"""The command-line reference page (``docs/cli.md``), generated from the argparse parsers.

Every verb of :data:`esplade_eval.cli.MODULES`, every flag with its default, read from
:func:`esplade_eval.cli.build_parser`, so a new verb or flag appears in the docs without
anyone writing it twice. ``python -m esplade_eval.cli.reference docs/cli.md`` rewrites the
page; ``mkdocs build`` renders the fresh text (``docs/hooks.py``) and a test checks that the
committed page is current.
"""

from __future__ import annotations

import argparse
import re
import sys

HEADER = """# Command-line reference

Generated from the argparse parsers (`esplade_eval.cli.build_parser()`) by
`python -m esplade_eval.cli.reference docs/cli.md`; do not edit by hand. Every verb is also
`python -m esplade_eval VERB`; `esplade-eval VERB --help` prints the same text.
`--threads` defaults to every CPU of the machine it runs on.
"""


def _clean(text: str | None) -> str:
    """One line, with the machine-dependent thread count removed and Markdown table bars escaped."""
    text = re.sub(r"\s+", " ", text or "").strip()
    text = re.sub(r"every CPU, \d+ here", "every CPU", text)
    return text.replace("|", "\\|").replace("<", "&lt;")


def _flag(action: argparse.Action) -> str:
    names = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.metavar or action.dest.upper()}`"
    if action.nargs == 0 or not action.option_strings:
        return names
    if action.choices:
        return f"{names} {{{','.join(map(str, action.choices))}}}"
    metavar = action.metavar or (action.dest.upper() if action.option_strings else "")
    if action.nargs in ("+", "*"):
        metavar = f"{metavar} ..."
    elif action.nargs == "?":
        metavar = f"[{metavar}]"
    return f"{names} {metavar}".rstrip()


def _default(action: argparse.Action) -> str:
    if action.required:
        return "required"
    if action.nargs == 0 or action.default in (None, argparse.SUPPRESS, [], ()):
        return ""
    if action.dest == "threads":
        return "every CPU"
    value = action.default
    if isinstance(value, (list, tuple)):
        value = " ".join(map(str, value))
    return f"`{value}`"


def _verb(name: str, parser: argparse.ArgumentParser, summary: str) -> list[str]:
    lines = [f"## `{name}`", "", _clean(parser.description or summary), "", "| flag | default | meaning |",
             "| --- | --- | --- |"]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        lines.append(f"| {_flag(action)} | {_default(action)} | {_clean(action.help)} |")
    return [*lines, ""]


def verbs() -> dict[str, tuple[argparse.ArgumentParser, str]]:
    """``{verb: (parser, one-line help)}`` in the order ``--help`` lists them, aliases left out."""
    from esplade_eval.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help or "" for c in sub._choices_actions}
    return {name: (p, helps[name]) for name, p in sub.choices.items() if name in helps}


def aliases() -> dict[str, list[str]]:
    """``{verb: [its other names]}`` (``demo``: ``flow``)."""
    from esplade_eval.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    main = {id(sub.choices[c.dest]): c.dest for c in sub._choices_actions}
    out: dict[str, list[str]] = {}
    for name, parser in sub.choices.items():
        if main.get(id(parser), name) != name:
            out.setdefault(main[id(parser)], []).append(name)
    return out


def cli_markdown() -> str:
    """The whole page: a table of verbs, then a section per verb with every flag and default."""
    found, other = verbs(), aliases()
    also = {n: f" (also {', '.join(f'`{a}`' for a in other[n])})" if n in other else "" for n in found}
    lines = [HEADER, "| verb | what it does |", "| --- | --- |"]
    lines += [f"| [`{n}`](#{n}){also[n]} | {_clean(h)} |" for n, (_, h) in found.items()]
    lines.append("")
    for name, (parser, summary) in found.items():
        lines += _verb(name, parser, summary)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # python -m esplade_eval.cli.reference [PATH]
    from esplade_eval._io import write_page

    write_page(cli_markdown(), sys.argv[1] if len(sys.argv) > 1 else None)
