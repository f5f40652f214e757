"""One formatting module (esplade_eval._format): a p-value, a mark and a figure look the same
in every report of a results folder (issue 19)."""

from __future__ import annotations

import numpy as np
import pytest

from esplade_eval import _format
from esplade_eval.evaluate import compare, compare_all_pairs, evaluate


@pytest.mark.parametrize("p, text", [(0.5, "0.5000"), (0.01234, "0.0123"), (0.001, "0.0010"), (0.000999, "9.99e-04"),
                                     (2e-7, "2.00e-07"), (float("nan"), "–"), (None, "–"), (np.float64(0.2), "0.2000")])
def test_one_form_of_a_p_value(p, text):
    assert _format.pvalue(p) == text


def _two_systems(n=30, seed=0):
    rng = np.random.default_rng(seed)
    qrels = {f"q{i}": {"d1": 1, "d2": 1} for i in range(n)}
    runs = {}
    for name, shift in (("base", 0.0), ("better", 0.6)):
        runs[name] = {q: {"d1": float(rng.random() + shift), "d2": float(rng.random()), "d3": float(rng.random() + 0.5)}
                      for q in qrels}
    return evaluate(qrels, runs, ["RR@10"])


def test_a_p_value_reads_the_same_in_the_baseline_report_the_pairs_report_and_the_study_pages():
    from esplade_eval.study import render

    ev = _two_systems()
    rep = compare(ev, baseline="base")
    p = rep.to_dataframe().at["better", "RR@10 p-value corrected"]
    pairs = compare_all_pairs(ev)
    pair_p = pairs.pairs["p-value corrected"].iloc[0]
    text = _format.pvalue(p)
    assert text in rep.to_markdown() and _format.pvalue(pair_p) in pairs.to_markdown()
    cells = render.comparison_cells({"mean_a": 0.6, "mean_b": 0.5, "delta": 0.1, "ci_low": 0.05, "ci_high": 0.15,
                                     "d_z": 1.2, "p": p, "p_holm": p, "significant": True,
                                     "seeds_same_sign": 3, "seed_pairs": 3})
    at = render.COMPARISON_HEADER.index  # one cell per header column
    assert len(cells) == len(render.COMPARISON_HEADER)
    assert cells[at("p")] == text and cells[at("p (Holm)")] == text + _format.DAGGER


def test_figures_of_every_report_are_made_and_saved_one_way(tmp_path):
    from esplade_eval.cost import plots as cost_plots
    from esplade_eval.study import plots

    assert plots._figure is _format.figure and plots._save is _format.save_figure
    assert cost_plots.figure is _format.figure and cost_plots.save_figure is _format.save_figure
    fig, ax = _format.figure(3, 2)
    ax.plot([0, 1], [1, 0])
    path = _format.save_figure(fig, tmp_path / "f.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and [p.name for p in tmp_path.iterdir()] == ["f.png"]


def test_compare_takes_a_settings_object_or_its_fields_as_keywords():
    from esplade_eval.errors import EspladeError
    from esplade_eval.evaluate import CompareSettings

    ev = _two_systems()
    by_keywords = compare(ev, "base", correction="bonferroni", test="wilcoxon").to_dataframe()
    by_object = compare(ev, "base", settings=CompareSettings(correction="bonferroni", test="wilcoxon")).to_dataframe()
    assert by_keywords.equals(by_object)
    assert compare(ev, "base", settings=CompareSettings(test="wilcoxon"), test="t").test == "t"  # keywords win
    assert compare(ev).correction is None and compare(ev, "base").correction == "holm"  # auto
    with pytest.raises(EspladeError, match="needs a baseline"):
        compare(ev, correction="holm")
    with pytest.raises(TypeError):
        compare(ev, "base", no_such_setting=1)
    assert compare_all_pairs(ev, settings=CompareSettings(wilcoxon=True)).correction == "holm"
