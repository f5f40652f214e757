"""docs/reference-retrievers.md: every fenced bash/python example is run here, or marked
``<!-- docs-test: not run (tested in tests/FILE::TEST) -->`` naming a test that exists."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "reference-retrievers.md"
NOT_RUN = re.compile(r"<!-- docs-test: not run \((.+?)\) -->\n$")


def blocks() -> list[tuple[str, str, str | None]]:
    """``(language, code, reason not run or None)`` of every ```bash / ```python block."""
    text = PAGE.read_text(encoding="utf-8")
    out = []
    for m in re.finditer(r"^```(bash|python)\n(.*?)^```", text, flags=re.S | re.M):
        reason = NOT_RUN.search(text[:m.start()])
        out.append((m.group(1), m.group(2), reason.group(1) if reason else None))
    return out


def test_every_example_is_run_or_names_the_test_that_runs_it():
    found = blocks()
    assert len(found) >= 4
    for language, code, reason in found:
        if reason is None:
            assert language == "python", code  # a bash example not run must say where it is tested
            continue
        for path, name in re.findall(r"(tests/[\w/]+\.py)::(\w+)", reason):
            assert re.search(rf"^def {name}\(", (ROOT / path).read_text(encoding="utf-8"), re.M), (path, name)
        assert "tests/" in reason or "benchmark" in reason, reason


def test_python_examples_run_and_print_what_the_page_says():
    ran = 0
    for language, code, reason in blocks():
        if language != "python" or reason is not None:
            continue
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, str(PAGE), "exec"), {"__name__": "__docs__"})
        for expected in re.findall(r"print\(.*\)\s+# (.+)$", code, re.M):
            assert expected in printed.getvalue()
        ran += 1
    assert ran >= 1
