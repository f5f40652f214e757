"""`make install` shows pip's own progress: its long pip calls are not silenced."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def install_recipe() -> list[str]:
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("$(STAMP):"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("\t"))
    return [line.strip() for line in lines[start + 1:end]]


def test_install_shows_pips_progress_for_the_long_installs():
    text = (ROOT / "Makefile").read_text()
    progress = re.search(r"^PIP_PROGRESS \?= (.*)$", text, re.M).group(1)
    assert "-q" not in progress.split() and "off" not in progress
    installs = [line for line in install_recipe() if " install " in line and "--upgrade pip" not in line]
    assert len(installs) == 3  # torch, the package, the carriers
    for line in installs:
        words = line.split()
        assert "-q" not in words and "--quiet" not in words, line
        assert "$(PIP_PROGRESS)" in words, line
    # each long step is announced before pip speaks
    assert sum(line.startswith("@echo \"== ") for line in install_recipe()) == 3
