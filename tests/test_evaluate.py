"""Metrics through ir_measures: query-set policy, bad input, the CLI, agreement with trec_eval."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from io import StringIO

import numpy as np
import pandas as pd
import pytest

from esplade_eval.cli import main
from esplade_eval.errors import EspladeError, InputError
from esplade_eval.evaluate import DEFAULT_MEASURES, Evaluator, evaluate, parse_measures, query_set

QRELS = """\
q1 0 a 2
q1 0 b 1
q1 0 z 0
q2 0 c 1
q3 0 d 1
"""
# q3 is judged but the run has no line for it; q9 is not judged at all
RUN_A = """\
q1 Q0 a 1 3.0 A
q1 Q0 x 2 2.0 A
q1 Q0 b 3 1.0 A
q2 Q0 y 1 5.0 A
q2 Q0 c 2 4.0 A
q9 Q0 a 1 1.0 A
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def files(tmp_path):
    return write(tmp_path, "qrels.txt", QRELS), write(tmp_path, "run.a.txt", RUN_A)


# -- the query-set policy --------------------------------------------------------------------------
def test_query_missing_from_run_scores_zero_and_counts_in_the_mean(files):
    qrels, run = files
    res = evaluate(qrels, {"a": run}, ["RR@10", "AP", "nDCG@10"])
    pq = res.per_query("a")
    assert list(pq.index) == ["q1", "q2", "q3"]  # the qrels' queries, q9 ignored
    assert pq.loc["q3"].tolist() == [0.0, 0.0, 0.0]
    assert pq.loc["q1", "RR@10"] == 1.0 and pq.loc["q2", "RR@10"] == 0.5
    # AP of q1: relevant a at 1, b at 3 -> (1/1 + 2/3) / 2
    assert pq.loc["q1", "AP"] == pytest.approx((1 + 2 / 3) / 2)
    assert res.aggregate().loc["a", "RR@10"] == pytest.approx(1.5 / 3)  # over 3 queries, not 2
    assert res.missing("a") == ["q3"]
    assert res.ignored["a"] == 1
    notes = " ".join(res.notes())
    assert "3 queries (qrels)" in notes and "no hits for 1 of 3 queries" in notes and "q3" in notes


def test_topics_restrict_the_query_set_and_the_set_is_reported(files, tmp_path):
    qrels, run = files
    topics = write(tmp_path, "topics.tsv", "q2\tsecond\nq3\tthird\nq4\tunjudged\n")
    res = evaluate(qrels, {"a": run}, ["RR@10"], topics=topics)
    assert res.queries == ("q2", "q3")
    assert res.query_set.unjudged_topics == ("q4",) and res.query_set.untopiced_qrels == ("q1",)
    assert res.aggregate().loc["a", "RR@10"] == pytest.approx(0.25)
    assert res.ignored["a"] == 2  # q1 and q9 have hits but are not evaluated
    assert "2 queries (qrels ∩ topics)" in res.query_set.describe()


def test_query_set_helper():
    qs = query_set({"q1": {"d": 1}, "q2": {"d": 0}}, ["q2", "q3"])
    assert qs.queries == ("q2",) and qs.source == "qrels ∩ topics"
    assert query_set({"b": {}, "a": {}}).queries == ("a", "b")


def test_evaluator_is_reused_across_runs_and_in_memory_runs_work(files):
    qrels, _ = files
    ev = Evaluator(qrels, ["RR@10"])
    perfect = {"q1": {"a": 1.0}, "q2": {"c": 1.0}, "q3": {"d": 1.0}}
    empty_query = {"q1": {"a": 1.0}, "q2": {}}  # an empty ranking is "no hits"
    res = ev.evaluate({"perfect": perfect, "partial": empty_query})
    assert res.aggregate()["RR@10"].tolist() == [1.0, pytest.approx(1 / 3)]
    assert res.missing("partial") == ["q2", "q3"]


def test_measures_are_ir_measures_strings():
    assert [str(m) for m in parse_measures(["nDCG@10", "R@1000", "RR@10", "AP", "Judged@10"])] == \
        ["nDCG@10", "R@1000", "RR@10", "AP", "Judged@10"]
    with pytest.raises(EspladeError, match="unknown measure 'NDGC@10'"):
        parse_measures(["NDGC@10"])
    with pytest.raises(EspladeError, match="twice"):
        parse_measures(["AP", "AP"])


def test_judged_at_k(files):
    qrels, run = files
    res = evaluate(qrels, {"a": run}, ["Judged@2"])
    # q1 top-2: a judged, x not -> 0.5; q2: y not, c judged -> 0.5; q3 no hits -> 0
    assert res.per_query("a")["Judged@2"].tolist() == [0.5, 0.5, 0.0]


