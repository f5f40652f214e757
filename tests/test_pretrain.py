"""MLM pre-training on real text: masking, learning, records, reproducibility."""

import json

import numpy as np
import pytest
import torch

from esplade_eval.data.corpora import is_heldout, iter_texts, load_corpus, words
from esplade_eval.errors import EspladeError
from esplade_eval.train import common
from esplade_eval.train.mlm import NOT_A_WORD, mask_batch, tokenize_examples
from esplade_eval.train.pretrain import PretrainConfig, pretrain

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def lee_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "lee.txt"
    path.write_text("\n".join(iter_texts("lee")) + "\n", encoding="utf-8")
    return path


def test_whole_word_masking_masks_every_piece_and_predicts_once():
    tok = common.load_input_tokenizer()
    vocab = ["embeddings", "the", "of", "semantic"]
    ex = tokenize_examples(tok, ["Semantic embeddings of the web, don't!"], {w: i for i, w in enumerate(vocab)}, 32)[0]
    pieces = tok.convert_ids_to_tokens(ex.ids.tolist())
    assert pieces[1:7] == ["semantic", "em", "##bed", "##ding", "##s", "of"]
    assert ex.target.tolist()[:4] == [3, 0, 2, 1]  # semantic, embeddings, of, the
    assert ex.target[pieces.index(",") - 1 - 3] == NOT_A_WORD  # ',' is never a target
    rng = np.random.default_rng(0)
    for _ in range(20):
        ids, att, rows, cols, labels = mask_batch([ex], rng, 0.5, tok.mask_token_id, 0, len(tok), always_mask=True)
        masked = set(np.flatnonzero(ids[0].numpy() == tok.mask_token_id).tolist())
        words_masked = {int(ex.word[t]) for t in masked}
        for w in words_masked:  # all pieces of a chosen word, never punctuation
            assert set(np.flatnonzero(ex.word == w).tolist()) <= masked
            assert ex.target[w] != NOT_A_WORD
        # one prediction per masked in-vocabulary word, at its first piece
        expect = sorted((int(np.flatnonzero(ex.word == w)[0]), int(ex.target[w])) for w in words_masked if ex.target[w] >= 0)
        assert sorted(zip(cols.tolist(), labels.tolist())) == expect
        assert att.sum() == len(ex.ids)


@pytest.mark.slow
def test_pretraining_lowers_loss_and_beats_frequency_baseline(lee_file, tmp_path):
    cfg = PretrainConfig(corpora=[str(lee_file)], vocab_size=2000, init_encoder="splade-tiny", steps=30,
                         batch_size=16, max_length=48, lr=1e-3, eval_texts=150, threads=2, progress=False, log_every=5)
    out = pretrain(cfg, tmp_path / "pt")
    state = json.loads((out / "training_state.json").read_text())
    for arm in ("general", "titles"):
        before, after = state["heldout_mlm_before"][arm], state["heldout_mlm"][arm]
        assert after["masked_words"] > 50
        assert after["loss"] < before["loss"] - 0.5, arm
        assert after["accuracy"] > after["frequency_baseline_accuracy"], arm
        # pre-training itself lifts held-out accuracy (not just the warm-started init)
        assert after["accuracy"] > before["accuracy"], arm
    hist = json.loads((out / "trainer_log.json").read_text())["history"]
    assert hist[-1]["loss_ema"] < hist[0]["loss_ema"]
    assert state["steps"] == 30 and state["tokens_seen"] > 30 * 16 * 10
    assert state["lr_schedule"]["warmup_steps"] == 3 and hist[-1]["lr"] == 0.0
    assert state["corpora"][0]["name"] == str(lee_file) and state["seed"] == 0
    assert (out / "output_vocab.txt").read_text().count("\n") == 2000


