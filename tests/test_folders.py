"""Any folder as a collection: BEIR and SMART folders (CISI, CACM, Cranfield layouts), written
inline in their real formats, read by ``--collection DIR``: counts, samples and errors."""

import json
import logging
import re
from pathlib import Path

import pytest

from esplade_eval.data.collection import load_collection
from esplade_eval.errors import EspladeError, InputError

CISI_ALL = """.I 1
.T
18 Editions of the Dewey Decimal Classifications
.A
Comaromi, J.P.
.W
   The present study is a history of the DEWEY Decimal
Classification.  The first edition of the DDC was published
in 1876.
.X
1\t5\t1
92\t1\t1
.I 2
.T
Use Made of Technical Libraries
.A
Slater, M.
.W
This report is an analysis of 6300 acts of use
in 104 technical libraries.
.X
2\t5\t2
.I 3
.T
Two Kinds of Power
An Essay on Bibliographic Control
.A
Wilson, P.
.W
The relationships between the organization and control of writings.
"""
CISI_QRY = """.I 1
.W
What problems and concerns are there in making up descriptive titles?
What difficulties are involved in automatically retrieving articles from
approximate titles?
.I 2
.W
How can actually pertinent data, as opposed to references or entire articles
themselves, be retrieved automatically in response to information requests?
.I 3
.T
Ciganik, M.
.A
Nevedecky, N.
.W
What is information science?  Give definitions where possible.
.B
(1969)
"""
CISI_REL = "     1     1\t0\t0.0\n     1     3\t0\t0.0\n     2     2\t0\t0.0\n"

CRAN_ALL = """.I 1
.T
experimental investigation of the aerodynamics of a
wing in a slipstream .
.A
brenckman,m.
.B
j. ae. scs. 25, 1958, 324.
.W
experimental investigation of the aerodynamics of a
wing in a slipstream .
.I 2
.T
simple shear flow past a flat plate in an incompressible fluid of small
viscosity .
.A
ting-yili
.B
department of aeronautical engineering, rensselaer polytechnic
institute
.W
simple shear flow past a flat plate in an incompressible fluid of small
viscosity .
.I 3
.T
the boundary layer in simple shear flow past a flat plate .
.A
m. b. glauert
.B
.W
the boundary-layer equations are presented for steady
incompressible flow with no pressure gradient .
"""
CRAN_QRY = """.I 001
.W
what similarity laws must be obeyed when constructing aeroelastic models
of heated high speed aircraft .
.I 002
.W
what are the structural and aeroelastic problems associated with flight
of high speed aircraft .
.I 004
.W
what problems of heat conduction in composite slabs have been solved so
far .
"""
CRAN_QREL = "1 2 2\n1 3 4\n1 1 -1\n3 3 1\n"  # queries numbered 1..N by position, as in cranqrel

CACM_ALL = """.I 1
.T
Preliminary Report-International Algebraic Language
.B
CACM December, 1958
.A
Perlis, A. J.
.N
CA581203 JB March 22, 1978  8:28 PM
.X
100\t5\t1
.I 2
.T
Extraction of Roots by Repeated Subtractions for Digital Computers
.W
A method of extracting roots.
.B
CACM December, 1958
"""
CACM_QRY = """.I 1
.W
 What articles exist which deal with TSS (Time Sharing System), an
operating system for IBM computers?
.N
 1. Richard Alexander, Comp Serv, Langmuir Lab (TSS)
.I 2
.W
 I am interested in articles written either by Prieve or Udo Pooch
"""
CACM_QRELS = "01 2  0 0\n01 1  0 0\n"


def write(folder, files: dict) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return str(folder)


def beir(folder, **extra) -> str:
    docs = [{"_id": "doc1", "title": "Semantic web", "text": "linked data on the web"},
            {"_id": "doc2", "title": "Node2vec", "text": "graph embeddings for nodes"},
            {"_id": "doc3", "title": "", "text": "boiling point of water"}]
    queries = [{"_id": "q1", "text": "linked data", "metadata": {}}, {"_id": "q2", "text": "node vectors"},
               {"_id": "q3", "text": "water"}, {"_id": "q4", "text": "never judged"}]
    files = {"corpus.jsonl": "".join(json.dumps(d) + "\n" for d in docs),
             "queries.jsonl": "".join(json.dumps(q) + "\n" for q in queries),
             "qrels/test.tsv": "query-id\tcorpus-id\tscore\nq1\tdoc1\t1\nq2\tdoc2\t2\nq2\tdoc1\t0\n",
             "qrels/dev.tsv": "query-id\tcorpus-id\tscore\nq3\tdoc3\t1\n"}
    return write(folder, files | extra)


