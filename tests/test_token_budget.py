"""``budget = "tokens"``: arms over corpora of different sizes see the same tokens per repeat,
and repeats multiply that same subsample (real tokenizer, real pre-training of a tiny model)."""

import json
from pathlib import Path

import numpy as np
import pytest

from esplade_eval.data.corpora import iter_texts
from esplade_eval.errors import EspladeError
from esplade_eval.train.budget import subsample
from esplade_eval.train.pretrain import PretrainConfig, prepare_data, pretrain


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory):
    """A small and a three-times larger corpus of real news text (lee)."""
    lines = list(iter_texts("lee"))
    folder = tmp_path_factory.mktemp("budget")
    small, large = folder / "small.txt", folder / "large.txt"
    small.write_text("\n".join(lines[:12]) + "\n", encoding="utf-8")
    large.write_text("\n".join(lines[12:48]) + "\n", encoding="utf-8")
    return str(small), str(large)


def _cfg(corpus, corpora, **kw):
    base = dict(corpora=[corpus], budget="tokens", budget_corpora=[[c] for c in corpora], vocab_size=300,
                batch_size=16, max_length=32, eval_texts=0, progress=False, exclude_eval_docs=["semanlink"])
    return PretrainConfig(**{**base, **kw})


def _tokens(data) -> int:
    return int(sum(len(e.ids) for e in data.examples))


def test_two_corpora_of_different_sizes_see_the_same_tokens_per_repeat(two_corpora):
    small, large = two_corpora
    a = prepare_data(_cfg(small, two_corpora))
    b = prepare_data(_cfg(large, two_corpora))
    longest = max(len(e.ids) for e in b.examples)
    assert a.subsample["share_of_corpus"] == 1.0 and _tokens(a) == a.subsample["tokens_per_repeat"]
    assert b.subsample["corpus_tokens"] > 2 * _tokens(a)  # the larger corpus is really larger
    assert b.subsample["tokens_per_repeat"] == _tokens(a)  # the smallest corpus sets the budget
    assert _tokens(a) - longest < _tokens(b) <= _tokens(a)  # subsampled to within one example
    assert b.subsample["compared"] == {large: b.subsample["corpus_tokens"], small: _tokens(a)}
    assert b.subsample["examples_kept"] == len(b.examples) < b.subsample["examples"]
    again = prepare_data(_cfg(large, two_corpora, repeats=3))  # repeats see that same subsample
    assert [e.ids.tolist() for e in again.examples] == [e.ids.tolist() for e in b.examples]
    other = prepare_data(_cfg(large, two_corpora, seed=1))  # another seed, another subsample
    assert [e.ids.tolist() for e in other.examples] != [e.ids.tolist() for e in b.examples]
    assert prepare_data(_cfg(large, two_corpora, budget_tokens=100)).subsample["tokens_kept"] <= 100


def test_subsample_is_a_seeded_prefix_within_the_budget():
    lengths = np.arange(1, 101)
    idx = subsample(lengths, 500, seed=3)
    assert lengths[idx].sum() <= 500 and np.array_equal(idx, np.sort(idx))
    assert np.array_equal(idx, subsample(lengths, 500, seed=3)) and not np.array_equal(idx, subsample(lengths, 500, 4))
    assert subsample(np.array([50, 60]), 10, seed=0).size == 1  # never empty
    with pytest.raises(EspladeError, match="budget must be >= 1"):
        subsample(lengths, 0, seed=0)


def test_bad_budgets_are_refused():
    with pytest.raises(EspladeError, match="budget must be one of passes, tokens"):
        PretrainConfig(budget="words")
    with pytest.raises(EspladeError, match="steps=5 with budget='tokens'"):
        PretrainConfig(budget="tokens", steps=5)


@pytest.mark.slow
def test_repeats_multiply_the_same_token_budget(two_corpora, tmp_path):
    small_model = tmp_path / "small.json"
    small_model.write_text(json.dumps({"num_hidden_layers": 1, "hidden_size": 32, "num_attention_heads": 2,
                                       "intermediate_size": 64, "max_position_embeddings": 64}))
    small, large = two_corpora

    def state(corpus, repeats):
        cfg = _cfg(corpus, two_corpora, repeats=repeats, preset=str(small_model), threads=2, log_every=1000)
        out = pretrain(cfg, tmp_path / f"{Path(corpus).stem}-r{repeats}")
        return json.loads((out / "training_state.json").read_text(encoding="utf-8"))

    a, b1, b3 = state(small, 1), state(large, 1), state(large, 3)
    assert a["budget"]["unit"] == b1["budget"]["unit"] == "tokens"
    assert b1["tokens_seen"] == b1["budget"]["subsample"]["tokens_kept"] <= a["tokens_seen"]
    assert a["tokens_seen"] - b1["tokens_seen"] < 32  # the same tokens per repeat, within one example
    assert b3["tokens_seen"] == 3 * b1["tokens_seen"] and b3["steps"] == 3 * b1["steps"]
    assert b3["budget"]["subsample"] == b1["budget"]["subsample"]


def test_the_summary_says_how_the_budget_was_set():
    from esplade_eval.study.config import load_config
    from esplade_eval.study.render import budget_note

    root = Path(__file__).resolve().parent.parent / "configs"
    tokens = load_config(root / "semanlink-cpu.toml")
    assert all(a.pretrain["budget"] == "tokens" for a in tokens.arms)
    assert budget_note(tokens).startswith("Budget in tokens: every arm sees the same tokens per repeat")
    assert budget_note(load_config(root / "smoke.toml")).startswith("Budget in passes")
