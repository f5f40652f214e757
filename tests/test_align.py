"""The aligned ESPLADE start (issue 21's parity): alignment to SPLADE-tiny's scores, the start
stage in the plan, loading a start, and fine-tuning with the output rows frozen."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from esplade_eval.errors import EspladeError
from esplade_eval.train.align import AlignConfig, align, pseudo_pairs

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(2)


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    """SPLADE-tiny's encoder with its head mapped (mean) to every word of 400 Semanlink titles."""
    from esplade_eval.data.corpora import iter_texts
    from esplade_eval.train import common
    from esplade_eval.train.pretrain import init_from_wordpiece
    from esplade_eval.train.vocab import build_vocab

    texts = [t for t in iter_texts("semanlink") if len(t.split()) >= 2][:400]
    vocab = build_vocab(texts, 100_000)  # the pseudo-queries' words are all in it, as in the study
    tokenizer = common.load_input_tokenizer()
    model, transfer = init_from_wordpiece("splade-tiny", vocab, tokenizer, "mean")
    folder = common.save_checkpoint(tmp_path_factory.mktemp("start") / "ck", model, tokenizer, vocab,
                                    {"init.json": transfer})
    return {"folder": folder, "vocab": vocab, "texts": texts, "tokenizer": tokenizer}


def _score_error(model, teacher, tokenizer, docs, queries) -> float:
    from esplade_eval.model.pooling import splade_max_pool

    def pooled(m, texts):
        enc = tokenizer(texts, truncation=True, max_length=48, padding=True, return_tensors="pt")
        return splade_max_pool(m(**enc).logits, enc["attention_mask"])

    with torch.no_grad():
        return float(((pooled(model, queries) @ pooled(model, docs).T
                       - pooled(teacher, queries) @ pooled(teacher, docs).T) ** 2).mean())


def test_pseudo_queries_are_spans_of_their_documents():
    rng = np.random.default_rng(3)
    texts = [" ".join(f"w{i}_{j}" for j in range(60)) for i in range(10)]
    docs, queries = pseudo_pairs(texts, rng, AlignConfig(batch=10, doc_words=40))
    for doc, query in zip(docs, queries):
        assert len(doc.split()) == 40 and 1 <= len(query.split()) <= 3
        assert f" {query} " in f" {doc} "
    assert len(set(docs)) == 10  # sampled without replacement


def test_alignment_brings_the_scores_closer_to_the_source(start):
    from transformers import AutoModelForMaskedLM

    from esplade_eval.model.checkpoint import resolve_checkpoint
    from esplade_eval.model.esplade import EspladeForMaskedLM

    model = EspladeForMaskedLM.from_pretrained(start["folder"])
    teacher = AutoModelForMaskedLM.from_pretrained(resolve_checkpoint("splade-tiny")).eval()
    held_out = start["texts"][-64:]  # texts the alignment below does not sample
    docs, queries = pseudo_pairs(held_out, np.random.default_rng(7), AlignConfig(batch=32))
    before = _score_error(model.eval(), teacher, start["tokenizer"], docs, queries)
    record = align(model, teacher, start["tokenizer"], start["texts"][:-64], AlignConfig(steps=12, lr=1e-4, batch=16))
    after = _score_error(model.eval(), teacher, start["tokenizer"], docs, queries)
    assert after < 0.9 * before, (before, after)
    assert record["steps"] == 12 and record["texts"] == 336 and record["loss_last10"] < record["loss_first"]