def lines(col, name):
    return (col.root / name).read_text().splitlines()


def test_beir_folder_counts_and_samples(tmp_path):
    col = load_collection(beir(tmp_path / "scifact"), root=tmp_path / "prepared", echo=None)
    s = col.summary
    assert col.name == "scifact" and s["documents"] == 3 and col.splits == ("dev", "test")
    assert (s["splits"]["test"]["queries"], s["splits"]["test"]["judged_queries"], s["splits"]["test"]["relevant"]) \
        == (2, 2, 2)
    assert (s["splits"]["dev"]["queries"], s["splits"]["dev"]["judged_queries"]) == (1, 1)
    assert col.read_topics("test") == {"q1": "linked data", "q2": "node vectors"}  # the split's judged queries
    docs = dict(col.docs())
    assert docs["doc1"] == "Semantic web linked data on the web" and docs["doc3"] == "boiling point of water"
    assert col.read_qrels("test") == {"q1": {"doc1": 1}, "q2": {"doc2": 2, "doc1": 0}}


def test_cli_collection_prints_the_counts_of_a_beir_folder(tmp_path, capsys):
    from esplade_eval.cli import main

    assert main(["collection", "--collection", beir(tmp_path / "b"), "--root", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "collection b: 3 documents (0 empty)" in out
    assert "  test: 2 queries, 3 judgments (2 relevant) for 2 queries" in out
    assert "  dev: 1 queries, 1 judgments (1 relevant) for 1 queries" in out
    assert "each split's topics are the queries its qrels judge" in out


def test_cisi_folder_multiline_fields(tmp_path):
    folder = write(tmp_path / "cisi", {"CISI.ALL": CISI_ALL, "CISI.QRY": CISI_QRY, "CISI.REL": CISI_REL})
    col = load_collection(folder, root=tmp_path / "p", echo=None)
    docs = dict(col.docs())
    assert list(docs) == ["1", "2", "3"]
    assert docs["1"] == ("18 Editions of the Dewey Decimal Classifications The present study is a history of the "
                         "DEWEY Decimal Classification. The first edition of the DDC was published in 1876.")
    assert docs["3"].startswith("Two Kinds of Power An Essay on Bibliographic Control The relationships")
    assert "Comaromi" not in docs["1"] and "92" not in docs["1"]  # .A and .X are not text
    topics = col.read_topics("test")
    assert topics["3"] == "What is information science? Give definitions where possible."  # .W, not .T/.A/.B
    assert topics["1"].endswith("automatically retrieving articles from approximate titles?")
    assert col.read_qrels("test") == {"1": {"1": 1, "3": 1}, "2": {"2": 1}}
    s = col.summary["splits"]["test"]
    assert (s["queries"], s["judged_queries"], s["topics_without_judgments"]) == (3, 2, 1)


def test_cranfield_grades_and_queries_numbered_by_position(tmp_path):
    folder = write(tmp_path / "cran", {"cran.all.1400": CRAN_ALL, "cran.qry": CRAN_QRY, "cranqrel": CRAN_QREL})
    echoed = []
    col = load_collection(folder, root=tmp_path / "p", echo=echoed.append)
    assert col.read_qrels("test") == {"1": {"2": 3, "3": 1, "1": 0}, "3": {"3": 4}}  # 1..4 -> 4..1, -1 -> 0
    topics = col.read_topics("test")
    assert list(topics) == ["1", "2", "3"]  # .I 001, 002, 004 numbered by position, as cranqrel does
    assert topics["3"] == "what problems of heat conduction in composite slabs have been solved so far ."
    assert any("numbered by position" in line for line in echoed)
    assert dict(col.docs())["2"].startswith("simple shear flow past a flat plate")


def test_cacm_folder_leading_zeros_and_missing_text(tmp_path):
    folder = write(tmp_path / "cacm", {"cacm.all": CACM_ALL, "query.text": CACM_QRY, "qrels.text": CACM_QRELS})
    col = load_collection(folder, root=tmp_path / "p", echo=None)
    docs = dict(col.docs())
    assert docs["1"] == "Preliminary Report-International Algebraic Language"  # no .W: the title alone
    assert col.read_qrels("test") == {"1": {"2": 1, "1": 1}}  # qid 01 is query 1
    assert list(col.read_topics("test")) == ["1", "2"]


@pytest.mark.parametrize("files, problem", [
    ({"notes.txt": "x"}, r"lacks a corpus .*Accepted forms:\n  - a BEIR folder"),
    ({"corpus.jsonl": '{"_id": "d", "text": "t"}\n', "queries.jsonl": '{"_id": "q", "text": "t"}\n'},
     r"holds corpus.jsonl, queries.jsonl; it lacks qrels/<split>.tsv"),
    ({"queries.jsonl": '{"_id": "q", "text": "t"}\n', "qrels/test.tsv": "query-id\tcorpus-id\tscore\n"},
     r"it lacks corpus.jsonl\. Accepted"),
    ({"CISI.ALL": CISI_ALL, "CISI.REL": CISI_REL}, r"exactly one file of queries .*found none"),
    ({"corpus.jsonl": '{"_id": "d", "text": "t"}\n'}, r"holds corpus.jsonl but lacks topics: topics.<split>.\* .*"
                                                       r"for BEIR, queries.jsonl and qrels/<split>.tsv"),
])
def test_unrecognised_folder_says_what_it_lacks_and_the_forms(tmp_path, files, problem):
    with pytest.raises(EspladeError, match=problem) as err:
        load_collection(write(tmp_path / "f", files), root=tmp_path / "p", echo=None)
    assert "SMART folder" in str(err.value) and not (tmp_path / "p").exists()


@pytest.mark.parametrize("name, text, problem", [
    ("CISI.ALL", "stray words\n" + CISI_ALL, r"CISI.ALL:1: text before the first '.I <id>' line"),
    ("CISI.ALL", CISI_ALL + ".I 2\n.W\nagain\n", rf"CISI.ALL:{CISI_ALL.count(chr(10)) + 1}: duplicate record id '2'"),
    ("CISI.ALL", ".I 1\nno field yet\n", r"CISI.ALL:2: text outside a field in record 1"),
    ("CISI.REL", "1 1 0 0.0\n1 2 0\n", r"CISI.REL:2: expected 4 columns"),
])
def test_smart_errors_name_file_and_line(tmp_path, name, text, problem):
    files = {"CISI.ALL": CISI_ALL, "CISI.QRY": CISI_QRY, "CISI.REL": CISI_REL} | {name: text}
    with pytest.raises(InputError, match=problem):
        load_collection(write(tmp_path / "cisi", files), root=tmp_path / "p", echo=None)
    assert not (tmp_path / "p").exists()


def test_cranfield_grade_out_of_range_is_an_error(tmp_path):
    folder = write(tmp_path / "cran", {"cran.all.1400": CRAN_ALL, "cran.qry": CRAN_QRY, "cranqrel": "1 2 7\n"})
    with pytest.raises(InputError, match=r"cranqrel:1: Cranfield grade must be 1, 2, 3, 4, 5 or -1, found '7'"):
        load_collection(folder, root=tmp_path / "p", echo=None)


def beir_from(collection, folder, documents: int = 300) -> str:
    """A real BEIR folder: the first titles of a prepared collection, all its queries, the test qrels on them."""
    docs = list(collection.docs())[:documents]
    keep = {d for d, _ in docs}
    queries = {**collection.read_topics("train"), **collection.read_topics("test")}
    qrels = {q: {d: g for d, g in j.items() if d in keep} for q, j in collection.read_qrels("test").items()}
    rows = [f"{q}\t{d}\t{g}\n" for q, j in qrels.items() for d, g in j.items()]
    return write(folder, {
        "corpus.jsonl": "".join(json.dumps({"_id": d, "title": t, "text": ""}) + "\n" for d, t in docs),
        "queries.jsonl": "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()),
        "qrels/test.tsv": "query-id\tcorpus-id\tscore\n" + "".join(rows)})


@pytest.mark.slow
def test_beir_folder_through_the_flow_and_the_index_and_search_verbs(semanlink, splade_tiny, tmp_path, caplog):
    """A BEIR folder as --collection: prepared, exported, indexed, searched, evaluated (real SPLADE-tiny,
    real Lucene); then the index and search verbs on its vectors print their result once, and Lucene's
    JUL INFO line only with --verbose."""
    import subprocess
    import sys

    from esplade_eval.data.trec import read_run
    from esplade_eval.sparse.prune import Pruning
    from esplade_eval.study.flow import run_flow

    folder = beir_from(semanlink, tmp_path / "mybeir")
    caplog.set_level(logging.INFO, logger="esplade_eval")
    result = run_flow(tmp_path / "flow", levels=[Pruning()], collection=folder, encoder=splade_tiny, threads=1,
                      hits=100, echo=lambda line: None)
    judged = judged_queries(folder)
    assert result.collection.name == "mybeir" and result.collection.summary["documents"] == 300
    run = read_run(result.runs["full"])
    said = [r.getMessage().split()[0] for r in caplog.records if r.levelno >= logging.INFO]
    assert said == ["exported", "indexed", "searched"], said  # one line per stage
    assert set(run) == judged and len(judged) > 10  # every judged test query searched, nothing else

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "esplade_eval", *args], capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)

    vectors = result.levels["full"].vectors
    idx = cli("index", "--collection", str(vectors), "--index", str(tmp_path / "idx"))
    assert idx.returncode == 0, idx.stderr
    assert len(re.findall(r"indexed \d+ documents", idx.stdout + idx.stderr)) == 1, idx.stdout + idx.stderr
    quiet = cli("search", "--index", str(tmp_path / "idx"), "--queries", str(result.levels["full"].queries),
                "--output", str(tmp_path / "a.txt"), "--hits", "100")
    verbose = cli("-v", "search", "--index", str(tmp_path / "idx"), "--queries", str(result.levels["full"].queries),
                  "--output", str(tmp_path / "b.txt"), "--hits", "100")
    assert quiet.returncode == verbose.returncode == 0, quiet.stderr + verbose.stderr
    assert "MemorySegmentIndexInput" not in quiet.stderr and "INFO:" not in quiet.stderr, quiet.stderr
    assert "MemorySegmentIndexInput" in verbose.stderr  # Java's logging is there when asked for
    assert read_run(tmp_path / "a.txt") == run


