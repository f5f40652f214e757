"""The expanded output vocabulary and the bundled pre-training corpora (real text)."""

import random

import pytest

from esplade_eval.data.corpora import is_heldout, iter_texts, load_corpus, strip_wiki, words
from esplade_eval.errors import EspladeError
from esplade_eval.train.vocab import build_vocab, count_words, read_vocab, top_words, write_vocab


def test_normalisation_nfkc_lowercase_letter_digit_runs():
    assert words("ﬁle ＡＢＣ Deep-Learning_2024 «Café»") == ["file", "abc", "deep", "learning", "2024", "café"]
    assert words("!!! ... ---") == []


def test_vocab_order_is_count_desc_then_word_asc():
    texts = ["b a", "a b", "c", "d d d"]
    assert build_vocab(texts, 10) == ["d", "a", "b", "c"]
    assert build_vocab(texts, 2) == ["d", "a"]
    assert build_vocab(texts, 10, min_count=2) == ["d", "a", "b"]
    with pytest.raises(EspladeError):
        build_vocab(texts, 0)


def test_vocab_is_deterministic_on_real_titles():
    titles = list(iter_texts("semanlink"))[:3000]
    first = build_vocab(titles, 2000)
    shuffled = titles[:]
    random.Random(7).shuffle(shuffled)
    assert build_vocab(shuffled, 2000) == first
    assert len(first) == 2000 and len(set(first)) == 2000
    counts = count_words(titles)
    assert all(counts[a] >= counts[b] for a, b in zip(first, first[1:]))
    assert first[0] == "the"


def test_write_read_round_trip_and_rejections(tmp_path):
    vocab = top_words(count_words(["semantic web", "web of data", "linked data web"]), 5)
    write_vocab(tmp_path, vocab, {"corpora": ["inline"]})
    assert read_vocab(tmp_path) == vocab == ["web", "data", "linked", "of", "semantic"]
    assert (tmp_path / "output_vocab.txt").read_text(encoding="utf-8") == "".join(w + "\n" for w in vocab)
    from esplade_eval.model.encoder import read_output_vocab

    assert read_output_vocab(tmp_path / "output_vocab.txt") == vocab  # what the encoder reads
    with pytest.raises(EspladeError, match="duplicate"):
        write_vocab(tmp_path / "x", ["a", "a"])
    with pytest.raises(EspladeError, match="whitespace"):
        write_vocab(tmp_path / "y", ["a b"])
    with pytest.raises(EspladeError, match="no output vocabulary"):
        read_vocab(tmp_path / "missing")


def test_cli_vocab_twice_gives_identical_files(tmp_path):
    from esplade_eval.cli import main

    corpus = tmp_path / "lee.txt"
    corpus.write_text("\n".join(list(iter_texts("lee"))[:100]) + "\n", encoding="utf-8")
    for out in ("v1", "v2"):
        assert main(["vocab", "--corpus", str(corpus), "titles", "--size", "3000", "--out", str(tmp_path / out)]) == 0
    a = (tmp_path / "v1" / "output_vocab.txt").read_bytes()
    assert a == (tmp_path / "v2" / "output_vocab.txt").read_bytes()
    assert len(a.decode().splitlines()) == 3000


def test_bundled_corpora_counts_and_samples():
    sem = load_corpus("semanlink")
    assert len(sem.train) + len(sem.heldout) == 7300 - 61  # empty titles skipped
    assert sem.train[1] == "Document analysis with machine learning"
    films = load_corpus("films")
    assert len(films.train) + len(films.heldout) == 17472
    assert films.train[0] == "We Live in Public"
    lee = load_corpus("lee")
    assert len(lee.train) + len(lee.heldout) == 300
    wiki = load_corpus("wiki")
    assert wiki.train[0].startswith("Anarchism is a political philosophy")
    assert not any("[[" in t or "{{" in t or "<ref" in t for t in wiki.train)
    for c in (sem, films, lee, wiki):
        assert all(is_heldout(t) for t in c.heldout) and not any(is_heldout(t) for t in c.train[:500])
        assert 0.02 < len(c.heldout) / (len(c.train) + len(c.heldout)) < 0.09