def test_alignment_refuses_too_few_texts_and_zero_steps_changes_nothing(start):
    from esplade_eval.model.esplade import EspladeForMaskedLM
    from esplade_eval.train.align import align_to_source

    model = EspladeForMaskedLM.from_pretrained(start["folder"])
    with pytest.raises(EspladeError, match="at least 32 texts"):
        align(model, model, start["tokenizer"], ["two words"] * 5, AlignConfig())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    transfer = align_to_source(model, {"head": "mean"}, "splade-tiny", start["tokenizer"], [], AlignConfig(steps=0))
    assert transfer == {"head": "mean"}
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_start_loads_as_is_and_only_with_its_own_vocabulary(start):
    from esplade_eval.model.esplade import EspladeForMaskedLM
    from esplade_eval.train.headinit import is_expanded_start, load_expanded_start

    assert is_expanded_start(start["folder"]) and not is_expanded_start("splade-tiny")
    model, transfer = load_expanded_start(start["folder"], start["vocab"])
    saved = EspladeForMaskedLM.from_pretrained(start["folder"]).state_dict()
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    assert transfer["source"] == "splade-tiny" and transfer["start_checkpoint"] == str(start["folder"])
    n = len(start["vocab"])
    with pytest.raises(EspladeError, match=rf"ck: its output vocabulary \({n} words\) is not this run's \({n - 1}"):
        load_expanded_start(start["folder"], start["vocab"][:-1])


def test_the_study_plans_one_start_and_every_expanded_system_begins_there(tmp_path):
    from esplade_eval.study.config import load_config
    from esplade_eval.study.plan import build_plan

    cfg = load_config(ROOT / "configs" / "semanlink-cpu.toml", work=tmp_path / "w", results=tmp_path / "r")
    plan = build_plan(cfg, None)
    (start,) = plan.of_kind("start")
    assert start.params["align_steps"] == cfg.pretrain["align_steps"] > 0
    assert start.params["source"] == "splade-tiny" and [d.kind for d in start.deps] == ["vocab"]
    for stage in plan.of_kind("pretrain"):
        expanded = plan.systems[stage.system].vocab != "wordpiece"
        assert (start in stage.deps) == expanded, stage.label
    smoke = load_config(ROOT / "configs" / "smoke.toml", work=tmp_path / "w2", results=tmp_path / "r2")
    assert not smoke.pretrain.get("align_steps") and not build_plan(smoke, None).of_kind("start")


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    from esplade_eval.data.semanlink import ensure_semanlink

    return ensure_semanlink(tmp_path_factory.mktemp("data") / "semanlink")


@pytest.mark.parametrize("init", ["start", "splade-tiny"])
def test_a_frozen_head_keeps_its_rows_and_the_encoder_trains(init, start, collection, tmp_path):
    from esplade_eval.model.encoder import SpladeEncoder
    from esplade_eval.train.finetune import FinetuneConfig, finetune

    source = str(start["folder"]) if init == "start" else "splade-tiny"
    cfg = FinetuneConfig(init=source, collection=str(collection.root), steps=3, batch_size=8, lr=1e-3,
                         validate=False, threads=2, progress=False, freeze_head=True)
    out = finetune(cfg, tmp_path / "ft")
    before = SpladeEncoder.from_checkpoint(source).model
    after = SpladeEncoder.from_checkpoint(out).model
    for a, b in zip(before.get_output_embeddings().parameters(), after.get_output_embeddings().parameters()):
        assert torch.equal(a, b)
    layer = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(before.state_dict()[layer], after.state_dict()[layer])
    state = json.loads((out / "finetune_state.json").read_text())
    rows = len(start["vocab"]) if init == "start" else 30522
    assert state["frozen_head_parameters"] == rows * 128 + rows and state["config"]["freeze_head"] is True


