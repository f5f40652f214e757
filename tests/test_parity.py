"""The starting point: the word head's initialisation on the real SPLADE-tiny checkpoint, and the
parity stage's judgement, plan and summary on known inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from esplade_eval.study.stages import evaluate, parity, pretrain
from esplade_eval.study.stages.base import Inputs, Source

SMOKE = Path(__file__).resolve().parent.parent / "configs" / "smoke.toml"


def _evaluation(system: str, seed, score: float) -> Source:
    out = evaluate.Outputs("per_query.csv", 3, {"full": {"nDCG@10": score, "R@100": 0.9}, "d8-q4": {"nDCG@10": 0.1}})
    return Source("evaluate", system, seed, Path("unused"), out)


def _start(folder: Path, write: bool = True) -> Source:
    """A pre-training stage folder whose checkpoint records its head rule (``write``)."""
    import json

    if write:
        (folder / "checkpoint").mkdir(parents=True, exist_ok=True)
        state = {"model": {"head_transfer": {"source": "splade-tiny", "head": "the head's rule"}}}
        (folder / "checkpoint" / "training_state.json").write_text(json.dumps(state), encoding="utf-8")
    summary = {"heldout_mlm": {"general": {"accuracy": 0.08, "frequency_baseline_accuracy": 0.06},
                               "titles": {"accuracy": 0.02, "frequency_baseline_accuracy": 0.03}}}
    return Source("pretrain", "esplade-no-mlm", 0, folder, pretrain.Outputs("checkpoint", summary))


@pytest.fixture
def start(tmp_path) -> Source:
    return _start(tmp_path / "pretrain")


def _run(no_mlm: list[float], tiny_ft: list[float], tolerance: float = 0.02, start: Source | None = None):
    sources = [start or _start(Path("/nonexistent/pretrain"), write=False), _evaluation("esplade-start", 0, 0.30), _evaluation("splade-tiny-zs", None, 0.45)]
    sources += [_evaluation("esplade-no-mlm", s, v) for s, v in enumerate(no_mlm)]
    sources += [_evaluation("splade-tiny-ft", s, v) for s, v in enumerate(tiny_ft)]
    params = parity.Params.of({"tolerance": tolerance, "measure": "nDCG@10", "level": "full"})
    return parity.run(params, Inputs(Path("unused"), None, sources=sources))


def test_parity_passes_within_the_tolerance_on_seed_means(start):
    out = _run([0.49, 0.50, 0.48], [0.50, 0.51, 0.49], start=start)  # means 0.49 vs 0.50: 0.01 short
    assert out.passed is True
    assert out.scores["esplade-no-mlm"] == pytest.approx(0.49) and out.scores["splade-tiny-ft"] == pytest.approx(0.50)
    assert out.shortfall == pytest.approx(0.01) and out.zero_shot_gap == pytest.approx(0.15)
    assert out.per_seed["esplade-no-mlm"] == {"0": 0.49, "1": 0.50, "2": 0.48}
    assert out.mlm["general"] == {"accuracy": 0.08, "unigram_baseline": 0.06}
    assert out.start["head"] == "the head's rule" and "0.02" in out.rule


def test_parity_fails_beyond_the_tolerance_and_an_esplade_lead_passes(caplog):
    out = _run([0.41, 0.42], [0.50, 0.50])
    assert out.passed is False and out.shortfall == pytest.approx(0.085)
    assert "PARITY FAILED" in caplog.text
    assert _run([0.55], [0.50]).passed is True  # ESPLADE above SPLADE-tiny is no shortfall
    assert _run([0.55], [0.50]).start == {}  # a start without its training state: no head record
    assert _run([0.41], [0.50], tolerance=0.1).passed is True
    assert parity.judge({"splade-tiny-ft": 0.5}, 0.02)["passed"] is None  # a missing score is not judged


def test_the_summary_states_the_start_and_reports_a_failure_loudly(start):
    from esplade_eval.study.render import parity_markdown

    failed = "\n".join(parity_markdown(_run([0.41], [0.50], start=start).to_dict()))
    assert "FAILED" in failed and "+0.0900" in failed and "study went on" in failed
    assert "unigram baseline" in failed and "0.060" in failed and "the head's rule" in failed
    passed = "\n".join(parity_markdown(_run([0.50], [0.51]).to_dict()))
    assert "**passed**" in passed and "FAILED" not in passed
    assert "not run yet" in "\n".join(parity_markdown(None))


def test_parity_is_planned_before_the_arms_on_the_references(tmp_path):
    from esplade_eval.study.config import load_config
    from esplade_eval.study.plan import build_plan

    assert not build_plan(load_config(SMOKE), "fp").of_kind("parity")  # no SPLADE-tiny fine-tuned to compare with
    text = SMOKE.read_text(encoding="utf-8").replace("splade_tiny_finetuned = false", "splade_tiny_finetuned = true")
    on = tmp_path / "on.toml"
    on.write_text(text, encoding="utf-8")
    plan = build_plan(load_config(on), "fp")
    kinds = [s.kind for s in plan.stages]
    check = plan.of_kind("parity")
    assert len(check) == 1
    first_arm = next(i for i, s in enumerate(plan.stages) if s.system in {a.name for a in load_config(SMOKE).arms})
    assert kinds.index("parity") < first_arm
    deps = {(d.kind, d.system) for d in check[0].deps}
    assert {("pretrain", "esplade-no-mlm"), ("evaluate", "esplade-start"), ("evaluate", "esplade-no-mlm"),
            ("evaluate", "splade-tiny-ft")} <= deps
    start_flow = plan.find("flow", "esplade-start", check[0].deps[0].seed)
    assert start_flow.deps[0].kind == "pretrain" and start_flow.params["levels"] == ["full"]
    assert "esplade-start" not in plan.systems  # not a row of the tables
    assert list(plan.systems)[:1] == [load_config(SMOKE).arms[0].name]  # arms still lead the tables
    off = tmp_path / "off.toml"
    off.write_text(text + "\n[parity]\nenabled = false\n", encoding="utf-8")
    assert not build_plan(load_config(off), "fp").of_kind("parity")


def test_parity_config_is_checked(tmp_path):
    from esplade_eval.study.config import ConfigError, load_config

    bad = tmp_path / "bad.toml"
    bad.write_text(SMOKE.read_text(encoding="utf-8") + '\n[parity]\ntolerance = -1\nmeasure = "MAP"\nlevel = 3\n',
                   encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    text = str(err.value)
    assert "parity.tolerance" in text and "parity.measure" in text and "parity.level" in text
    assert load_config(SMOKE).parity == {"enabled": True, "tolerance": 0.02, "measure": "nDCG@10"}


@pytest.fixture(scope="module")
def wordpiece_head():
    """SPLADE-tiny's real output rows and its tokenizer."""
    from transformers import AutoModelForMaskedLM

    from esplade_eval.model.checkpoint import resolve_checkpoint
    from esplade_eval.train import common

    src = AutoModelForMaskedLM.from_pretrained(resolve_checkpoint("splade-tiny"))
    return src.get_output_embeddings().weight.detach(), src.cls.predictions.bias.detach(), common.load_input_tokenizer()


