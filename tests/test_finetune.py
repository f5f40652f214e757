"""Retrieval fine-tuning on the real Semanlink train split: loss, validation, inits, negatives."""

import json

import pytest
import torch

from esplade_eval.errors import EspladeError, InputError
from esplade_eval.train.finetune import FinetuneConfig, contrastive_loss, finetune, flops, semanlink_pairs, tsv_pairs

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    from esplade_eval.data.semanlink import ensure_semanlink

    return ensure_semanlink(tmp_path_factory.mktemp("data") / "semanlink")


def test_flops_and_contrastive_loss_values():
    w = torch.tensor([[1.0, 0.0, 2.0], [3.0, 0.0, 0.0]])
    assert flops(w).item() == pytest.approx(2.0 ** 2 + 0 + 1.0 ** 2)
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    d = torch.tensor([[5.0, 0.0], [0.0, 5.0]])
    assert contrastive_loss(q, d).item() == pytest.approx(torch.log1p(torch.exp(torch.tensor(-5.0))).item())
    mask = torch.tensor([[False, True], [False, False]])  # doc 1 is relevant to query 0 too: not a negative
    assert contrastive_loss(q, d.flip(0), mask).item() > 1.0


def test_exact_search_ranks_by_score_then_docid():
    import numpy as np

    from esplade_eval.sparse.vectors import SparseBatch
    from esplade_eval.train.validation import Split, evaluate_encoder, exact_search

    docs = SparseBatch.from_dense(np.array([[2, 0, 1], [0, 3, 0], [2, 0, 1], [0, 0, 0]], dtype=np.int32))
    queries = SparseBatch.from_dense(np.array([[1, 0, 1], [0, 0, 0]], dtype=np.int32))
    run = exact_search(queries, docs, 3, ["q1", "q2"], ["dz", "dy", "dx", "dw"], k=10)
    assert list(run["q1"].items()) == [("dx", 3.0), ("dz", 3.0)]  # tie broken by docid; zero scores left out
    assert run["q2"] == {}

    class StubEncoder:  # fixed vectors per text: the run is q1 -> dx, dz (dy unretrieved); q2 -> nothing
        terms = ["a", "b", "c"]
        vectors = {"x": [3, 0, 0], "z": [0, 2, 0], "y": [0, 0, 1], "query one": [1, 1, 0], "query two": [0, 0, 0]}

        def encode(self, texts):
            return SparseBatch.from_dense(np.array([self.vectors[t] for t in texts], dtype=np.float32))

    split = Split(["dx", "dy", "dz"], ["x", "y", "z"], {"q1": "query one", "q2": "query two"},
                  {"q1": {"dx": 2, "dy": 1}, "q2": {"dy": 2}})
    res = evaluate_encoder(StubEncoder(), split, measures=("nDCG@10", "RR@10"))
    assert list(res["run"]["q1"]) == ["dx", "dz"] and res["run"]["q2"] == {}
    scores = res["per_query"]["nDCG@10"]
    assert scores["q2"] == 0.0  # no hits: scored 0, not dropped
    assert 0.7 < scores["q1"] < 0.8  # the grade-1 document is not retrieved
    # the same values as the evaluation harness, means over every query of the qrels
    from esplade_eval.evaluate import evaluate

    harness = evaluate(split.qrels, {"r": res["run"]}, ["nDCG@10", "RR@10"]).per_query("r")
    for m in ("nDCG@10", "RR@10"):
        assert res["per_query"][m] == harness[m].to_dict()
        assert res["aggregate"][m] == pytest.approx(sum(res["per_query"][m].values()) / 2)
    assert res["aggregate"]["RR@10"] == pytest.approx(0.5)


def test_training_code_leaves_lucene_to_the_lucene_layer():
    from pathlib import Path

    import esplade_eval.train

    for path in Path(esplade_eval.train.__file__).parent.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "pyserini" not in text and "jnius" not in text and "subprocess" not in text, path.name


def test_pairs_come_from_the_train_split_only(collection):
    pairs, qrels = semanlink_pairs(collection, "train")
    from esplade_eval.data.trec import read_topics

    train, test = read_topics(collection.topics("train")), read_topics(collection.topics("test"))
    assert {p[0] for p in pairs} <= set(train) and not ({p[0] for p in pairs} & set(test))
    assert all(qrels[qid][did] == 2 and title for qid, _, did, title in pairs)
    assert len(pairs) > 5000


def test_tsv_pairs_and_errors(tmp_path):
    f = tmp_path / "pairs.tsv"
    f.write_text("semantic web\tLinked Data: the story so far\nnlp\tAttention is all you need\n")
    pairs, qrels = tsv_pairs(f)
    assert pairs[0] == ("semantic web", "semantic web", "Linked Data: the story so far", "Linked Data: the story so far")
    assert qrels["nlp"] == {"Attention is all you need": 2}
    f.write_text("ok\tfine\nno tab here\n")
    with pytest.raises(InputError, match=r"pairs.tsv:2"):
        tsv_pairs(f)


def test_random_init_needs_a_vocabulary(collection):
    with pytest.raises(EspladeError, match="needs --vocab"):
        finetune(FinetuneConfig(init="random", collection=str(collection.root), steps=1), "/nonexistent/x")