# -- bad input: an error naming file and line, never a silent overwrite ---------------------------------
@pytest.mark.parametrize("text, line, message", [
    ("q1 Q0 a 1 3.0 A\nq1 Q0 b 2 2.0 A\nq1 Q0 a 3 1.0 A\n", 3, "document 'a' appears twice for query 'q1'"),
    ("q1 Q0 a 1 3.0 A\n\nq1 Q0 b 2 high A\n", 3, "score is not a number: 'high'"),
    ("q1 Q0 a 1 3.0 A\nq1 Q0 b 2 2.0\n", 2, "expected 6 columns"),
    ("q1 Q0 a 1 nan A\n", 1, "score is not finite"),
])
def test_bad_run_is_an_error_with_file_and_line(files, tmp_path, capsys, text, line, message):
    qrels, _ = files
    bad = write(tmp_path, "bad.txt", text)
    with pytest.raises(InputError) as err:
        evaluate(qrels, {"bad": bad}, ["AP"])
    assert err.value.line == line and err.value.path == str(bad)
    assert str(err.value).startswith(f"{bad}:{line}: ") and message in str(err.value)
    out_file = tmp_path / "table.md"
    assert main(["evaluate", "--qrels", str(qrels), str(bad), "--output", str(out_file)]) == 2
    assert f"{bad}:{line}: " in capsys.readouterr().err
    assert not out_file.exists()  # nothing half-written


@pytest.mark.parametrize("text, line, message", [
    ("q1 0 a 1\nq1 0 b 1.5\n", 2, "relevance grade is not an integer: '1.5'"),
    ("q1 0 a 1\nq1 0 b\n", 2, "expected 4 columns"),
    ("q1 0 a 1\nq1 0 a 0\n", 2, "duplicate judgment"),
])
def test_bad_qrels_is_an_error_with_file_and_line(files, tmp_path, capsys, text, line, message):
    _, run = files
    bad = write(tmp_path, "qrels.bad.txt", text)
    with pytest.raises(InputError, match=message) as err:
        Evaluator(bad, ["AP"])
    assert str(err.value).startswith(f"{bad}:{line}: ")
    assert main(["evaluate", "--qrels", str(bad), str(run)]) == 2
    assert f"{bad}:{line}: {message}" in capsys.readouterr().err


# -- the CLI -----------------------------------------------------------------------------------------
def test_cli_evaluate_default_measures_markdown(files, capsys):
    qrels, run = files
    assert main(["evaluate", "--qrels", str(qrels), str(run)]) == 0
    out = capsys.readouterr().out
    assert "| system | " + " | ".join(DEFAULT_MEASURES) + " |" in out
    assert "| run.a | " in out and "3 queries (qrels)" in out