@pytest.mark.slow
def test_same_seed_same_checkpoint_from_scratch(lee_file, tmp_path):
    def run(name, seed):
        cfg = PretrainConfig(corpora=[str(lee_file)], vocab_size=500, steps=6, batch_size=8, max_length=32,
                             eval_texts=0, seed=seed, threads=2, progress=False)
        from transformers import AutoModelForMaskedLM

        return AutoModelForMaskedLM.from_pretrained(pretrain(cfg, tmp_path / name)).state_dict()

    a, b, c = run("a", 1), run("b", 1), run("c", 2)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_existing_output_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError):
        pretrain(PretrainConfig(steps=1), tmp_path / "out")


@pytest.mark.slow
def test_cli_pretrain_writes_a_loadable_checkpoint(lee_file, tmp_path, capsys):
    from esplade_eval.cli import main
    from esplade_eval.model.encoder import SpladeEncoder

    out = tmp_path / "cli-pt"
    assert main(["pretrain", "--corpus", str(lee_file), "--vocab-size", "300", "--steps", "3", "--batch-size", "8",
                 "--max-length", "32", "--eval-texts", "0", "--threads", "2", "--quiet", "--out", str(out)]) == 0
    assert '"steps": 3' in capsys.readouterr().out
    enc = SpladeEncoder.from_checkpoint(out)
    assert enc.info.model_type == "esplade" and len(enc.terms) == 300
    assert main(["pretrain", "--corpus", str(lee_file), "--steps", "1", "--out", str(out)]) == 2  # exists: refused


def _state(folder):
    return json.loads((folder / "training_state.json").read_text())


def test_budget_is_passes_and_steps_with_repeats_is_refused(tmp_path, capsys):
    # ceil(1000 / 64) = 16 batches a pass; repeats and epochs both multiply passes
    steps = [PretrainConfig(batch_size=64, repeats=r, epochs=e).total_steps(1000)
             for r, e in [(1, 1.0), (3, 1.0), (1, 3.0), (2, 0.5), (1, 0.25)]]
    assert steps == [16, 48, 48, 16, 4]
    assert PretrainConfig(repeats=3).passes == 3.0 and PretrainConfig(steps=5).passes is None
    with pytest.raises(EspladeError, match=r"steps=1500 with repeats=3: a fixed step budget ignores repeats"):
        PretrainConfig(steps=1500, repeats=3)
    with pytest.raises(EspladeError, match="repeats must be a whole number"):
        PretrainConfig(repeats=0)
    from esplade_eval.cli import main

    out = tmp_path / "pt"
    assert main(["pretrain", "--corpus", "lee", "--steps", "10", "--repeats", "3", "--out", str(out)]) == 2
    assert "--steps 10 with --repeats 3" in capsys.readouterr().err and not out.exists()


@pytest.mark.slow
def test_three_repeats_train_three_times_the_steps_and_tokens(lee_file, tmp_path):
    lines = lee_file.read_text(encoding="utf-8").splitlines()
    parts = [tmp_path / "a.txt", tmp_path / "b.txt"]
    parts[0].write_text("\n".join(lines[:14]) + "\n", encoding="utf-8")
    parts[1].write_text("\n".join(lines[14:22]) + "\n", encoding="utf-8")
    small = tmp_path / "small.json"  # a one-layer model: the budget is under test, not the model
    small.write_text(json.dumps({"num_hidden_layers": 1, "hidden_size": 32, "num_attention_heads": 2,
                                 "intermediate_size": 64, "max_position_embeddings": 64}))

    def run(repeats):
        cfg = PretrainConfig(corpora=[str(p) for p in parts], preset=str(small), vocab_size=300, repeats=repeats,
                             batch_size=32, max_length=32, eval_texts=0, threads=2, progress=False, log_every=1000)
        return _state(pretrain(cfg, tmp_path / f"r{repeats}"))

    one, three = run(1), run(3)
    assert one["budget"]["unit"] == three["budget"]["unit"] == "passes"
    assert one["config"]["epochs"] == three["config"]["epochs"] == 1.0 and three["budget"]["passes"] == 3
    assert one["steps"] == one["budget"]["batches_per_pass"] >= 3
    assert three["steps"] == 3 * one["steps"] == three["lr_schedule"]["total_steps"]
    assert one["tokens_seen"] == one["train_tokens_per_pass"]
    assert three["tokens_seen"] == 3 * one["tokens_seen"]
    assert (one["passes_over_corpus"], three["passes_over_corpus"]) == (1.0, 3.0)
    assert three["passes_per_corpus"] == {str(p): 3.0 for p in parts} and three["repeats_done"] == 3.0
    assert sum(three["tokens_per_corpus"].values()) == three["tokens_seen"]
    assert [three["tokens_per_corpus"][str(p)] for p in parts] == [3 * one["tokens_per_corpus"][str(p)] for p in parts]


