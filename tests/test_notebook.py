"""``notebooks/compare_runs.ipynb`` executed headless with parameters into an executed copy outside the
repository's notebooks; the copy holds its figures as image/png outputs (checked without screenshots)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from esplade_eval.cli import main
from esplade_eval.errors import EspladeError

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "compare_runs.ipynb"


def read(path):
    import nbformat

    return nbformat.read(path, as_version=4)


def test_notebook_is_committed_without_outputs_and_has_a_parameters_cell():
    import nbformat

    from esplade_eval.evaluate.notebook import _assigned_names

    nb = read(NOTEBOOK)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0]
    assert _assigned_names(tagged[0].source) == {"qrels", "topics", "runs", "baseline", "measures", "missing", "test",
                                                 "out"}
    assert "ESPLADE_" not in "".join(c.source for c in code)  # no environment variables any more
    assert 'matplotlib.use("Agg")' not in "".join(c.source for c in code)  # figures are shown inline


def test_parameters_are_injected_after_the_tagged_cell_and_checked():
    from esplade_eval.evaluate.notebook import INJECTED_TAG, inject_parameters

    nb = inject_parameters(read(NOTEBOOK), {"runs": "a=x.txt b=y.txt", "test": "permutation"})
    i = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    assert INJECTED_TAG in nb.cells[i + 1].metadata["tags"]
    assert "runs = 'a=x.txt b=y.txt'\ntest = 'permutation'\n" in nb.cells[i + 1].source
    again = inject_parameters(nb, {"test": "t"})  # re-running replaces, never stacks
    assert sum(INJECTED_TAG in c.metadata.get("tags", []) for c in again.cells) == 1
    with pytest.raises(EspladeError, match=r"unknown notebook parameter\(s\) \['rnus'\]"):
        inject_parameters(read(NOTEBOOK), {"rnus": "x"})


def test_the_executed_copy_never_goes_over_or_beside_the_source(tmp_path, capsys):
    assert main(["notebook", str(NOTEBOOK), "--output", str(NOTEBOOK)]) == 2
    assert main(["notebook", str(NOTEBOOK), "--output", str(NOTEBOOK.parent / "copy.ipynb")]) == 2
    assert "must not go beside or over the source" in capsys.readouterr().err
    assert not (NOTEBOOK.parent / "copy.ipynb").exists()
    existing = tmp_path / "done.ipynb"
    existing.write_text("{}")
    assert main(["notebook", str(NOTEBOOK), "--output", str(existing)]) == 2
    assert "already exists" in capsys.readouterr().err


def _demo_layout(root: Path) -> None:
    """A small stand-in for ``artifacts/demo``: qrels, topics and runs at four pruning levels."""
    data, runs = root / "artifacts/demo/data", root / "artifacts/demo/runs"
    data.mkdir(parents=True)
    runs.mkdir(parents=True)
    n = 12
    (data / "qrels.test.txt").write_text("".join(f"q{i} 0 rel{i} 1\n" for i in range(n)))
    (data / "topics.test.tsv").write_text("".join(f"q{i}\ttopic {i}\n" for i in range(n)))
    for level, rank in {"full": 1, "d32-q16": 2, "d16-q8": 3, "d8-q4": 4}.items():
        lines = []
        for i in range(n):
            docs = [f"junk{i}-{k}" for k in range(4)]
            docs.insert((rank if i % 3 else 1) - 1, f"rel{i}")
            lines += [f"q{i} Q0 {d} {k} {10 - k} {level}\n" for k, d in enumerate(docs, 1)]
        (runs / f"run.test.{level}.txt").write_text("".join(lines))


def test_notebook_defaults_order_levels_from_unpruned_to_strictest(tmp_path, capsys):
    from esplade_eval.evaluate.notebook import image_outputs

    _demo_layout(tmp_path)
    copy = tmp_path / "executed" / "compare_runs.ipynb"
    assert main(["notebook", str(NOTEBOOK), "--output", str(copy), "--cwd", str(tmp_path),
                 "-p", "measures", "RR@10 AP"]) == 0
    assert "(1 images)" in capsys.readouterr().out
    report = json.loads((tmp_path / "artifacts/demo/compare/compare_runs.json").read_text())
    assert [s["system"] for s in report["systems"]] == ["full", "d32-q16", "d16-q8", "d8-q4"]
    assert report["baseline"] == "full" and report["n_queries"] == 12  # the demo's topics, found by "auto"
    assert image_outputs(read(copy)) >= 1


@pytest.mark.slow
def test_notebook_runs_headless_on_fresh_runs_and_shows_its_figure(demo_runs, tmp_path):
    import base64

    from esplade_eval.evaluate import compare, evaluate

    out = tmp_path / "compare"
    runs = " ".join(f"{name}={path}" for name, path in demo_runs.runs.items())
    copy = tmp_path / "executed.ipynb"
    assert main(["notebook", str(NOTEBOOK), "--output", str(copy), "-p", "qrels", str(demo_runs.qrels),
                 "-p", "topics", str(demo_runs.topics), "-p", "runs", runs, "-p", "measures", "nDCG@10 R@100 RR@10",
                 "-p", "out", str(out)]) == 0

    nb = read(copy)
    images = [o["data"]["image/png"] for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 1
    shown = base64.b64decode(images[0])
    png = out / "compare_runs.png"
    assert shown[:8] == b"\x89PNG\r\n\x1a\n" and shown == png.read_bytes() and len(shown) > 10_000
    report = json.loads((out / "compare_runs.json").read_text())
    assert report["baseline"] == "full" and report["correction"] == "holm"
    assert [s["system"] for s in report["systems"]] == list(demo_runs.runs)
    assert report["measures"] == ["nDCG@10", "R@100", "RR@10"] and report["n_queries"] > 100
    # the numbers the notebook shows are the library's on the same runs
    direct = compare(evaluate(demo_runs.qrels, dict(demo_runs.runs), report["measures"], topics=demo_runs.topics),
                     baseline="full").to_dict()
    assert report["systems"] == direct["systems"]
    markdown = "".join(o.get("data", {}).get("text/markdown", "") for c in nb.cells for o in c.get("outputs", []))
    assert "| full (baseline) |" in markdown and "<sup>" in markdown or "| a | full |" in markdown
    assert (out / "compare_runs.tex").read_text().startswith(r"\begin{table}")
    assert (out / "compare_runs.pairs.md").is_file()
    assert not any(c.outputs for c in read(NOTEBOOK).cells if c.cell_type == "code")  # the source stays clean