def test_cli_evaluate_per_query_csv_and_json(files, tmp_path, capsys):
    qrels, run = files
    run_b = write(tmp_path, "b.txt", "q1 Q0 b 1 1 B\nq2 Q0 c 1 1 B\nq3 Q0 d 1 1 B\n")
    args = ["evaluate", "--qrels", str(qrels), f"first={run}", f"second={run_b}", "--measures", "RR@10", "AP"]
    assert main(args + ["--per-query", "--format", "csv"]) == 0
    frame = pd.read_csv(StringIO(capsys.readouterr().out))
    assert list(frame.columns) == ["system", "qid", "RR@10", "AP"]
    assert len(frame) == 6 and set(frame.system) == {"first", "second"}
    assert frame.set_index(["system", "qid"]).loc[("second", "q1"), "RR@10"] == 1.0
    assert main(args + ["--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n_queries"] == 3 and [s["system"] for s in data["systems"]] == ["first", "second"]
    assert data["systems"][1]["RR@10"]["mean"] == 1.0


def test_cli_evaluate_topics_and_output_file(files, tmp_path, capsys):
    qrels, run = files
    topics = write(tmp_path, "t.tsv", "q1\tone\n")
    out_file = tmp_path / "out" / "table.tex"
    assert main(["evaluate", "--qrels", str(qrels), "--topics", str(topics), str(run), "--measures", "RR@10",
                 "--format", "latex", "--output", str(out_file)]) == 0
    printed = capsys.readouterr().out
    assert out_file.read_text() == printed and r"\begin{tabular}" in printed and "1 queries" in printed


def test_cli_evaluate_run_sharing_no_query_warns_or_fails_with_strict(files, tmp_path, capsys):
    qrels, run = files
    other = write(tmp_path, "other.txt", "301 Q0 a 1 3.0 X\n302 Q0 b 1 2.0 X\n")
    assert main(["evaluate", "--qrels", str(qrels), str(run), f"other={other}", "--measures", "RR@10"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("warning:") == 1  # run.a shares queries: no warning for it
    assert ("warning: run other shares no query with the qrels (2 run queries, none among the 3 evaluated, "
            "e.g. q1, q2, q3)") in captured.err
    assert "| other | 0.0000 |" in captured.out
    assert main(["evaluate", "--qrels", str(qrels), f"other={other}", "--strict"]) == 2
    captured = capsys.readouterr()
    assert "error: run other shares no query with the qrels" in captured.err and captured.out == ""
    assert main(["evaluate", "--qrels", str(qrels), str(run), "--strict"]) == 0  # matching ids: strict passes


def test_cli_evaluate_unknown_measure_exits_2(files, capsys):
    qrels, run = files
    with pytest.raises(SystemExit) as exc:  # checked while parsing, before any file is read
        main(["evaluate", "--qrels", str(qrels), str(run), "--measures", "Bogus@3"])
    assert exc.value.code == 2 and "unknown measure 'Bogus@3'" in capsys.readouterr().err


def test_cli_evaluate_loads_neither_torch_nor_the_jvm(files):
    qrels, run = files
    code = textwrap.dedent(f"""
        import sys
        from esplade_eval.cli import main
        assert main(["evaluate", "--qrels", {str(qrels)!r}, {str(run)!r}]) == 0
        heavy = sorted(m for m in ("torch", "transformers", "jnius", "pyserini") if m in sys.modules)
        print("HEAVY", heavy)
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout


# -- agreement with trec_eval (Anserini's, via Pyserini) on real runs ------------------------------------
TREC_EVAL = {"nDCG@10": "ndcg_cut_10", "R@100": "recall_100", "AP": "map", "RR@10": "recip_rank"}


@pytest.fixture(scope="session")
def bm25(semanlink, tmp_path_factory):
    from evaluate_support import bm25_runs

    return bm25_runs(str(semanlink.corpus), str(semanlink.topics("test")),
                     str(tmp_path_factory.getbasetemp() / "evaluate-bm25"))["bm25"]


@pytest.fixture(scope="session", params=["bm25", "splade-full"])
def real_run(request, semanlink):
    if request.param == "bm25":
        return semanlink.qrels("test"), request.getfixturevalue("bm25")
    demo = request.getfixturevalue("demo_runs")
    return demo.qrels, demo.runs["full"]


@pytest.mark.slow
def test_aggregates_equal_trec_eval_c(real_run):
    from evaluate_support import trec_eval

    from esplade_eval.data.trec import read_qrels, read_run

    qrels, run = real_run
    judged, answered = set(read_qrels(qrels)), set(read_run(run))
    assert answered <= judged and len(judged) > 100  # what we think the sets are
    ours = evaluate(qrels, {"run": run}, list(TREC_EVAL)).aggregate().loc["run"]
    theirs = trec_eval(["-c", "-m", "ndcg_cut.10", "-m", "recall.100", "-m", "map", str(qrels), str(run)])
    theirs |= trec_eval(["-c", "-M", "10", "-m", "recip_rank", str(qrels), str(run)])
    for measure, name in TREC_EVAL.items():
        # trec_eval prints 4 decimals: ours must round to the same number
        assert abs(ours[measure] - theirs[name]) <= 0.5e-4 + 1e-12, (measure, ours[measure], theirs[name])
    if answered != judged:  # then -c matters, and without it trec_eval averages over the answered queries
        res = evaluate(qrels, {"run": run}, ["nDCG@10"])
        rows = [i for i, q in enumerate(res.queries) if q in answered]
        plain = trec_eval(["-m", "ndcg_cut.10", str(qrels), str(run)])["ndcg_cut_10"]
        assert abs(res.scores["run"][rows, 0].mean() - plain) <= 0.5e-4 + 1e-12
        assert abs(plain - theirs["ndcg_cut_10"]) > 1e-3


@pytest.mark.slow
def test_per_query_values_equal_trec_eval(real_run):
    from evaluate_support import trec_eval_per_query

    qrels, run = real_run
    ours = evaluate(qrels, {"run": run}, ["nDCG@10"]).per_query("run")["nDCG@10"]
    theirs = trec_eval_per_query(["-c", "-m", "ndcg_cut.10", str(qrels), str(run)], "ndcg_cut_10")
    # trec_eval -q lists only the queries the run has; the others are the ones we score 0
    from esplade_eval.data.trec import read_run

    answered = set(read_run(run))
    assert set(theirs) == answered & set(ours.index)
    assert (ours.drop(list(theirs)) == 0).all()
    diff = np.array([abs(ours[q] - theirs[q]) for q in theirs])
    assert diff.max() <= 0.5e-4 + 1e-12


def test_cli_defaults_match_the_library():
    import esplade_eval.cli.evaluate as cli
    from esplade_eval.evaluate import FORMATS

    assert cli.DEFAULT_MEASURES == DEFAULT_MEASURES and cli.FORMATS == FORMATS