def judged_queries(folder: str) -> set[str]:
    lines = (Path(folder) / "qrels" / "test.tsv").read_text().splitlines()[1:]
    return {line.split("\t")[0] for line in lines}


@pytest.mark.parametrize("text, expected", [
    ("1 0 13 1\n1 0 14 2\n2 0 7 0\n", {"1": {"13": 1, "14": 2}, "2": {"7": 0}}),  # Medline MED.REL (TREC layout)
    ("1 13\n02 7\n", {"1": {"13": 1}, "2": {"7": 1}}),  # pairs only: relevant
])
def test_smart_relevance_layouts(tmp_path, text, expected):
    from esplade_eval.data.formats import read_qrels

    path = tmp_path / "MED.REL"
    path.write_text(text)
    assert read_qrels(path, "smart") == expected


def test_smart_files_in_a_registry_with_chosen_fields(tmp_path):
    """A SMART file is detected from its '.I' line anywhere a corpus or topics file is named; fields are letters."""
    from esplade_eval.data.formats import read_corpus, read_topics

    write(tmp_path / "cisi", {"CISI.ALL": CISI_ALL, "CISI.QRY": CISI_QRY, "CISI.REL": CISI_REL})
    assert dict(read_corpus(tmp_path / "cisi" / "CISI.ALL"))["2"].startswith("Use Made of Technical Libraries This")
    assert read_topics(tmp_path / "cisi" / "CISI.QRY", fields=["T"])["3"] == "Ciganik, M."
    registry = tmp_path / "collections.toml"
    registry.write_text('[cisi-authors]\ncorpus = { path = "cisi/CISI.ALL", fields = ["T", "A"] }\n'
                        '[cisi-authors.topics]\ntest = "cisi/CISI.QRY"\n'
                        '[cisi-authors.qrels]\ntest = { path = "cisi/CISI.REL", format = "smart" }\n')
    col = load_collection("cisi-authors", root=tmp_path / "p", registry=registry, echo=None)
    assert dict(col.docs())["1"] == "18 Editions of the Dewey Decimal Classifications Comaromi, J.P."
    assert col.read_qrels("test") == {"1": {"1": 1, "3": 1}, "2": {"2": 1}}
    assert col.record["source"]["corpus"]["fields"] == ["T", "A"]
