"""The ESPLADE masked-LM: HF registration, save/load, the shared encoder, head/vocab checks."""

import json

import numpy as np
import pytest
import torch

from esplade_eval.data.corpora import iter_texts
from esplade_eval.errors import EspladeError
from esplade_eval.model.esplade import EspladeConfig, EspladeForMaskedLM
from esplade_eval.train import common
from esplade_eval.train.vocab import build_vocab

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def titles():
    return list(iter_texts("semanlink"))[:400]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, titles):
    """A real (randomly initialised) ESPLADE tiny checkpoint over a 1,500-word title vocabulary."""
    tokenizer = common.load_input_tokenizer()
    vocab = build_vocab(titles, 1500)
    common.seed_everything(3)
    model = EspladeForMaskedLM(common.model_config("tiny", len(vocab), len(tokenizer))).eval()
    with torch.no_grad():  # random init gives near-zero logits; a bias makes vectors non-trivial
        model.mlm_head.decoder.bias.uniform_(-0.5, 1.0)
    out = tmp_path_factory.mktemp("ckpt") / "esplade"
    common.save_checkpoint(out, model, tokenizer, vocab, {"note.json": {"test": True}})
    return out, model, tokenizer, vocab


def test_config_and_auto_registration(checkpoint):
    from transformers import AutoConfig, AutoModelForMaskedLM

    path, model, _, vocab = checkpoint
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["model_type"] == "esplade" and cfg["output_vocab_size"] == len(vocab)
    assert cfg["tie_word_embeddings"] is False
    assert isinstance(AutoConfig.from_pretrained(path), EspladeConfig)
    loaded = AutoModelForMaskedLM.from_pretrained(path)
    assert type(loaded) is EspladeForMaskedLM
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    assert (path / "tokenizer.json").is_file() and (path / "output_vocab.txt").is_file()


def test_head_shape_and_not_tied(checkpoint):
    _, model, tokenizer, vocab = checkpoint
    head = model.get_output_embeddings()
    assert tuple(head.weight.shape) == (len(vocab), 128)
    assert model.base_model is model.bert
    assert model.bert.embeddings.word_embeddings.weight.shape[0] == len(tokenizer)
    assert head.weight.data_ptr() != model.bert.embeddings.word_embeddings.weight.data_ptr()
    ids = torch.tensor([[101, 7592, 2088, 102]])
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids))
    assert out.logits.shape == (1, 4, len(vocab))
    hidden = model.base_model(input_ids=ids, attention_mask=torch.ones_like(ids))[0]
    assert torch.allclose(model.mlm_head(hidden), out.logits)


def test_round_trip_gives_identical_vectors(checkpoint, titles):
    from esplade_eval.model.encoder import SpladeEncoder

    path, model, tokenizer, vocab = checkpoint
    texts = titles[:64]
    before = SpladeEncoder.from_model(model, tokenizer, vocab, max_length=64, device="cpu").encode(texts)
    enc = SpladeEncoder.from_checkpoint(path, max_length=64, device="cpu")
    after = enc.encode(texts)
    assert enc.info.model_type == "esplade" and enc.info.vocab_source == "output_vocab.txt"
    assert enc.terms[:5] == vocab[:5]
    assert before.nnz > 0
    np.testing.assert_array_equal(before.indptr, after.indptr)
    np.testing.assert_array_equal(before.indices, after.indices)
    np.testing.assert_array_equal(before.data, after.data)


def test_packed_head_path_matches_full_logits(checkpoint, titles):
    from esplade_eval.model.encoder import SpladeEncoder
    from esplade_eval.model.pooling import splade_max_pool

    path, model, tokenizer, vocab = checkpoint
    enc = SpladeEncoder.from_checkpoint(path, max_length=64, device="cpu")
    texts = titles[:16]
    batch = tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
    with torch.no_grad():
        dense = splade_max_pool(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                                batch["attention_mask"]).numpy()
    sparse = enc.encode(texts)
    got = np.zeros_like(dense)
    got[sparse.row_ids(), sparse.indices] = sparse.data
    np.testing.assert_allclose(got, dense, rtol=1e-5, atol=1e-6)


def test_head_vocab_mismatch_is_a_clear_error(checkpoint, tmp_path):
    import shutil

    from esplade_eval.model.encoder import SpladeEncoder
    from esplade_eval.train.finetune import FinetuneConfig, load_init

    path, _, _, vocab = checkpoint
    bad = tmp_path / "bad"
    shutil.copytree(path, bad)
    (bad / "output_vocab.txt").write_text("".join(w + "\n" for w in vocab[:-1]), encoding="utf-8")
    with pytest.raises(EspladeError, match=r"output vocabulary has 1499 entries but the MLM head predicts 1500"):
        SpladeEncoder.from_checkpoint(bad)
    with pytest.raises(EspladeError, match=r"1499 entries but the MLM head predicts 1500"):
        load_init(FinetuneConfig(init=str(bad)))


def test_finetune_init_wraps_the_checkpoint_in_the_shared_encoder(checkpoint):
    from esplade_eval.model.encoder import SpladeEncoder
    from esplade_eval.train.finetune import FinetuneConfig, load_init

    path, _, _, vocab = checkpoint
    enc, got, desc = load_init(FinetuneConfig(init=str(path), max_doc_length=48))
    assert isinstance(enc, SpladeEncoder) and got == vocab and enc.terms == vocab
    assert enc.info.vocab_source == "output_vocab.txt" and enc.max_length == 48 and desc.startswith("ESPLADE")


def test_model_config_from_preset_and_json(tmp_path):
    cfg = common.model_config("tiny", 100, 30522)
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.output_vocab_size) == (2, 128, 100)
    f = tmp_path / "m.json"
    f.write_text(json.dumps({"num_hidden_layers": 1, "hidden_size": 64, "num_attention_heads": 2,
                             "intermediate_size": 128}))
    cfg = common.model_config(str(f), 50, 30522)
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.output_vocab_size, cfg.vocab_size) == (1, 64, 50, 30522)
    with pytest.raises(EspladeError, match="neither a preset"):
        common.model_config("huge", 10, 10)