def test_strip_wiki_markup():
    text = ("{{Infobox|a={{nested}}}}'''Lyon''' is a [[city]] in [[France|French]] land.<ref name=x>cite</ref>"
            "[[File:Lyon.jpg|thumb|a [[view]]]] See [http://example.org the site].\n{| class=t\n|x\n|}\n== History ==")
    assert strip_wiki(text) == "Lyon is a city in French land. See the site.\n\nHistory"


def test_unknown_corpus_is_a_clear_error():
    with pytest.raises(EspladeError, match="neither a bundled corpus"):
        load_corpus("no-such-corpus")


def test_evaluation_documents_in_the_bundled_corpora(semanlink):
    from esplade_eval.train.texts import EvalDocs, text_key, training_corpora

    docs = EvalDocs.read(["semanlink"])
    # the bundled name, the built collection folder and its corpus.jsonl name the same documents
    assert docs.keys == EvalDocs.read([str(semanlink.root)]).keys == EvalDocs.read([str(semanlink.corpus)]).keys
    assert 7000 < len(docs.keys) <= 7300 - 61  # distinct non-empty titles
    corpora = {c.name: c for c in training_corpora(["titles", "semanlink", "films", "lee"], docs)}
    sem, films = load_corpus("semanlink"), load_corpus("films")
    assert docs.dropped["semanlink"] == len(sem.train) and corpora["semanlink"].train == []
    assert docs.dropped["titles"] == docs.dropped["semanlink"]  # titles = the collection's titles (films apart)
    assert load_corpus("titles").train == sem.train
    assert 0 < docs.dropped["films"] < 100 and docs.dropped["lee"] == 0  # Semanlink bookmarks some films
    assert "The Big Lebowski" in films.train and "The Big Lebowski" not in corpora["films"].train
    assert len(corpora["films"].train) + docs.dropped["films"] == len(films.train)
    assert corpora["films"].heldout == films.heldout  # held-out texts are never trained on: not filtered
    assert not any(text_key(t) in docs.keys for c in corpora.values() for t in c.train)
    assert docs.record()["dropped_total"] == sum(docs.dropped.values())


def test_cli_vocab_keeps_evaluation_documents_out_unless_allowed(tmp_path, capsys):
    import json

    from esplade_eval.cli import main

    out = tmp_path / "v"
    assert main(["vocab", "--corpus", "semanlink", "--size", "100", "--out", str(out)]) == 2
    assert "evaluation documents are dropped (--allow-eval-docs keeps them)" in capsys.readouterr().err
    assert not out.exists()
    assert main(["vocab", "--corpus", "semanlink", "--size", "100", "--allow-eval-docs", "--out", str(out)]) == 0
    meta = json.loads((out / "output_vocab.json").read_text(encoding="utf-8"))
    assert meta["eval_docs"]["excluded"] is False and len(read_vocab(out)) == 100
    assert main(["vocab", "--corpus", "titles", "films", "--size", "100", "--out", str(tmp_path / "t")]) == 0
    meta = json.loads((tmp_path / "t" / "output_vocab.json").read_text(encoding="utf-8"))
    assert meta["eval_docs"]["sources"] == ["semanlink"]
    assert meta["eval_docs"]["dropped_texts"]["titles"] == len(load_corpus("semanlink").train)  # every title
    assert 0 < meta["eval_docs"]["dropped_texts"]["films"] < 100


def _strip_nested_by_character(text, open_, close):
    """The reference: one character at a time (the implementation jumps with str.find)."""
    out, depth, i = [], 0, 0
    while i < len(text):
        if text.startswith(open_, i):
            depth, i = depth + 1, i + len(open_)
        elif depth and text.startswith(close, i):
            depth, i = depth - 1, i + len(close)
        else:
            out.append(text[i] if not depth else "")
            i += 1
    return "".join(out)


def test_strip_nested_equals_the_character_loop():
    import random

    from esplade_eval.data.corpora import _strip_nested

    rng = random.Random(0)
    cases = ["".join(rng.choice("{}|ab") for _ in range(rng.randint(0, 30))) for _ in range(5000)]
    cases += ["{{a|{{b}}}} text {| table |} {{unclosed", "}} lone close {{x}}", "{|}|}{|"]
    for text in cases:
        for open_, close in (("{{", "}}"), ("{|", "|}")):
            assert _strip_nested(text, open_, close) == _strip_nested_by_character(text, open_, close), text