def test_cli_pretrain_aligns_before_mlm_and_finetune_freezes_the_head(start, collection, tmp_path, capsys):
    from esplade_eval.cli import main

    corpus = tmp_path / "titles.txt"
    corpus.write_text("\n".join(start["texts"]) + "\n", encoding="utf-8")
    out = tmp_path / "pt"
    assert main(["pretrain", "--corpus", str(corpus), "--vocab-size", "500", "--steps", "2", "--batch-size", "8",
                 "--max-length", "32", "--eval-texts", "0", "--init-encoder", "splade-tiny", "--align-steps", "3",
                 "--allow-eval-docs", "--threads", "2", "--quiet", "--out", str(out)]) == 0
    transfer = json.loads((out / "training_state.json").read_text())["model"]["head_transfer"]
    from esplade_eval.data.corpora import load_corpus

    train_part = [t for t in load_corpus(str(corpus)).train if len(t.split()) >= 2]  # held-out texts stay out
    assert transfer["alignment"]["steps"] == 3 and transfer["alignment"]["texts"] == len(train_part) < 400
    words = len((out / "output_vocab.txt").read_text(encoding="utf-8").splitlines())
    ft = tmp_path / "ft"
    assert main(["finetune", "--init", str(out), "--collection", str(collection.root), "--steps", "1",
                 "--batch-size", "4", "--no-validate", "--freeze-head", "--threads", "2", "--quiet",
                 "--out", str(ft)]) == 0
    assert json.loads((ft / "finetune_state.json").read_text())["frozen_head_parameters"] == words * 129
    capsys.readouterr()


@pytest.mark.parametrize("key, value, message", [("align_steps", "-5", "must be >= 0, got -5"),
                                                 ("align_lr", "0", "must be > 0, got 0"),
                                                 ("align_steps", "1.5", "expected an integer, got 1.5")])
def test_bad_alignment_settings_are_named(key, value, message, tmp_path):
    import re

    from esplade_eval.study.config import load_config

    text = (ROOT / "configs" / "semanlink-cpu.toml").read_text(encoding="utf-8")
    path = tmp_path / "bad.toml"
    path.write_text(re.sub(rf"(?m)^{key} = \S+", f"{key} = {value}", text), encoding="utf-8")
    with pytest.raises(EspladeError, match=re.escape(f"pretrain.{key}: {message}")):
        load_config(path, work=tmp_path / "w", results=tmp_path / "r")


def test_alignment_without_a_wordpiece_source_is_refused(start, tmp_path):
    from esplade_eval.train.pretrain import PretrainConfig

    with pytest.raises(EspladeError, match="align_steps=5: alignment needs init_encoder"):
        PretrainConfig(align_steps=5)
    with pytest.raises(EspladeError, match="is already an ESPLADE start"):
        PretrainConfig(align_steps=5, init_encoder=str(start["folder"]))
    PretrainConfig(align_steps=5, init_encoder="splade-tiny")  # a WordPiece source
    PretrainConfig(align_steps=5, output_vocab="wordpiece")  # a WordPiece head keeps its rows: nothing to align


def _config(tmp_path, edit):
    import re

    from esplade_eval.study.config import load_config

    text = edit((ROOT / "configs" / "semanlink-cpu.toml").read_text(encoding="utf-8"))
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return lambda: load_config(path, work=tmp_path / "w", results=tmp_path / "r"), re


def test_a_random_start_with_alignment_is_a_config_error(tmp_path):
    load, re = _config(tmp_path, lambda t: t.replace('init_encoder = "splade-tiny"', 'init_encoder = "none"'))
    with pytest.raises(EspladeError, match=r"pretrain.align_steps: alignment needs init_encoder"):
        load()
    load, re = _config(tmp_path, lambda t: t.replace('lr = [1e-4, 1e-3]', 'lr = [1e-4, 1e-3]\ninit_encoder = ["none"]'))
    with pytest.raises(EspladeError, match=re.escape("grid.init_encoder[0]: a random start with [pretrain] align_steps")):
        load()


def test_an_arm_with_its_own_head_rule_does_not_share_the_start(tmp_path):
    from esplade_eval.study.plan import build_plan

    load, _ = _config(tmp_path, lambda t: t.replace('repeats = 3\n', 'repeats = 3\nhead_init = "sum"\n', 1))
    plan = build_plan(load(), None)
    (start,) = plan.of_kind("start")
    own = [s for s in plan.of_kind("pretrain") if s.system.startswith("general-lr1e-3-r3")]
    shared = [s for s in plan.of_kind("pretrain") if s.system == "general-lr1e-4-r1"]
    assert own and all(start not in s.deps and s.params["align_steps"] == 100 for s in own)  # it aligns itself
    assert shared and all(start in s.deps for s in shared)
