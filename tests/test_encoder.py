"""The encoder: exact against the plain SPLADE formula and against Pyserini's encoder."""

import numpy as np
import pytest
import torch

from esplade_eval.data.trec import read_corpus
from esplade_eval.errors import EspladeError
from esplade_eval.model.encoder import SpladeEncoder
from esplade_eval.sparse.quantize import Quantizer


def _reference(encoder, texts):
    """The textbook formula, one text at a time, no packing, no sorting, no max-first."""
    rows = []
    for text in texts:
        enc = encoder.tokenizer([text], max_length=encoder.max_length, truncation=True, return_tensors="pt")
        with torch.no_grad():
            logits = encoder.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
        rows.append(torch.max(torch.log(1 + torch.relu(logits)) * enc["attention_mask"].unsqueeze(-1), dim=1)
                    .values[0].numpy())
    return np.stack(rows)


def test_matches_reference_formula_and_keeps_input_order(semanlink, splade_tiny):
    texts = [t for _, t in list(read_corpus(semanlink.corpus))[:40]] + ["", "a much longer title " * 20]
    batch = splade_tiny.encode(texts)
    dense = np.zeros((len(texts), len(splade_tiny.terms)), dtype=np.float32)
    dense[batch.row_ids(), batch.indices] = batch.data
    ref = _reference(splade_tiny, texts)
    # an empty text is an empty vector, where the formula expands the special tokens alone
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    assert empty and (ref[empty] > 0).any() and not dense[empty].any()
    ref[empty] = 0
    assert np.array_equal(dense > 0, ref > 0)
    np.testing.assert_allclose(dense, ref, rtol=1e-5, atol=1e-5)


def test_sensible_expansion(splade_tiny):
    vec = splade_tiny.encode(["boiling point of water at high altitude"]).to_dicts(splade_tiny.terms)[0]
    top = [t for t, _ in sorted(vec.items(), key=lambda kv: -kv[1])[:10]]
    assert {"water", "altitude"} <= set(top)
    assert "elevation" in vec  # an expansion term absent from the text


def test_identical_quantised_vectors_to_pyserini(semanlink, splade_tiny):
    from pyserini.encode import SpladeDocumentEncoder

    from esplade_eval.model.checkpoint import resolve_checkpoint

    texts = [t for _, t in list(read_corpus(semanlink.corpus))[:200]]
    theirs = SpladeDocumentEncoder(str(resolve_checkpoint("splade-tiny")), device="cpu")
    their_vectors = []
    for s in range(0, len(texts), 32):
        their_vectors += theirs.encode(texts[s:s + 32], max_length=splade_tiny.max_length)
    # Pyserini quantises round(w / 5 * 256): scale 51.2, round half to even
    ours, _ = Quantizer(scale=51.2).apply(splade_tiny.encode(texts))
    ours = ours.to_dicts(splade_tiny.terms)
    theirs_nonzero = [{t: w for t, w in v.items() if w > 0} for v in their_vectors]
    same = sum(a == b for a, b in zip(ours, theirs_nonzero))
    assert same >= 0.99 * len(texts), f"only {same}/{len(texts)} vectors identical"


def test_max_length_truncates_and_is_recorded(splade_tiny):
    short = SpladeEncoder(splade_tiny.model, splade_tiny.tokenizer, splade_tiny.terms,
                          type(splade_tiny.info)(**{**splade_tiny.info.to_dict(), "max_length": 4}))
    text = "semantic web linked data ontology reasoning"
    assert short.tokenize([text])[0].__len__() == 4
    truncated = short.encode([text]).to_dicts(short.terms)[0]
    # [CLS] semantic web [SEP]: exactly the vector of the first two words
    assert truncated == splade_tiny.encode(["semantic web"]).to_dicts(splade_tiny.terms)[0]
    assert truncated != splade_tiny.encode([text]).to_dicts(splade_tiny.terms)[0]
    assert short.info.max_length == 4


def test_unknown_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(EspladeError, match="checkpoint not found"):
        SpladeEncoder.from_checkpoint(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EspladeError, match="no config.json"):
        SpladeEncoder.from_checkpoint(tmp_path / "empty")


def test_output_vocab_size_mismatch_is_a_clear_error(tmp_path, splade_tiny):
    import shutil

    from esplade_eval.model.checkpoint import resolve_checkpoint

    ckpt = tmp_path / "ckpt"
    shutil.copytree(resolve_checkpoint("splade-tiny"), ckpt)
    (ckpt / "output_vocab.txt").write_text("one\ntwo\n")
    with pytest.raises(EspladeError, match="output vocabulary has 2 entries but the MLM head predicts 30522"):
        SpladeEncoder.from_checkpoint(ckpt)


def test_checkpoint_hash_covers_the_model_not_its_training_logs(tmp_path):
    import json
    import shutil

    from esplade_eval.model.checkpoint import checkpoint_hash, resolve_checkpoint

    ckpt = tmp_path / "ckpt"
    shutil.copytree(resolve_checkpoint("splade-tiny"), ckpt)
    before = checkpoint_hash(ckpt)
    (ckpt / "training_state.json").write_text(json.dumps({"wall_time_s": 12.3}))
    (ckpt / "study_key.txt").write_text("abc\n")
    assert checkpoint_hash(ckpt) == before
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, "hidden_dropout_prob": 0.2}))
    assert checkpoint_hash(ckpt) != before


def test_training_weights_are_the_exported_vectors_with_gradients(splade_tiny):
    from esplade_eval.model.encoder import find_head

    texts = ["semantic web", "boiling point of water at high altitude", ""]
    weights = splade_tiny.text_weights(texts)
    assert weights.requires_grad and weights.dtype == torch.float32
    assert tuple(weights.shape) == (3, len(splade_tiny.terms))
    batch = splade_tiny.encode(texts)
    dense = np.zeros(tuple(weights.shape), dtype=np.float32)
    dense[batch.row_ids(), batch.indices] = batch.data
    np.testing.assert_allclose(weights.detach().numpy(), dense, rtol=1e-5, atol=1e-6)
    weights.sum().backward()
    base, head = find_head(splade_tiny.model)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in base.parameters())
    splade_tiny.model.zero_grad(set_to_none=True)


def test_an_encoder_around_a_model_in_memory(splade_tiny):
    enc = SpladeEncoder.from_model(splade_tiny.model, splade_tiny.tokenizer, max_length=32)
    assert enc.terms == splade_tiny.terms and enc.info.vocab_source == "tokenizer"
    assert enc.info.max_length == 32 and enc.info.checkpoint == "<in-memory>" and enc.info.checkpoint_hash == ""
    seen = []
    enc.encode(["a", "b c", "d"] * 50, progress=seen.append)
    assert sum(seen) == 150 and len(seen) == 2  # batches of 128
    with pytest.raises(EspladeError, match=r"mine: output vocabulary has 2 entries but the MLM head predicts 30522"):
        SpladeEncoder.from_model(splade_tiny.model, splade_tiny.tokenizer, ["x", "y"], name="mine")