@pytest.mark.slow
def test_finetuning_splade_tiny_lowers_the_loss(collection, tmp_path):
    cfg = FinetuneConfig(init="splade-tiny", collection=str(collection.root), steps=12, batch_size=16, lr=2e-4,
                         validate=False, threads=2, progress=False, log_every=4)
    out = finetune(cfg, tmp_path / "ft")
    state = json.loads((out / "finetune_state.json").read_text())
    assert state["probe_loss_after"] < state["probe_loss_before"]
    assert not (out / "output_vocab.txt").exists()  # a SPLADE checkpoint keeps its WordPiece head
    from esplade_eval.model.encoder import SpladeEncoder

    enc = SpladeEncoder.from_checkpoint(out)
    assert enc.info.vocab_size == 30522 and enc.info.vocab_source == "tokenizer"
    assert state["flops_schedule"]["warmup_steps"] == 6


@pytest.mark.slow
def test_random_esplade_with_validation_keeps_best(collection, tmp_path):
    from esplade_eval.data.corpora import iter_texts
    from esplade_eval.train.vocab import build_vocab, write_vocab

    write_vocab(tmp_path / "vocab", build_vocab(iter_texts("semanlink"), 2000))
    cfg = FinetuneConfig(init="random", vocab=str(tmp_path / "vocab"), collection=str(collection.root), steps=6,
                         batch_size=16, lr=1e-3, eval_every=3, threads=2, progress=False, train_topk_d=32)
    out = finetune(cfg, tmp_path / "ft")
    state = json.loads((out / "finetune_state.json").read_text())
    assert [d["step"] for d in state["dev"]] == [0, 3, 6]
    assert all(0.0 <= d["nDCG@10"] <= 1.0 for d in state["dev"])
    best = max(state["dev"][1:], key=lambda d: d["nDCG@10"])
    assert state["best"] == {"step": best["step"], "nDCG@10": best["nDCG@10"]}
    assert state["probe_loss_after"] < state["probe_loss_before"]
    assert (out / "output_vocab.txt").read_text().count("\n") == 2000
    assert state["dev"][0]["queries"] > 100 and state["dev"][0]["documents"] == 7300


@pytest.mark.slow
def test_bm25_hard_negatives_are_not_relevant(collection):
    from esplade_eval.train.negatives import bm25_negatives

    pairs, qrels = semanlink_pairs(collection, "train")
    queries = {qid: q for qid, q, _, _ in pairs[:400]}
    neg = bm25_negatives(collection, queries, qrels, depth=20)
    assert set(neg) == set(queries)
    assert sum(len(v) for v in neg.values()) > 3 * len(queries)
    for qid, docs in neg.items():
        assert not any(qrels[qid].get(d, 0) > 0 for d in docs)
        assert len(docs) == len(set(docs)) <= 20


@pytest.mark.slow
def test_cli_finetune_from_a_user_tsv(tmp_path, collection, capsys):
    from esplade_eval.cli import main

    pairs, _ = semanlink_pairs(collection, "train")
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("".join(f"{q}\t{t}\n" for _, q, _, t in pairs[::50]), encoding="utf-8")
    out = tmp_path / "ft"
    assert main(["finetune", "--init", "splade-tiny", "--train", str(tsv), "--collection", str(collection.root),
                 "--steps", "2", "--batch-size", "8", "--no-validate", "--threads", "2", "--quiet",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert '"steps": 2' in printed and '"best": "no validation (--no-validate)' in printed and "-1.0" not in printed
    state = json.loads((out / "finetune_state.json").read_text())
    assert state["train_source"] == str(tsv) and state["dev"] == []
    assert state["best"] == {"step": None, "nDCG@10": None}  # no value rather than a -1.0 sentinel


def test_validation_shows_documents_and_queries_encoded(splade_tiny, capsys):
    from esplade_eval.train.validation import Split, evaluate_encoder

    split = Split(["d1", "d2", "d3"], ["semantic web ontologies", "boiling point of water", "film noir"],
                  {"q1": "semantic web"}, {"q1": {"d1": 2}})
    res = evaluate_encoder(splade_tiny, split, progress=True)
    err = capsys.readouterr().err
    assert "validate: documents" in err and "0/3" in err  # a bar over the documents
    assert "validate: queries" in err and "0/1" in err  # and one over the queries
    assert next(iter(res["run"]["q1"])) == "d1"
    evaluate_encoder(splade_tiny, split)
    assert "validate:" not in capsys.readouterr().err  # quiet unless asked


@pytest.mark.slow
def test_same_seed_same_finetuned_checkpoint(tmp_path, collection):
    from esplade_eval.model.checkpoint import checkpoint_hash

    pairs, _ = semanlink_pairs(collection, "train")
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("".join(f"{q}\t{t}\n" for _, q, _, t in pairs[::40]), encoding="utf-8")

    def run(name, seed):
        cfg = FinetuneConfig(init="splade-tiny", train=str(tsv), collection=str(collection.root), steps=2,
                             batch_size=8, validate=False, seed=seed, threads=2, progress=False)
        return checkpoint_hash(finetune(cfg, tmp_path / name))

    assert run("a", 1) == run("b", 1) != run("c", 2)
