"""MLM pre-training on real text: masking, learning, records, reproducibility."""

import json

import numpy as np
import pytest
import torch

from esplade_eval.data.corpora import iter_texts
from esplade_eval.train import common
from esplade_eval.train.pretrain import NOT_A_WORD, PretrainConfig, mask_batch, pretrain, tokenize_examples

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
                 "--max-length", "32", "--eval-texts", "0", "--threads", "2", "--no-progress", "--out", str(out)]) == 0
    assert '"steps": 3' in capsys.readouterr().out
    enc = SpladeEncoder.from_checkpoint(out)
    assert enc.info.model_type == "esplade" and len(enc.terms) == 300
    assert main(["pretrain", "--corpus", str(lee_file), "--steps", "1", "--out", str(out)]) == 2  # exists: refused
