"""Every ```python block of README.md runs as written, in a folder laid out like the demo's output.

The layout is the session's real flow (SPLADE-tiny over the Semanlink titles, Lucene indexes
at two pruning levels, their runs) under ``artifacts/demo``, plus a real (randomly initialised)
ESPLADE checkpoint where the training section expects the study's; the blocks are read from
the README itself, so an edit that breaks an example fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


#: a block preceded by this comment is not run; the comment must say why and where it is tested instead
NOT_RUN = re.compile(r"<!-- readme-test: not run \((.+?)\) -->\n$")


def python_blocks(include_not_run: bool = False) -> list[tuple[int, str]]:
    """``(line, code)`` of every fenced ```python block (without the ones marked not run)."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for m in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
        if include_not_run or not NOT_RUN.search(text[:m.start()]):
            blocks.append((text.count("\n", 0, m.start()) + 2, m.group(1)))
    return blocks


def test_the_readme_has_python_examples():
    blocks = python_blocks()
    assert len(blocks) >= 3
    assert not any("flow_result" in code for _, code in python_blocks(True))  # an earlier README's undefined name
    skipped = len(python_blocks(True)) - len(blocks)
    reasons = re.findall(r"<!-- readme-test: not run \((.+?)\) -->", README.read_text(encoding="utf-8"))
    assert skipped == len(reasons) <= 1 and all("tests/" in r for r in reasons)  # each names where it is tested


def _demo_layout(root: Path, flow) -> None:
    demo = root / "artifacts" / "demo"
    demo.mkdir(parents=True)
    flow_dir = flow.levels["full"].index.parent.parent
    (demo / "data").symlink_to(flow.collection.root)
    for part in ("indexes", "vectors"):
        (demo / part).symlink_to(flow_dir / part)
    (demo / "runs").mkdir()  # a real folder: the examples write fused runs here, never into the fixture
    for level in flow.levels.values():
        (demo / "runs" / level.run.name).symlink_to(level.run)


def _esplade_checkpoint(path: Path) -> None:
    """A real ESPLADE tiny checkpoint (random init, a title vocabulary), where the study would write one."""
    import torch

    from esplade_eval.data.corpora import iter_texts
    from esplade_eval.model.esplade import EspladeForMaskedLM
    from esplade_eval.train import common
    from esplade_eval.train.vocab import build_vocab

    tokenizer = common.load_input_tokenizer()
    vocab = build_vocab(list(iter_texts("semanlink"))[:300], 800)
    common.seed_everything(0)
    model = EspladeForMaskedLM(common.model_config("tiny", len(vocab), len(tokenizer))).eval()
    with torch.no_grad():
        model.mlm_head.decoder.bias.uniform_(-0.5, 1.0)
    common.save_checkpoint(path, model, tokenizer, vocab, {})


@pytest.mark.slow
def test_readme_python_blocks_run_as_written(flow, tmp_path, monkeypatch):
    _demo_layout(tmp_path, flow)
    _esplade_checkpoint(tmp_path / "artifacts" / "esplade-ft")
    monkeypatch.chdir(tmp_path)
    ran = 0
    for line, code in python_blocks():
        namespace = {"__name__": "__readme__"}
        exec(compile(code, f"{README}:{line}", "exec"), namespace)  # raises, naming the README line, on failure
        ran += 1
    assert ran == len(python_blocks())
    assert (tmp_path / "artifacts/demo/runs/fused.api.txt").is_file()  # the API example's output
    assert (tmp_path / "artifacts/demo/plots/pareto.png").stat().st_size > 10_000
