"""``notebooks/compare_runs.ipynb`` executed headless (nbclient) on freshly produced runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "compare_runs.ipynb"


def test_notebook_is_committed_without_outputs():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    source = "\n".join(c.source for c in code)
    for variable in ("ESPLADE_QRELS", "ESPLADE_RUNS", "ESPLADE_TOPICS", "ESPLADE_BASELINE", "ESPLADE_OUT"):
        assert variable in source


@pytest.mark.slow
def test_notebook_runs_headless_on_fresh_runs(demo_runs, tmp_path, monkeypatch):
    import nbclient
    import nbformat

    out = tmp_path / "compare"
    runs = os.pathsep.join(f"{name}={path}" for name, path in demo_runs.runs.items())
    for key, value in {"ESPLADE_QRELS": demo_runs.qrels, "ESPLADE_TOPICS": demo_runs.topics, "ESPLADE_RUNS": runs,
                       "ESPLADE_BASELINE": "full", "ESPLADE_MEASURES": "nDCG@10 R@100 RR@10", "ESPLADE_OUT": out,
                       "MPLBACKEND": "Agg"}.items():
        monkeypatch.setenv(key, str(value))  # the kernel inherits this environment
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError on any failing cell

    png = out / "compare_runs.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    report = json.loads((out / "compare_runs.json").read_text())
    assert report["baseline"] == "full" and report["correction"] == "holm"
    assert [s["system"] for s in report["systems"]] == list(demo_runs.runs)
    assert report["measures"] == ["nDCG@10", "R@100", "RR@10"] and report["n_queries"] > 100
    # the numbers the notebook shows are the library's on the same runs
    from esplade_eval.evaluate import compare, evaluate

    direct = compare(evaluate(demo_runs.qrels, dict(demo_runs.runs), report["measures"], topics=demo_runs.topics),
                     baseline="full").to_dict()
    assert report["systems"] == direct["systems"]
    shown = "".join(o.get("data", {}).get("text/markdown", "") for c in nb.cells for o in c.get("outputs", []))
    assert "| full (baseline) |" in shown
    assert (out / "compare_runs.tex").read_text().startswith(r"\begin{table}")
