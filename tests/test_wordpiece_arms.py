"""WordPiece (plain SPLADE) arms beside the ESPLADE arms: masking, a real pre-training run on
SPLADE-tiny, the grid's twins, per_seed's vocab column and the arm-by-arm comparison."""

import json

import numpy as np
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


def test_wordpiece_pretraining_on_splade_tiny(tmp_path):
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
