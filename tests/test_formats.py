"""Readers of the formats users hold: detected from the content or named, errors with file and line."""

import gzip
import json

import pytest

from esplade_eval.data.formats import detect, read_corpus, read_qrels, read_topics
from esplade_eval.errors import InputError


def write(tmp_path, name, text, gz=False):
    path = tmp_path / name
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


ROBUST_STYLE = """<top>

<num> Number: 301
<title> International Organized Crime: a survey

<desc> Description:
Identify organizations that participate in international
criminal activity.

<narr> Narrative:
A relevant document must as a minimum identify the organization.
</top>


<top>
<num> Number: 302
<title>
Poliomyelitis and Post-Polio
<desc> Description: Is the disease coming back?
<narr> Narrative: Relevant documents report cases.
</top>
"""

def test_trec_topics_title_or_title_and_description(tmp_path):
    path = write(tmp_path, "topics.301-302.txt", ROBUST_STYLE)
    assert read_topics(path) == {"301": "International Organized Crime: a survey",  # a colon in a title is kept
                                 "302": "Poliomyelitis and Post-Polio"}           # a title on the next line
    both = read_topics(path, fields=["title", "description"])
    assert both["301"] == ("International Organized Crime: a survey Identify organizations that participate in "
                           "international criminal activity.")
    assert both["302"] == "Poliomyelitis and Post-Polio Is the disease coming back?"
    assert detect(path, "topics", fields=["title", "description"]).describe() == "TREC topics, title + description"


def test_trec_topics_with_inline_closing_tags(tmp_path):
    """FIRE and Core 2018 topics close every tag on the same line; <top> may carry attributes."""
    text = ("<top lang='en'>\n<num>176</num>\n<title>Nobel prize winners</title>\n"
            "<desc>Find winners of the Nobel prize.</desc>\n<narr>Any year.</narr>\n</top>\n")
    assert read_topics(write(tmp_path, "fire.txt", text), fields=["title", "description"]) == {
        "176": "Nobel prize winners Find winners of the Nobel prize."}


@pytest.mark.parametrize("text, line, problem", [
    ("<top>\n<num> Number: 1\n<title> a\n", 1, "topic not closed by </top>"),
    ("<top>\n<num> Number: 1\n<title> a\n</top>\nstray words\n", 5, "text outside <top> ... </top>"),
    ("<top>\n<num> Number: 1\n<title> a\n</top>\n<top>\n<num> Number: 1\n<title> b\n</top>\n", 5,
     "duplicate query id '1'"),
    ("<top>\n<title> a\n</top>\n", 1, "topic without <num>"),
    ("<top>\n<num> Number: 1\n<title> a\n<top>\n", 4, "<top> inside the topic opened on line 1"),
    ("<top>\n<num> Number: 1\n<title> a\n<title> b\n</top>\n", 4, "a second <title>"),
])
def test_trec_topic_errors(tmp_path, text, line, problem):
    path = write(tmp_path, "t.txt", text)
    with pytest.raises(InputError, match=problem) as err:
        read_topics(path)
    assert err.value.line == line and str(err.value).startswith(f"{path}:{line}: ")


def test_trec_description_asked_but_absent(tmp_path):
    path = write(tmp_path, "t.txt", "<top>\n<num> Number: 7\n<title> a\n</top>\n")
    assert read_topics(path) == {"7": "a"}
    with pytest.raises(InputError, match="topic 7 has no <desc>"):
        read_topics(path, fields=["title", "description"])
    with pytest.raises(InputError, match="TREC topic fields are title, description, narrative"):
        read_topics(path, fields=["body"])


