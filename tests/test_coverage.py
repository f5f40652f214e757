"""Query coverage of an expanded output vocabulary: small inline inputs, then real Semanlink topics."""

from __future__ import annotations

import pytest

from esplade_eval.data.corpora import words
from esplade_eval.errors import EspladeError
from esplade_eval.train.coverage import collection_coverage, query_coverage


def test_tokens_are_counted_as_the_vocabulary_builder_counts_them():
    # NFKC, lowercase, letter/digit runs: "ﬁle" is "file", "Café!" is "café", "_" and "-" split words
    cov = query_coverage(["file", "café", "deep", "learning"], {"a": "ﬁle CAFÉ!", "b": "Deep-Learning_2024",
                                                                "c": "deep deep"})
    assert (cov.tokens, cov.covered_tokens) == (7, 6)
    assert cov.share == pytest.approx(6 / 7) and cov.missing == (("2024", 1),)
    assert cov.without_a_word == () and (cov.distinct, cov.distinct_covered) == (5, 4)


def test_queries_without_a_word_and_empty_queries():
    cov = query_coverage(["web"], {"q2": "semantic web", "q1": "RDF", "q3": "!!!", "q4": "NLP nlp"}, split="dev")
    assert cov.without_a_word == ("q1", "q3", "q4") and cov.queries_without_a_word == 3
    assert cov.empty == ("q3",) and cov.queries == 4
    assert cov.missing == (("nlp", 2), ("rdf", 1), ("semantic", 1))
    assert cov.fields() == {"dev_query_token_coverage": 0.2, "dev_queries_without_a_word": 3}
    assert cov.warning.startswith("dev query token coverage 20.0% (1 of 5 tokens) is under 90%: 3 of 4 queries")
    assert cov.describe()[-1] == f"warning: {cov.warning}"
    assert cov.to_dict()["missing"][0] == {"word": "nlp", "count": 2}


def test_the_warning_starts_under_the_threshold():
    topics = {str(i): f"w{i}" for i in range(10)}
    nine = [f"w{i}" for i in range(9)]
    assert query_coverage(nine, topics).share == 0.9 and query_coverage(nine, topics).warning is None
    assert query_coverage(nine[:8], topics).warning is not None
    assert query_coverage(nine, topics, threshold=0.95).warning is not None
    assert query_coverage(["x"], {"q": "!!!"}).share is None and query_coverage(["x"], {"q": ""}).warning is None


def test_bad_arguments_are_refused():
    with pytest.raises(EspladeError, match="vocabulary is empty"):
        query_coverage([], {"q": "a"})
    with pytest.raises(EspladeError, match="threshold"):
        query_coverage(["a"], {"q": "a"}, threshold=0)


def test_the_real_vocabulary_misses_the_semanlink_test_queries(semanlink):
    """The study's vocabulary recipe (10,000 words, min count 2, general + titles, evaluation
    documents kept out) against the real test topics: the coverage problem issue 21 reports."""
    from esplade_eval.train.vocab import vocab_from_corpora

    vocab, _ = vocab_from_corpora(["general", "titles"], 10000, min_count=2)
    report = collection_coverage(vocab, semanlink, ["test"])["test"]
    topics = semanlink.read_topics("test")
    known = set(vocab)
    tokens = [w for text in topics.values() for w in words(text)]
    assert report.tokens == len(tokens) and report.covered_tokens == sum(w in known for w in tokens)
    assert report.queries_without_a_word == sum(not any(w in known for w in words(t)) for t in topics.values())
    assert report.share < 0.9 and "under 90%" in report.warning
    assert {"nlp", "rdf", "google"} <= {w for w, _ in report.missing}
    with pytest.raises(EspladeError, match="no split 'nope'"):
        collection_coverage(vocab, semanlink, ["nope"])
