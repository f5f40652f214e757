"""Every numeric option of every verb, given extreme values, generated from the CLI's parsers:
refused while parsing (exit 2, ``argument --flag: expected ...``) or accepted within what the
layer below takes; never a traceback. A new verb's options are covered with no new test code."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys

import pytest

from esplade_eval.cli import _args, build_parser, subparsers

PARSER = build_parser()
VERBS = {}
for _name, _sub in subparsers(PARSER).items():
    if all(_sub is not other for other in VERBS.values()):
        VERBS[_name] = _sub
EXTREMES = ["-1", "0", "0.5", "1.5", "nan", "inf", "-inf", "1e400", "-1e400", str(2**31), str(2**32),
            str(2**63), "1e18", "abc", ""]
#: argparse types of numbers with their own checks (a scale, a pruning level's k's, a heap size)
OWN_CHECKS = {"scale_type", "pruning_type", "heap_type"}


def _required(verb: str) -> list[str]:
    """The smallest arguments that parse: a filler for each required argument and group."""
    parser, argv = VERBS[verb], [verb]
    for group in parser._mutually_exclusive_groups:
        if group.required:
            first = group._group_actions[0]
            argv += [first.option_strings[-1]] + ([] if first.nargs == 0 else ["x"])
    for action in parser._actions:
        if not action.option_strings and action.dest != "help":
            argv.append(next(iter(action.choices)) if action.choices else "x")
        elif action.required:
            argv += [action.option_strings[-1], "1" if isinstance(action.type, _args.Number) else "x"]
    return argv


def _numeric():
    for verb in sorted(VERBS):
        for action in VERBS[verb]._actions:
            if action.option_strings and action.type is not None and action.help != argparse.SUPPRESS \
                    and action.type not in _args.STRING_TYPES:
                yield verb, action


def test_no_numeric_option_is_a_bare_int_or_float():
    """A bare ``type=int`` lets 0, -1 or 2**63 through to a layer that aborts on them."""
    bare = [f"{verb} {a.option_strings[-1]}" for verb, a in _numeric() if a.type in (int, float)]
    assert bare == []
    assert all(isinstance(a.type, _args.Number) or a.type.__name__ in OWN_CHECKS for _, a in _numeric())


@pytest.mark.parametrize("verb,flag", [(v, a.option_strings[-1]) for v, a in _numeric()])
def test_extreme_values_are_refused_while_parsing_or_within_range(verb, flag, capsys):
    action = next(a for a in VERBS[verb]._actions if flag in a.option_strings)
    for value in EXTREMES:
        argv = _required(verb) + [f"{flag}={value}"]
        try:
            args = PARSER.parse_args(argv)
        except SystemExit as exc:
            err = capsys.readouterr().err.strip().splitlines()
            assert exc.code == 2 and err[-1].startswith(f"esplade-eval {verb}: error: argument {flag}"), (value, err)
            assert "Traceback" not in "\n".join(err)
            continue
        got = getattr(args, action.dest)
        for v in got if isinstance(got, list) else [got]:
            if isinstance(action.type, _args.Number):
                assert isinstance(v, action.type.cast) and action.type.ok(v), (value, v)
                assert math.isfinite(v) and (action.type.cast is float or abs(v) <= 2**32), (value, v)


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_verb_help_shows_its_defaults(verb):
    """Each option with a default value says it in --help, once."""
    formatter = VERBS[verb]._get_formatter()
    for action in VERBS[verb]._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS or action.default in (
                None, [], argparse.SUPPRESS) or isinstance(action.default, bool):
            continue
        assert action.help, f"{verb} {action.option_strings[-1]}: no help, so --help cannot show its default"
        text = formatter._get_help_string(action) % {"default": action.default}
        assert "default" in text.lower() and text.lower().count("(default") <= 1, (verb, action.option_strings, text)


def test_reports_fall_back_to_plain_marks_on_an_ascii_terminal_and_files_keep_theirs(tmp_path):
    """A stdout whose encoding lacks '†' (``PYTHONIOENCODING=ascii``, a Latin-1 terminal) gets
    plain marks; --output is written in UTF-8 with the report's own marks either way."""
    import os
    import subprocess
    import sys

    (tmp_path / "a.txt").write_text("q1 Q0 d1 1 2.0 a\nq2 Q0 d3 1 2.0 a\n")
    (tmp_path / "b.txt").write_text("q1 Q0 d2 1 2.0 b\nq2 Q0 d1 1 2.0 b\n")
    (tmp_path / "qrels.txt").write_text("q1 0 d1 1\nq2 0 d3 1\n")
    proc = subprocess.run([sys.executable, "-m", "esplade_eval", "compare", "--qrels", "qrels.txt", "--baseline",
                           "b.txt", "a.txt", "--measures", "AP", "--output", "report.md"], cwd=tmp_path,
                          capture_output=True, env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 0, proc.stderr.decode()
    shown = proc.stdout.decode("ascii")  # every byte ASCII
    assert "delta = system - baseline" in shown
    written = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "Δ" in written and "†" in written


def test_a_ray_address_that_does_not_answer_is_an_error_within_seconds():
    """Ray retries an address for minutes: a port nobody listens on is refused at once, and a
    cluster that takes the connection but never answers meets a deadline."""
    import time

    pytest.importorskip("ray")
    from esplade_eval.distributed.runtime import CONNECT_SECONDS, deadline
    from esplade_eval.errors import EspladeError

    started = time.monotonic()  # in a child: this test process may already run a JVM, which Ray must not join
    code = "from esplade_eval.distributed.runtime import connect; connect('127.0.0.1:1')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "Ray cluster 127.0.0.1:1: no answer" in proc.stderr, proc.stderr[-2000:]
    assert time.monotonic() - started < 20  # the interpreter and Ray's import included
    started = time.monotonic()
    with pytest.raises(EspladeError, match="no answer within"), deadline(1, "no answer within 1s"):
        time.sleep(5)
    assert time.monotonic() - started < 3 and CONNECT_SECONDS < 30


def test_java_homes_without_a_jvm_are_rejected_and_a_failed_start_is_one_line(tmp_path, monkeypatch, capsys):
    from esplade_eval.lucene import java

    home = tmp_path / "jdk"
    home.mkdir()
    (home / "release").write_text('JAVA_VERSION="21.0.1"\n')
    monkeypatch.setenv("JAVA_HOME", str(home))
    monkeypatch.setattr(java, "_candidates", lambda: [("JAVA_HOME", home)])
    with pytest.raises(java.JavaNotFoundError, match="without a JVM library"):
        java.find_java()
    with pytest.raises(ValueError, match="must be at least 2m and at most this machine's memory"):
        java.check_heap("999999g")
    monkeypatch.setenv("ESPLADE_EVAL_JAVA_HEAP", "lots")
    from esplade_eval.cli import main

    assert main(["check-run", str(tmp_path / "missing.txt")]) == 2
    assert "$ESPLADE_EVAL_JAVA_HEAP: not a JVM heap size" in capsys.readouterr().err
    import subprocess
    import sys

    monkeypatch.delenv("ESPLADE_EVAL_JAVA_HEAP")
    monkeypatch.delenv("JAVA_HOME")
    code = ("from esplade_eval.lucene import java\n"
            "try:\n    java.start(options=['-XX:+NoSuchOptionAtAll'])\n"
            "except java.JavaStartError as exc:\n    print(exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("the JVM failed to start (Java 21"), proc
    assert proc.stdout.count("\n") == 1 and "-XX:+NoSuchOptionAtAll" in proc.stdout


def test_jvms_get_a_utf8_locale_under_any_locale(monkeypatch):
    from esplade_eval.lucene.java import use_utf8_locale

    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LC_ALL", "C")
    use_utf8_locale()
    import os

    assert os.environ["LC_ALL"] == "C.UTF-8"
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    use_utf8_locale()
    assert os.environ["LC_ALL"] == "en_US.UTF-8"


def test_a_max_length_beyond_the_checkpoint_positions_is_refused_before_any_input_is_read(tmp_path, capsys):
    from esplade_eval.cli import main

    for argv in (["export", "--checkpoint", "splade-tiny", "--corpus", str(tmp_path / "none.jsonl"),
                  "--out", str(tmp_path / "out"), "--max-length", "99999"],
                 ["pretrain", "--out", str(tmp_path / "pt"), "--max-length", "5000"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "positions of" in err and "none.jsonl" not in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [["search", "--index", "i", "--queries", "q", "--tag", "my run"],
                                  ["fuse", "a", "b", "--output", "o", "--tag", ""],
                                  ["finetune", "--init", "random", "--out", "o", "--device", "gpu"],
                                  ["export", "--checkpoint", "c", "--out", "o", "--device", "cuda:x"]])
def test_run_tags_with_blanks_and_unknown_devices_are_refused_while_parsing(argv, capsys):
    """A tag with a blank would add a seventh column to every run line; a device torch does not
    know failed deep inside it."""
    with pytest.raises(SystemExit) as exc:
        PARSER.parse_args(argv)
    assert exc.value.code == 2 and f"argument {argv[-2]}: expected" in capsys.readouterr().err
