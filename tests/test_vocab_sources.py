"""The study's output vocabulary: its sources (the corpora, the collection's unlabelled document
text), the coverage of every split's queries in the vocab stage's outputs, the results section,
and the committed config's coverage of the real Semanlink test queries."""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path

import pytest

from esplade_eval.data import collection_text
from esplade_eval.data.collection import Collection
from esplade_eval.errors import InputError
from esplade_eval.study.config import ConfigError, load_config
from esplade_eval.study.stages import vocab as vocab_stage
from esplade_eval.study.stages.base import Inputs
from esplade_eval.study.vocabulary import section, vocabulary_sentence

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def tiny_collection(tmp_path) -> Collection:
    """Two documents (one with a title); the test split fully covered by their text, train 1 of 2 tokens."""
    root = tmp_path / "tiny"
    root.mkdir()
    rows = [{"id": "a", "title": "Knowledge graphs", "contents": "RDF triples"}, {"id": "b", "contents": "SPARQL"}]
    (root / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (root / "topics.test.tsv").write_text("q1\tRDF graphs\nq2\tsparql triples\n", encoding="utf-8")
    (root / "topics.train.tsv").write_text("q3\tbert knowledge\n", encoding="utf-8")
    return Collection(root)


def run_vocab(collection, tmp_path, **params) -> vocab_stage.Outputs:
    base = dict(corpora=[], size=100, min_count=1, exclude_eval_docs=["collection"], sources=("collection",))
    return vocab_stage.run(vocab_stage.Params(**{**base, **params}), Inputs(tmp_path / "out", collection))


def test_the_collection_text_is_a_vocabulary_source_with_its_coverage(tiny_collection, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        out = run_vocab(tiny_collection, tmp_path)
    words = (tmp_path / "out" / out.vocab).read_text(encoding="utf-8").split()
    assert sorted(words) == ["graphs", "knowledge", "rdf", "sparql", "triples"]  # titles and contents
    assert out.collection_text["texts"] == 3 and out.collection_text["tokens"] == 5
    test, train = out.coverage["test"], out.coverage["train"]
    assert (test["share"], test["queries_without_a_word"]) == (1.0, 0) and test["warning"] is None
    assert (train["share"], train["queries_without_a_word"]) == (0.5, 0) and "under 90%" in train["warning"]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [f"output vocabulary: {train['warning']}"]  # the train split only


def test_corpora_alone_leave_the_collection_text_out(tiny_collection, tmp_path):
    corpus = tmp_path / "news.txt"
    corpus.write_text("rdf news today\nnlp news\n", encoding="utf-8")
    out = run_vocab(tiny_collection, tmp_path, corpora=[str(corpus)], sources=("corpora",))
    words = set((tmp_path / "out" / out.vocab).read_text(encoding="utf-8").split())
    assert words == {"rdf", "news", "today", "nlp"} and out.collection_text is None
    assert out.coverage["test"]["share"] == 0.25 and out.coverage["test"]["queries_without_a_word"] == 1
    both = run_vocab(tiny_collection, tmp_path / "both", corpora=[str(corpus)], sources=("corpora", "collection"))
    assert both.size == 8 and both.coverage["test"]["share"] == 1.0


def test_the_results_section_names_sizes_sources_and_coverage(tiny_collection, tmp_path):
    out = run_vocab(tiny_collection, tmp_path)
    found = section(out)
    assert found["size"] == 5 and found["sources"]["collection_text"] is True
    assert "unlabelled document text" in found["sources"]["declared"]
    assert (found["test_query_token_coverage"], found["test_queries_without_a_word"]) == (1.0, 0)
    assert found["train_query_token_coverage"] == 0.5 and list(found)[:4] == ["size", "min_count", "sources",
                                                                              "test_query_token_coverage"]
    sentence = vocabulary_sentence(found)
    assert "5 words" in sentence and "100.0% of the test query tokens" in sentence and "train 50.0%" in sentence
    assert sentence.endswith("**Warning**: query token coverage under 90% in train (results.json "
                             "`vocabulary.coverage`).")


def test_a_malformed_corpus_line_is_named(tmp_path):
    (tmp_path / "corpus.jsonl").write_text('{"id": "a", "contents": "x"}\n{"id": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"corpus.jsonl:2: malformed JSON"):
        list(collection_text.document_texts(tmp_path))


def test_semanlink_text_is_every_title_and_comment(semanlink, semanlink_small):
    from esplade_eval.data.semanlink import load_raw

    docs, _ = load_raw()
    texts = list(collection_text.document_texts(semanlink))
    fields = [" ".join(str(d.get(k) or "").split()) for d in docs for k in ("title", "comment")]
    assert texts == [t for t in fields if t] and len(texts) > len(docs)  # comments add text
    assert collection_text.is_semanlink(semanlink) and not collection_text.is_semanlink(semanlink_small)
    assert "comment" in collection_text.describe(semanlink)["fields"]


def test_a_semanlink_subset_keeps_its_own_documents_text(semanlink, tmp_path):
    from esplade_eval.data.semanlink import doc_id, load_raw

    subset = tmp_path / "first50"
    subset.mkdir()
    lines = semanlink.corpus.read_text(encoding="utf-8").splitlines(keepends=True)[:50]
    (subset / "corpus.jsonl").write_text("".join(lines), encoding="utf-8")
    (subset / "stats.json").write_text("{}", encoding="utf-8")  # as a subset of the study's is marked
    ids = {json.loads(line)["id"] for line in lines}
    docs = [d for d in load_raw()[0] if doc_id(d["document"]) in ids]
    fields = [" ".join(str(d.get(k) or "").split()) for d in docs for k in ("title", "comment")]
    assert len(docs) == 50 and list(collection_text.document_texts(subset)) == [t for t in fields if t]


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_vocab_sources_are_checked_and_default_to_the_corpora(tmp_path):
    base = ('[pretrain]\ninit_encoder = "splade-tiny"\n[grid]\ncorpus = ["general"]\nlr = [1e-3]\n'
            '[evaluation]\nlevels = ["full", "d8-q4"]\nstrictest = "d8-q4"\n')
    assert load_config(write(tmp_path, base)).vocab["sources"] == ["corpora"]
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, base + '[vocab]\nsources = ["corpora", "queries"]\n'))
    assert ("vocab.sources[1]", "'queries': expected one of 'corpora', 'collection'") in info.value.problems
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, base.replace('"splade-tiny"', '"splade-tiny"\nbudget = "words"')))
    assert any(k == "pretrain.budget" and "'words'" in p for k, p in info.value.problems)


def test_the_committed_config_covers_95_percent_of_the_test_queries(semanlink, tmp_path):
    """configs/semanlink-cpu.toml's vocabulary stage, run as the study runs it, on the real collection."""
    from esplade_eval.study.plan import build_plan

    cfg = load_config(ROOT / "configs" / "semanlink-cpu.toml", work=tmp_path / "work")
    assert {tuple(c) for a in cfg.arms for c in a.pretrain["budget_corpora"]} == {("general",), ("titles",)}
    plan = build_plan(cfg, None)
    no_mlm = plan.find("pretrain", "esplade-no-mlm", seed=cfg.seeds[0])
    assert no_mlm.params["budget"] == "passes" and no_mlm.params["steps"] == 0
    out = vocab_stage.run(vocab_stage.Params.of(plan.of_kind("vocab")[0].params), Inputs(tmp_path / "v", semanlink))
    assert out.size == 30000 and out.sources == ["corpora", "collection"]
    assert out.coverage["test"]["share"] >= 0.95 and out.coverage["test"]["warning"] is None
    assert out.coverage["test"]["queries_without_a_word"] <= 10
