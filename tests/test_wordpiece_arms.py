"""WordPiece (plain SPLADE) arms beside the ESPLADE arms: masking, a real pre-training run on
SPLADE-tiny, the grid's twins, per_seed's vocab column and the arm-by-arm comparison."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from esplade_eval.data.corpora import iter_texts
from esplade_eval.errors import EspladeError
from esplade_eval.train import common
from esplade_eval.train.mlm import mask_batch, tokenize_examples
from esplade_eval.train.pretrain import PretrainConfig, pretrain

torch.set_num_threads(2)


def test_wordpiece_masking_masks_the_same_words_and_predicts_every_piece():
    tok = common.load_input_tokenizer()
    text = "Semantic embeddings of the web, don't!"
    wp = tokenize_examples(tok, [text], None, 32)[0]
    ex = tokenize_examples(tok, [text], {"the": 0}, 32)[0]
    assert (wp.ids == ex.ids).all() and (wp.word == ex.word).all()
    assert ((wp.target >= 0) == (ex.target != -2)).all()  # every word with letters is a candidate, as in ESPLADE
    for seed in range(10):
        a = mask_batch([ex], np.random.default_rng(seed), 0.5, tok.mask_token_id, 0, len(tok), always_mask=True)
        b = mask_batch([wp], np.random.default_rng(seed), 0.5, tok.mask_token_id, 0, len(tok), always_mask=True,
                       pieces=True)
        assert torch.equal(a[0], b[0])  # the same words masked at the same rate
        masked = np.flatnonzero(b[0][0].numpy() == tok.mask_token_id)
        assert sorted(b[3].tolist()) == masked.tolist()  # every masked piece is predicted ...
        assert b[4].tolist() == wp.ids[b[3].numpy()].tolist()  # ... as its own WordPiece id


def test_wordpiece_setting_is_checked():
    with pytest.raises(EspladeError, match="output_vocab must be one of expanded, wordpiece"):
        PretrainConfig(output_vocab="bpe")


def test_wordpiece_pretraining_on_splade_tiny_then_fine_tuning(semanlink, tmp_path):
    corpus = tmp_path / "lee.txt"
    corpus.write_text("\n".join(list(iter_texts("lee"))[:64]) + "\n", encoding="utf-8")
    cfg = PretrainConfig(corpora=[str(corpus)], output_vocab="wordpiece", init_encoder="splade-tiny", steps=4,
                         batch_size=8, max_length=32, lr=1e-3, eval_texts=20, threads=2, progress=False)
    out = pretrain(cfg, tmp_path / "pt")
    state = json.loads((out / "training_state.json").read_text())
    assert state["kind"] == "splade-pretrain" and state["steps"] == 4
    assert state["output_vocab"]["kind"] == "wordpiece" and state["output_vocab"]["size"] == 30522
    assert state["model"]["head_transfer"]["head"] == "the source's own WordPiece head"
    assert not (out / "output_vocab.txt").exists()  # a plain SPLADE checkpoint: the tokenizer's vocabulary
    after = state["heldout_mlm"]["general"]
    assert after["masked_words"] > 20 and 0 <= after["accuracy"] <= 1
    assert after["frequency_baseline_accuracy"] is not None
    from transformers import AutoModelForMaskedLM

    model = AutoModelForMaskedLM.from_pretrained(out)
    src = AutoModelForMaskedLM.from_pretrained(common.load_input_tokenizer().name_or_path)
    assert model.config.vocab_size == 30522 and type(model).__name__ == "BertForMaskedLM"
    assert not torch.equal(model.cls.predictions.decoder.weight, src.cls.predictions.decoder.weight)  # it trained
    # like for like: the ESPLADE run with the same settings reads the same batches (same texts, same tokens)
    twin = pretrain(PretrainConfig(**{**cfg.__dict__, "output_vocab": "expanded", "vocab_size": 500,
                                   "eval_texts": 0}), tmp_path / "e")
    twin_state = json.loads((twin / "training_state.json").read_text())
    assert (twin_state["tokens_seen"], twin_state["train_examples"]) == (state["tokens_seen"], state["train_examples"])
    from esplade_eval.train.finetune import FinetuneConfig, finetune

    ft = finetune(FinetuneConfig(init=str(out), collection=str(semanlink.root), steps=2, batch_size=8, validate=False,
                                 threads=2, progress=False), tmp_path / "ft")
    ft_state = json.loads((ft / "finetune_state.json").read_text())
    assert ft_state["output_vocab_size"] == 30522 and not (ft / "output_vocab.txt").exists()
    assert ft_state["init"].startswith("SPLADE (WordPiece output) checkpoint")


# --- the study: twins, plan, per_seed's vocab column, the arm-by-arm table ----------------------

CONFIG = """
seeds = [0, 1, 2]
[pretrain]
init_encoder = "splade-tiny"
[grid]
corpus = ["general", "titles"]
lr = [1e-3]
vocab = ["expanded", "wordpiece"]
[[arms]]
corpus = "general"
lr = 1e-3
repeats = 3
vocab = "expanded"
[evaluation]
levels = ["full", "d8-q4"]
strictest = "d8-q4"
measures = ["nDCG@10"]
"""


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    from esplade_eval.study.config import load_config

    path = tmp_path_factory.mktemp("cfg") / "study.toml"
    path.write_text(CONFIG)
    return load_config(path)


def test_grid_vocab_axis_adds_a_wordpiece_twin_per_arm(cfg, tmp_path):
    from esplade_eval.study.config import ConfigError, load_config

    assert [(a.name, a.vocab) for a in cfg.arms] == [
        ("general-lr1e-3-r1", "expanded"), ("general-lr1e-3-r1-wp", "wordpiece"),
        ("titles-lr1e-3-r1", "expanded"), ("titles-lr1e-3-r1-wp", "wordpiece"), ("general-lr1e-3-r3", "expanded")]
    expanded, twin = cfg.arms[0], cfg.arms[1]
    assert twin.axes == expanded.axes and twin.pretrain == {**expanded.pretrain, "output_vocab": "wordpiece"}
    assert "output_vocab" not in expanded.pretrain  # the ESPLADE arms' settings (and stage keys) are unchanged
    bad = tmp_path / "bad.toml"
    bad.write_text(CONFIG.replace('vocab = ["expanded", "wordpiece"]', 'vocab = ["wordpiece", "bpe"]')
                   .replace('vocab = "expanded"', 'output_vocab = "wordpiece"'))
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    lines = str(err.value).splitlines()
    assert any("grid.vocab: expected a list of distinct kinds among 'expanded', 'wordpiece'" in ln for ln in lines)
    assert any("arms[0].output_vocab: set by the study: give the kinds of output vocabulary" in ln for ln in lines)


def test_plan_gives_twins_no_vocabulary_stage_and_every_system_its_vocab(cfg):
    from esplade_eval.study.plan import build_plan

    plan = build_plan(cfg, None)
    twin, arm = plan.find("pretrain", "general-lr1e-3-r1-wp", 0), plan.find("pretrain", "general-lr1e-3-r1", 0)
    assert [d.kind for d in arm.deps] == ["vocab"] and twin.deps == ()
    assert twin.params["output_vocab"] == "wordpiece" and twin.key != arm.key
    assert {n: s.vocab for n, s in plan.systems.items()} == {
        "general-lr1e-3-r1": "expanded", "general-lr1e-3-r1-wp": "wordpiece", "titles-lr1e-3-r1": "expanded",
        "titles-lr1e-3-r1-wp": "wordpiece", "general-lr1e-3-r3": "expanded", "esplade-no-mlm": "expanded",
        "splade-tiny-ft": "wordpiece", "splade-tiny-zs": "wordpiece", "bm25": ""}
    assert "WordPiece outputs" in plan.systems["titles-lr1e-3-r1-wp"].description


N = 60
LIFT = {"general-lr1e-3-r1": 0.05, "titles-lr1e-3-r1": 0.0}  # ESPLADE minus its twin, by construction


def _write_evaluations(cfg, plan, store) -> dict:
    """Generated evaluate-stage records and per-query files for every system; the scores by (system, seed)."""
    from esplade_eval._io import write_json
    from esplade_eval.study.cache import RECORD

    rng = np.random.default_rng(7)
    base = np.linspace(0.2, 0.7, N)
    made = {}
    for stage in plan.of_kind("evaluate"):
        frames = []
        for level in cfg.evaluation.levels:
            twin = stage.system.removesuffix("-wp")
            lift = LIFT.get(twin, 0.0) if not stage.system.endswith("-wp") else 0.0
            made[(stage.system, stage.seed, level)] = x = np.clip(base + lift + 0.03 * rng.standard_normal(N), 0, 1)
            frames.append(pd.DataFrame({"qid": [f"q{i}" for i in range(N)], "level": level, "nDCG@10": x}))
        folder = store.folder(stage)
        folder.mkdir(parents=True)
        pd.concat(frames).to_csv(folder / "per_query.csv", index=False)
        write_json(folder / RECORD, {"key": stage.key, "status": "complete", "outputs": {
            "per_query": "per_query.csv", "queries": N,
            "mean": {lv: {"nDCG@10": float(made[(stage.system, stage.seed, lv)].mean())}
                     for lv in cfg.evaluation.levels}}})
    return made


def test_per_seed_vocab_column_and_the_arm_by_arm_table(cfg, tmp_path):
    from esplade_eval.evaluate.seeds import compare_seeds
    from esplade_eval.study import findings, render, stats, twins
    from esplade_eval.study.cache import StageStore
    from esplade_eval.study.plan import build_plan

    plan, store = build_plan(cfg, None), StageStore(tmp_path)
    made = _write_evaluations(cfg, plan, store)
    data = stats.collect(plan, store, ["nDCG@10"])
    kinds = dict(zip(data.rows["system"], data.rows["vocab"]))
    assert kinds["general-lr1e-3-r1-wp"] == "wordpiece" and kinds["general-lr1e-3-r1"] == "expanded"
    assert (kinds["splade-tiny-ft"], kinds["splade-tiny-zs"], kinds["esplade-no-mlm"], kinds["bm25"]) == \
        ("wordpiece", "wordpiece", "expanded", "")
    assert "vocab" not in {c.split(" ")[0] for c in stats.aggregate(data.rows).columns}
    assert all(not a.name.endswith("-wp") for a in findings._arms(cfg, data))  # the findings see ESPLADE only

    rows = twins.compare_twins(cfg, data)
    assert [(r["arm"], r["level"]) for r in rows] == [("general-lr1e-3-r1", "full"), ("titles-lr1e-3-r1", "full"),
                                                      ("general-lr1e-3-r1", "d8-q4"), ("titles-lr1e-3-r1", "d8-q4")]
    for r in rows:
        a = np.column_stack([made[(r["arm"], s, r["level"])] for s in cfg.seeds])
        b = np.column_stack([made[(r["twin"], s, r["level"])] for s in cfg.seeds])
        assert r["expanded"] == pytest.approx(a.mean()) and r["wordpiece"] == pytest.approx(b.mean())
        assert r["delta"] == pytest.approx(a.mean() - b.mean()) and r["seeds"] == 3 and r["queries"] == N
        assert r["p"] == pytest.approx(compare_seeds(a, b).p) and r["p_holm"] >= r["p"]
    general = [r for r in rows if r["arm"] == "general-lr1e-3-r1"]
    titles = [r for r in rows if r["arm"] == "titles-lr1e-3-r1"]
    assert all(r["delta"] > 0.03 and r["p_holm"] < 0.05 for r in general), [(r["delta"], r["p_holm"]) for r in rows]
    assert all(abs(r["delta"]) < 0.02 and r["p"] > 0.05 for r in titles)
    table = render.twins_markdown(rows)
    assert "Δ = ESPLADE − SPLADE" in table[0] and table[2].startswith("| general-lr1e-3-r1 | full | 3 |")


@pytest.mark.parametrize("name", ["semanlink-cpu.toml", "gpu.toml"])
def test_committed_configs_run_every_arm_with_its_wordpiece_twin(name):
    from pathlib import Path

    from esplade_eval.study.config import load_config

    cfg = load_config(Path(__file__).resolve().parent.parent / "configs" / name)
    expanded = [a for a in cfg.arms if a.vocab == "expanded"]
    twins = {a.name: a for a in cfg.arms if a.vocab == "wordpiece"}
    assert len(expanded) == len(twins) == 5
    for arm in expanded:
        twin = twins[arm.name + "-wp"]
        assert twin.axes == arm.axes and {k: v for k, v in twin.pretrain.items() if k != "output_vocab"} == arm.pretrain