@pytest.mark.slow
def test_evaluation_documents_are_kept_out_and_counted(lee_file, tmp_path):
    # Semanlink titles (the bundled evaluation documents) as another corpus might hold them
    variants = [t.upper() + " !" for t in list(iter_texts("semanlink"))[:400:10] if words(t)]
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("\n".join(lee_file.read_text(encoding="utf-8").splitlines()[:20] + variants) + "\n",
                     encoding="utf-8")
    in_train = sum(not is_heldout(v) for v in variants)  # held-out texts are never trained on anyway
    base = dict(corpora=[str(mixed)], vocab_size=300, steps=1, batch_size=8, max_length=32, eval_texts=0,
                threads=2, progress=False)
    kept = _state(pretrain(PretrainConfig(**base), tmp_path / "kept"))
    assert kept["eval_docs"]["excluded"] and kept["eval_docs"]["sources"] == ["semanlink"]
    assert kept["eval_docs"]["dropped_texts"] == {str(mixed): in_train} and in_train > 30
    assert kept["output_vocab"]["eval_docs"]["dropped_total"] == in_train  # the built vocabulary too
    allowed = _state(pretrain(PretrainConfig(**base, allow_eval_docs=True), tmp_path / "allowed"))
    assert allowed["eval_docs"]["excluded"] is False
    assert allowed["corpora"][0]["train_texts"] == kept["corpora"][0]["train_texts"] + in_train
    assert len(load_corpus(str(mixed)).train) == allowed["corpora"][0]["train_texts"]
    with pytest.raises(EspladeError, match="name the evaluation documents"):
        pretrain(PretrainConfig(**base, exclude_eval_docs=[]), tmp_path / "neither")
    assert not (tmp_path / "neither").exists()


@pytest.mark.slow
def test_a_prebuilt_vocabulary_is_used_as_is_and_runs_are_identical(lee_file, tmp_path):
    from esplade_eval.model.checkpoint import checkpoint_hash
    from esplade_eval.train.vocab import write_vocab

    # not in frequency order, with words the corpus lacks: a rebuilt vocabulary would differ
    vocab = ["zygote", "the", "australia", "qwertyuiop", "of", "police", "a", "and"]
    write_vocab(tmp_path / "vocab", vocab, {"note": "shared by every arm"})
    cfg = PretrainConfig(corpora=[str(lee_file)], vocab=str(tmp_path / "vocab"), steps=3, batch_size=8,
                         max_length=32, eval_texts=0, threads=2, progress=False)
    a, b = pretrain(cfg, tmp_path / "a"), pretrain(cfg, tmp_path / "b")
    assert (a / "output_vocab.txt").read_bytes() == (tmp_path / "vocab" / "output_vocab.txt").read_bytes()
    state = _state(a)
    assert state["output_vocab"]["source"] == str(tmp_path / "vocab")
    assert state["output_vocab"]["built_with"]["note"] == "shared by every arm"
    # the training run's identity: same seed and inputs give the same checkpoint hash
    assert checkpoint_hash(a) == checkpoint_hash(b)