@pytest.mark.parametrize("lines, described", [
    ([{"id": "q1", "title": "semantic web"}, {"id": "q2", "title": "rdf"}], "id 'id', text 'title'"),
    ([{"qid": "q1", "query": "semantic web"}, {"qid": "q2", "query": "rdf"}], "id 'qid', text 'query'"),
    ([{"_id": "q1", "text": "semantic web", "metadata": {}}, {"_id": "q2", "text": "rdf", "metadata": {}}],
     "id '_id', text 'text' (not read: metadata)"),
    # Pyserini's pre-encoded query file (what `export` writes and `--encoder queries.jsonl` reads)
    ([{"id": "q1", "contents": "semantic web", "vector": {"web": 3}}, {"id": "q2", "contents": "rdf", "vector": {}}],
     "id 'id', text 'contents' (not read: vector)"),
])
def test_jsonl_topic_forms(tmp_path, lines, described):
    path = write(tmp_path, "queries.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    assert read_topics(path) == {"q1": "semantic web", "q2": "rdf"}
    assert detect(path, "topics").describe() == "JSON lines, " + described


def test_tsv_topics_gzipped_whatever_the_name(tmp_path):
    path = write(tmp_path, "topics.dev.tsv", "1\tsemantic web \n2\trdf\n", gz=True)  # gzip without .gz
    assert read_topics(path) == {"1": "semantic web", "2": "rdf"}
    assert detect(path, "topics").describe() == "TSV qid<TAB>text, gzipped"
    plain = write(tmp_path, "named.gz", "1\tx\n")  # a .gz name does not make it gzip
    assert read_topics(plain) == {"1": "x"} and not detect(plain, "topics").gzip


def test_corpus_jsonl_text_fields_joined(tmp_path):
    lines = [{"id": "a", "title": "Deep", "contents": "learning"}, {"id": 7, "title": "", "contents": "only body"},
             {"id": "c", "title": "Only title", "contents": None}]
    path = write(tmp_path, "c.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    assert list(read_corpus(path)) == [("a", "learning"), ("7", "only body"), ("c", "")]
    assert detect(path, "corpus").describe() == "JSON lines, id 'id', text 'contents' (not read: title)"
    assert list(read_corpus(path, fields=["title", "contents"])) == [
        ("a", "Deep learning"), ("7", "only body"), ("c", "Only title")]
    assert list(read_corpus(path, fields=["title", "contents"], separator=". "))[0] == ("a", "Deep. learning")


def test_corpus_beir_and_missing_fields(tmp_path):
    path = write(tmp_path, "corpus.jsonl", '{"_id": "d1", "title": "T", "text": "body"}\n'
                                           '{"_id": "d2", "title": "U"}\n')
    with pytest.raises(InputError, match="no 'text' field") as err:
        list(read_corpus(path, fields=["title", "text"]))
    assert err.value.line == 2
    with pytest.raises(InputError, match="no id field among id, _id, docid .*name the id field"):
        list(read_corpus(write(tmp_path, "x.jsonl", '{"pid": 1, "contents": "x"}\n')))
    with pytest.raises(InputError, match="no text field among contents, text"):
        list(read_corpus(write(tmp_path, "y.jsonl", '{"id": 1, "body": "x"}\n')))
    assert list(read_corpus(write(tmp_path, "z.jsonl", '{"pid": 1, "body": "x"}\n'), id_field="pid",
                            fields=["body"])) == [("1", "x")]


def test_corpus_tsv_plain_and_gzipped(tmp_path):
    text = "d1\tDeep learning\nd2\t\nd3\tcolumns\tafter the first tab are text\n"
    for path in (write(tmp_path, "collection.tsv", text), write(tmp_path, "collection.tsv.gz", text, gz=True)):
        assert list(read_corpus(path)) == [("d1", "Deep learning"), ("d2", ""),
                                           ("d3", "columns\tafter the first tab are text")]
    with pytest.raises(InputError, match="expected 'id<TAB>text', found no tab") as err:
        list(read_corpus(write(tmp_path, "bad.tsv", "d1\tok\nd2 no tab\n")))
    assert err.value.line == 2


@pytest.mark.parametrize("text, kind, fmt, line, problem", [
    ("just some words\n", "corpus", None, 1, "cannot tell the corpus format .* name the format: jsonl, tsv"),
    ("\n\nwords only\n", "topics", None, 3, "cannot tell the topics format"),
    ('{"id": "a", "contents": "x"}\n', "corpus", "tsv", 1, "found no tab"),  # named explicitly: never re-guessed
    ("a\tb\n", "corpus", "csv", None, "unknown corpus format 'csv'"),
    ("\n \n", "corpus", None, None, "empty corpus file"),
    ('{"id": "a", "contents": "x"}\nnot json\n', "corpus", None, 2, "malformed JSON"),
    ('["a", "b"]\n', "topics", "jsonl", 1, "expected a JSON object, found list"),
    ("a b\tx\n", "topics", None, 1, "query id contains whitespace"),
    ('{"id": "a", "contents": "x"}\n{"id": "a", "contents": "y"}\n', "corpus", None, 2, "duplicate document id"),
    ("q1 0 d1\n", "qrels", "trec", 1, "expected 4 columns"),
    ("q1 d1\n", "qrels", None, 1, "cannot tell the qrels format: 2 columns"),
])
def test_bad_input_names_file_and_line(tmp_path, text, kind, fmt, line, problem):
    path = write(tmp_path, "input.txt", text)
    read = {"corpus": lambda: list(read_corpus(path, fmt)), "topics": lambda: read_topics(path, fmt),
            "qrels": lambda: read_qrels(path, fmt)}[kind]
    with pytest.raises(InputError, match=problem) as err:
        read()
    assert err.value.line == line and err.value.path == str(path)


def test_qrels_trec_and_beir(tmp_path):
    trec = write(tmp_path, "qrels.txt", "q1 0 d1 2\nq1 0 d2 0\nq2 Q0 d1 1\n")
    beir = write(tmp_path, "test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\nq2\td1\t1\n", gz=True)
    expected = {"q1": {"d1": 2, "d2": 0}, "q2": {"d1": 1}}
    assert read_qrels(trec) == read_qrels(beir) == expected
    assert detect(beir, "qrels").describe() == "TSV (BEIR) query-id<TAB>corpus-id<TAB>score, gzipped"
    with pytest.raises(InputError, match="relevance grade is not an integer: '0.5'") as err:
        read_qrels(write(tmp_path, "b.tsv", "q1\td1\t1\nq1\td2\t0.5\n"))
    assert err.value.line == 2


def test_a_byte_order_mark_is_not_part_of_the_first_id(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_bytes("\ufeffq1\tsemantic web\n".encode())
    assert read_topics(path) == {"q1": "semantic web"}
