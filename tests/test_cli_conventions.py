"""Command-line conventions held in one place (cli/_args.py): one type and default for
--threads, one default per measure list, NAME=PATH through one rule, renamed flags still read;
and the code keeps each artifact fact in its one home."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from esplade_eval import defaults
from esplade_eval.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "esplade_eval"

#: the smallest argument list each verb parses with (the files need not exist to parse)
VERBS = {
    "export": ["--checkpoint", "c", "--out", "o"], "index": ["--collection", "c", "--index", "i"],
    "search": ["--index", "i", "--queries", "q"], "demo": [], "grid": ["--checkpoint", "c"],
    "pretrain": ["--out", "o"], "finetune": ["--init", "random", "--out", "o"], "bm25": [], "dense": [],
}


def parse(*argv):
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_threads_are_one_positive_integer_defaulting_to_every_cpu(verb, capsys):
    assert parse(verb, *VERBS[verb]).threads == defaults.threads()
    assert parse(verb, *VERBS[verb], "--threads", "3").threads == 3
    with pytest.raises(SystemExit):
        parse(verb, *VERBS[verb], "--threads", "0")
    assert "--threads: expected a positive integer, got 0" in capsys.readouterr().err


def test_measure_defaults_come_from_one_place():
    assert parse("evaluate", "--qrels", "q").measures == list(defaults.MEASURES)
    assert parse("compare", "--qrels", "q", "--all-pairs").measures == list(defaults.MEASURES)
    assert parse("demo").measures == list(defaults.MEASURES)
    assert parse("cost").measures == list(defaults.COST_MEASURES)
    assert parse("grid", "--checkpoint", "c").measures == list(defaults.COST_MEASURES)
    from esplade_eval.evaluate import DEFAULT_MEASURES
    from esplade_eval.evaluate.report import FORMATS

    assert DEFAULT_MEASURES == defaults.MEASURES and FORMATS == defaults.FORMATS


def test_levels_seed_and_device_share_their_flags():
    from esplade_eval.cli._args import levels_of

    assert [p.name for p in levels_of(parse("demo"))] == list(defaults.LEVELS)
    assert [p.name for p in levels_of(parse("grid", "--checkpoint", "c", "--levels", "full", "d8-q4"))] == [
        "full", "d8-q4"]
    assert parse("compare", "--qrels", "q", "--all-pairs").seed == defaults.SEED == parse("pretrain", "--out", "o").seed
    assert parse("finetune", *VERBS["finetune"], "--device", "cpu").device == "cpu"


def test_renamed_flags_are_gone_and_the_current_ones_read(capsys):
    assert parse("cost", "--index", "i", "--queries", "q", "--passes", "2").passes == 2
    assert parse("cost").passes == defaults.LATENCY_PASSES == parse("cost", "--index", "i", "--queries", "q").passes
    assert parse("grid", "--checkpoint", "c", "--passes", "1").passes == 1
    assert [p.name for p in parse("export", *VERBS["export"], "--levels", "full", "d8-q4").levels] == ["full", "d8-q4"]
    assert parse("search", *VERBS["search"], "--query-prune", "q4").query_prune.name == "q4"
    for verb, flag in [("cost", ["--index", "i", "--queries", "q", "--repeats", "2"]),
                       ("export", [*VERBS["export"], "--prune", "full"]), ("search", [*VERBS["search"], "--prune", "q4"])]:
        with pytest.raises(SystemExit):  # the 0.x spellings are removed (CHANGELOG.md), not read with a note
            parse(verb, *flag)
        assert "unrecognized arguments" in capsys.readouterr().err
    assert parse("pretrain", "--out", "o", "--quiet").progress is False
    assert parse("pretrain", "--out", "o").progress is None  # bars on a terminal only, as every verb


def test_a_quiet_command_does_not_silence_the_next_call(tmp_path, capsys):
    from esplade_eval import _progress

    run = tmp_path / "run.txt"
    run.write_text("q1 Q0 d1 1 1.0 t\n")
    assert main(["cost", "--index", str(tmp_path / "none"), "--queries", str(run), "--quiet"]) == 2
    assert "index folder not found" in capsys.readouterr().err
    assert _progress.shown(True)  # the next call in this process still shows the bars it asks for


def _strings(tree):
    """String constants of a module, docstrings left out."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docstrings]


def test_artifact_file_names_and_json_writing_have_one_home():
    """Manifests are named only by esplade_eval/artifacts/names.py; JSON files are written
    only by _io.write_json (no json.dump elsewhere)."""
    names = ("manifest.json", "esplade_eval.json")
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if rel != "esplade_eval/artifacts/names.py":
            offenders += [f"{rel}: {s!r}" for s in _strings(tree) if any(n in s for n in names)]
        if rel != "esplade_eval/_io.py":
            offenders += [f"{rel}:{n.lineno}: json.dump" for n in ast.walk(tree)
                          if isinstance(n, ast.Attribute) and n.attr == "dump"
                          and isinstance(n.value, ast.Name) and n.value.id == "json"]
    assert offenders == []


def test_cli_modules_import_no_sibling_cli_module_but_the_shared_ones():
    """A verb's module builds its parser from cli/_args.py and calls down; it borrows nothing
    from another verb's module (evaluate and compare share the evaluation arguments)."""
    shared = {"esplade_eval.cli._args", "esplade_eval.cli.evaluate"}
    found = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("esplade_eval.cli."):
                if node.module not in shared:
                    found.append(f"{path.name}: {node.module}")
    assert found == []


#: verbs that show progress bars (their own or the stages they run)
SHOWS_PROGRESS = {"export", "index", "search", "bm25", "dense", "cost", "pretrain", "finetune", "grid",
                  "study", "demo", "flow"}


VERB_PARSERS = next(a for a in build_parser()._actions if hasattr(a, "choices") and isinstance(a.choices, dict)).choices


def _progress_flags(verb: str) -> list[str]:
    return sorted(o for a in VERB_PARSERS[verb]._actions for o in a.option_strings if "progress" in o or "quiet" in o)


@pytest.mark.parametrize("verb", sorted(VERB_PARSERS))
def test_one_progress_quiet_pair_on_every_verb_that_shows_progress(verb):
    assert _progress_flags(verb) == (["--progress", "--quiet"] if verb in SHOWS_PROGRESS else [])
    if verb in SHOWS_PROGRESS:  # one destination, the same three values everywhere
        actions = {o: a for a in VERB_PARSERS[verb]._actions for o in a.option_strings}
        assert (actions["--progress"].dest, actions["--progress"].const, actions["--progress"].default) == (
            "progress", True, None)
        assert (actions["--quiet"].dest, actions["--quiet"].const) == ("progress", False)