@pytest.mark.parametrize("rule", ["mean", "sqrtn", "first", "sum"])
def test_a_multi_piece_words_row_follows_the_rule_on_splade_tiny(wordpiece_head, rule):
    import torch

    from esplade_eval.train.pretrain import init_from_wordpiece

    weight, bias, tok = wordpiece_head
    vocab = ["embeddings", "the", "graph"]
    pieces = tok.convert_tokens_to_ids(tok.tokenize("embeddings"))
    assert len(pieces) > 1  # em ##bed ##ding ##s
    model, record = init_from_wordpiece("splade-tiny", vocab, tok, head=rule)
    rows, b = model.mlm_head.decoder.weight.detach(), model.mlm_head.decoder.bias.detach()
    expect = {"mean": weight[pieces].mean(0), "sqrtn": weight[pieces].mean(0) * len(pieces) ** 0.5,
              "first": weight[pieces[0]], "sum": weight[pieces].sum(0)}[rule]
    assert torch.allclose(rows[0], expect, atol=1e-6)
    the = tok.convert_tokens_to_ids("the")
    assert torch.allclose(rows[1], weight[the]) and torch.isclose(b[1], bias[the])  # one piece: its own row
    assert record["head_init"] == rule and record["single_piece_words"] == 2
    if rule == "mean":  # the word's logit at any hidden state is the mean of its pieces' logits
        h = torch.randn(128)
        assert torch.isclose(rows[0] @ h + b[0], (weight[pieces] @ h + bias[pieces]).mean(), atol=1e-5)


def test_an_unknown_head_rule_is_refused():
    from esplade_eval.errors import EspladeError
    from esplade_eval.train.pretrain import PretrainConfig

    with pytest.raises(EspladeError, match="head_init 'median'"):
        PretrainConfig(head_init="median")
