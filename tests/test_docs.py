"""The README and the docs site: every example runs as written, the generated pages are current.

Every fenced ```bash, ```sh and ```python block of README.md and docs/*.md runs here, page by
page in order, in a temporary folder laid out like the demo's output: ``artifacts/demo`` holds
the session's real flow (SPLADE-tiny over the Semanlink titles, Lucene indexes, their runs;
the fixture's strictest level ``d16-q4`` stands in for the demo's ``d8-q4``), and a real
(randomly initialised) ESPLADE checkpoint sits where the training page expects a fine-tuned
one. Shell blocks run in bash with ``esplade-eval`` and ``python`` resolving to this
interpreter's environment and this checkout's code; Python blocks run in-process.

Small scale: a corpus an example writes at ``data/semanlink/corpus.jsonl`` is cut to its first
300 titles right after the block that wrote it, so the flow that follows encodes and indexes
300 titles instead of 7,300 (same commands, same flags).

A block that cannot run at that scale (an install, minutes of training, a cluster) is
preceded by ``<!-- docs-test: not run (... tests/FILE::TEST) -->`` naming the test that
checks what it shows; the name must be a real test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
GENERATED = {"cli.md": "esplade_eval.cli.reference:cli_markdown",
             "study-config.md": "esplade_eval.study.reference:config_markdown"}
#: a block preceded by this comment is not run; it names the test that checks what the block shows
NOT_RUN = re.compile(r"<!-- docs-test: not run \((.+?)\) -->\n$")
BLOCK = re.compile(r"^```(bash|sh|python)\n(.*?)^```", flags=re.S | re.M)
SMALL_CORPUS = 300


def pages() -> list[Path]:
    """README.md, then the docs pages in the site's navigation order."""
    import yaml

    names: list[str] = []

    def walk(items):
        for item in items:
            for value in item.values():
                walk(value) if isinstance(value, list) else names.append(value)

    walk(yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"])
    return [README, *(DOCS / n for n in names)]


def blocks(path: Path, include_not_run: bool = False) -> list[tuple[int, str, str, str | None]]:
    """``(line, language, code, why not run)`` of every fenced shell or Python block of a page."""
    text = path.read_text(encoding="utf-8")
    found = []
    for m in BLOCK.finditer(text):
        marker = NOT_RUN.search(text[:m.start()])
        if include_not_run or not marker:
            found.append((text.count("\n", 0, m.start()) + 2, m.group(1), m.group(2), marker and marker.group(1)))
    return found



def _not_run_reasons() -> list[tuple[str, str]]:
    return [(f"{page.name}:{line}", why) for page in pages() for line, _, _, why in blocks(page, True) if why]


def test_every_page_has_examples_and_every_not_run_block_names_a_real_test():
    runnable = [b for page in pages() for b in blocks(page)]
    assert len(runnable) >= 15 and {lang for _, lang, _, _ in runnable} >= {"bash", "python"}
    reasons = _not_run_reasons()
    assert reasons
    text = "".join(p.read_text(encoding="utf-8") for p in pages())
    assert text.count("docs-test: not run") == len(reasons)  # a marker in another shape would hide a block
    assert "readme-test" not in text
    # no block escapes the runner: fences start a line, and shell and Python are spelled bash, sh, python
    assert not re.search(r"^[ \t]+```", text, re.M)
    assert set(re.findall(r"^```(\w+)", text, re.M)) <= {"bash", "sh", "python", "toml"}
    for where, why in reasons:
        named = re.findall(r"\b(tests/\w+\.py)::(test_\w+)", why)
        assert named, f"{where}: the marker names no tests/FILE::TEST"
        for file, test in named:
            source = ROOT / file
            assert source.is_file() and re.search(rf"^def {test}\(", source.read_text(encoding="utf-8"), re.M), \
                f"{where}: {file}::{test} is not a test"


def test_the_readme_is_short_and_links_into_the_docs():
    text = README.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= 12 * 1024
    for heading in ("## The two commands", "## Activate the environment", "## Five minutes", "## Your BEIR folder",
                    "## The verbs"):
        assert heading in text, heading
    assert ". .venv/bin/activate" in text
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", text))
    assert linked == {p.name for p in pages()[1:]}, linked ^ {p.name for p in pages()[1:]}
    for target in linked:
        assert (DOCS / target).is_file(), target


def test_the_readme_verb_table_names_every_verb():
    from esplade_eval.cli.reference import verbs

    table = README.read_text(encoding="utf-8").split("## The verbs")[1].split("\n## ")[0]
    listed = set(re.findall(r"^\| `([\w-]+)`", table, re.M))
    assert listed == set(verbs()), sorted(listed ^ set(verbs()))


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_pages_are_current(name):
    """``make docs`` rewrites them; the site renders them fresh at every build (docs/hooks.py)."""
    import importlib

    module, func = GENERATED[name].split(":")
    fresh = getattr(importlib.import_module(module), func)()
    assert (DOCS / name).read_text(encoding="utf-8") == fresh, f"docs/{name} is stale: run `make docs`"


def test_the_cli_reference_names_every_verb_flag_and_default():
    from esplade_eval.cli.reference import aliases, cli_markdown, verbs

    text = cli_markdown()
    found = verbs()
    assert {"data", "export", "index", "search", "evaluate", "study", "demo", "java"} <= set(found)
    for verb, (parser, _) in found.items():
        section = text.split(f"## `{verb}`\n")[1].split("\n## ")[0]
        for action in parser._actions:
            if action.help == "==SUPPRESS==" or "-h" in action.option_strings:
                continue  # hidden (renamed flags still read), and --help
            for flag in action.option_strings:
                assert f"`{flag}`" in section, (verb, flag)
    assert "`--hits` HITS | `1000`" in text.split("## `search`")[1]
    assert aliases() == {"demo": ["flow"]}
    assert not re.search(r"every CPU, \d+ here", text)  # the same page on every machine


def test_the_study_config_reference_covers_every_key():
    from esplade_eval.study import schema, systems
    from esplade_eval.study.reference import config_markdown

    text = config_markdown()
    for key in schema.TOP_LEVEL:
        assert f"| `{key}` |" in text, key
    for key in [*schema.pretrain_fields(), *schema.finetune_fields(), *systems.REFERENCES]:
        assert f"| `{key}` |" in text, key
    assert "| `lr` | a number | `0.0005` |" in text


def test_mkdocs_builds_strict(tmp_path):
    """What `make test` runs: every page in the navigation, every link and anchor resolving."""
    pytest.importorskip("mkdocs")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (tmp_path / "site" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "--all-columns" in html and (tmp_path / "site" / "study-config" / "index.html").is_file()


# --- running the examples -----------------------------------------------------------------

def _env() -> dict:
    """``esplade-eval`` and ``python`` from this interpreter's environment, running this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("ESPLADE_EVAL_COLLECTIONS", "VIRTUAL_ENV")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", NO_MKDOCS_2_WARNING="1")
    return env


def _demo_layout(root: Path, flow) -> None:
    """``artifacts/demo`` as ``make demo`` leaves it, from the session's flow (``d16-q4`` as ``d8-q4``)."""
    demo = root / "artifacts" / "demo"
    for part in ("indexes", "vectors", "runs"):
        (demo / part).mkdir(parents=True)  # real folders: the examples write beside the fixture, never into it
    (demo / "data").symlink_to(flow.collection.root)
    for name, level in (("full", flow.levels["full"]), ("d8-q4", flow.levels["d16-q4"])):
        (demo / "indexes" / name).symlink_to(level.index)
        (demo / "vectors" / name).symlink_to(level.vectors)
        (demo / "runs" / f"run.test.{name}.txt").symlink_to(level.run)
    for shared in ("configs", "notebooks"):
        (root / shared).symlink_to(ROOT / shared)
    (root / ".venv").symlink_to(sys.prefix)


@pytest.fixture(scope="module")
def esplade_checkpoint(tmp_path_factory):
    """A real ESPLADE tiny checkpoint (random init, a title vocabulary), where the training page expects one."""
    import torch

    from esplade_eval.data.corpora import iter_texts
    from esplade_eval.model.esplade import EspladeForMaskedLM
    from esplade_eval.train import common
    from esplade_eval.train.vocab import build_vocab

    path = tmp_path_factory.mktemp("esplade") / "esplade-ft"
    tokenizer = common.load_input_tokenizer()
    vocab = build_vocab(list(iter_texts("semanlink"))[:300], 800)
    common.seed_everything(0)
    model = EspladeForMaskedLM(common.model_config("tiny", len(vocab), len(tokenizer))).eval()
    with torch.no_grad():
        model.mlm_head.decoder.bias.uniform_(-0.5, 1.0)
    common.save_checkpoint(path, model, tokenizer, vocab, {})
    return path


def _shrink_corpus(root: Path) -> None:
    corpus = root / "data" / "semanlink" / "corpus.jsonl"
    if corpus.is_file():
        lines = corpus.read_text(encoding="utf-8").splitlines(keepends=True)
        if len(lines) > SMALL_CORPUS:
            corpus.write_text("".join(lines[:SMALL_CORPUS]), encoding="utf-8")


def _run_block(page: Path, line: int, lang: str, code: str, root: Path) -> None:
    where = f"{page.relative_to(ROOT)}:{line}"
    if lang == "python":
        exec(compile(code, where, "exec"), {"__name__": "__docs__"})  # raises, naming the page and line
        return
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code], cwd=root, env=_env(), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"{where} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    _shrink_corpus(root)


@pytest.mark.slow
@pytest.mark.parametrize("page", [p.relative_to(ROOT).as_posix() for p in pages()])
def test_the_examples_of_a_page_run_as_written(page, flow, esplade_checkpoint, tmp_path, monkeypatch):
    path = ROOT / page
    _demo_layout(tmp_path, flow)
    (tmp_path / "artifacts" / "esplade-ft").symlink_to(esplade_checkpoint)
    monkeypatch.chdir(tmp_path)
    ran = 0
    for line, lang, code, _ in blocks(path):
        _run_block(path, line, lang, code, tmp_path)
        ran += 1
    assert ran == len(blocks(path))
    if page == "docs/evaluation.md":
        assert (tmp_path / "artifacts/demo/runs/fused.api.txt").is_file()  # the API example's output
    if page == "docs/cost.md":
        assert (tmp_path / "artifacts/demo/plots/pareto.png").stat().st_size > 10_000
    if page == "docs/collections.md":
        assert (tmp_path / "artifacts/collections/mytitles/collection.json").is_file()  # prepared by the example
    if page == "docs/flow.md":
        assert (tmp_path / "runs/run.test.splade-tiny-full.txt").is_file()  # the name step 6 evaluates


def list_blocks():
    for page in pages():
        for line, lang, code, why in blocks(page, include_not_run=True):
            print(f"{page.name}:{line} {lang} {'NOT RUN' if why else ''} {code.splitlines()[0][:90]!r}")


if __name__ == "__main__":
    list_blocks()
