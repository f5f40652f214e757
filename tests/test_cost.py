"""Retrieval cost: postings traversed, FLOPS, latency, and the effectiveness-vs-cost report."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from esplade_eval.cost.plots import pareto_front
from esplade_eval.cost.queries import query_costs, set_flops, summarize
from esplade_eval.errors import InputError
from esplade_eval.sparse.prune import strictness


class Terms(SimpleNamespace):
    """A tiny stand-in vocabulary for the numpy-only functions (no index needed)."""

    def df_of(self, ts):
        table = dict(zip(self.terms, self.df))
        return np.array([table.get(t, 0) for t in ts], dtype=np.int64)


def test_query_costs_small_example():
    terms = Terms(terms=["a", "b", "c"], df=np.array([10, 3, 1]), documents=20)
    queries = {"q1": {"a": 5, "b": 1}, "q2": {}, "q3": {"c": 2, "zz": 9, "b": 0}, "q4": {}}
    costs = query_costs(terms, queries)
    assert costs.query_length.tolist() == [2, 0, 2, 0], "zero weights are not terms"
    assert costs.postings.tolist() == [13, 0, 1, 0]
    assert costs.terms_missing.tolist() == [0, 0, 1, 0]
    assert costs.flops.tolist() == pytest.approx([0.65, 0.0, 0.05, 0.0])
    s = summarize(costs, set_flops(terms, queries))
    assert s["queries"] == 4 and s["empty_queries"] == 2 and s["postings_max"] == 13


@pytest.mark.parametrize("seed", range(30))
def test_set_flops_equals_mean_per_query_flops(seed):
    rng = np.random.default_rng(seed)
    vocab = [f"t{i}" for i in range(int(rng.integers(1, 60)))]
    terms = Terms(terms=vocab, df=rng.integers(1, 1000, size=len(vocab)), documents=1000)
    queries = {}
    for q in range(int(rng.integers(1, 40))):
        n = int(rng.integers(0, 8))
        queries[f"q{q}"] = {f"t{int(i)}": int(rng.integers(0, 4)) for i in rng.integers(0, 80, size=n)}
    # naver/splade: sum_t p_d(t) p_q(t), computed here in plain Python as an oracle
    n_docs = dict(zip(vocab, terms.df.tolist()))
    contains: dict[str, int] = {}
    for vec in queries.values():
        for t in {t for t, w in vec.items() if w > 0}:
            contains[t] = contains.get(t, 0) + 1
    oracle = sum(n_docs.get(t, 0) / 1000 * c / len(queries) for t, c in contains.items())
    assert set_flops(terms, queries) == pytest.approx(oracle)
    assert query_costs(terms, queries).flops.mean() == pytest.approx(oracle)


def test_pareto_axis_is_never_tighter_than_the_minimum_span():
    from esplade_eval.cost.plots import MIN_Y_SPAN, _y_limits

    low, high = _y_limits(pd.Series([0.4301, 0.4303]), MIN_Y_SPAN)
    assert high - low >= MIN_Y_SPAN and low < 0.4301 and high > 0.4303
    low, high = _y_limits(pd.Series([0.1, 0.6]), MIN_Y_SPAN)
    assert low <= 0.1 and high >= 0.6 and high - low < 0.7
    assert _y_limits(pd.Series([0.0, 0.01]), MIN_Y_SPAN)[0] == 0.0


def test_pareto_front_and_level_order():
    assert pareto_front([5, 1, 3, 3], [0.5, 0.1, 0.4, 0.3]).tolist() == [True, True, True, False]
    assert sorted(["d16-q8", "d8-q4", "full", "d32-q16", "odd"], key=strictness) == [
        "full", "d32-q16", "d16-q8", "d8-q4", "odd"]


def brute_force_postings(level_dir, queries) -> dict[str, int]:
    """Postings traversed, counted document by document from the exported vectors."""
    from esplade_eval.sparse.jsonvector import read_collection

    used = {q: {t for t, w in v.items() if w > 0} for q, v in queries.items()}
    counts = dict.fromkeys(queries, 0)
    for _, _, vector in read_collection(level_dir / "collection"):
        doc_terms = {t for t, w in vector.items() if w > 0}
        for q, ts in used.items():
            counts[q] += len(ts & doc_terms)
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("level", ["full", "d16-q4"])
def test_postings_traversed_equals_brute_force(flow, level):
    from esplade_eval.lucene.postings import read_index_terms
    from esplade_eval.sparse.jsonvector import read_query_vectors

    lv = flow.levels[level]
    queries, _ = read_query_vectors(lv.queries)
    costs = query_costs(read_index_terms(lv.index), queries)
    expected = brute_force_postings(lv.vectors, queries)
    assert dict(zip(costs.qids, costs.postings.tolist())) == expected
    assert sum(expected.values()) > 0


@pytest.mark.slow
def test_latency_probe_times_every_query(flow):
    from esplade_eval.lucene.postings import LatencyProbe
    from esplade_eval.sparse.jsonvector import read_query_vectors

    lv = flow.levels["d16-q4"]
    queries, _ = read_query_vectors(lv.queries)
    queries = dict(list(queries.items())[:20]) | {"empty": {}}
    with LatencyProbe(lv.index) as probe:
        times = probe.time(queries, k=100, passes=3, warmup=1)
    assert set(times) == set(queries)
    assert all(t.shape == (3,) for t in times.values())
    assert (times["empty"] == 0).all(), "an empty query is not sent to Lucene"
    assert all((t > 0).all() for q, t in times.items() if q != "empty")
    s = summarize(query_costs(SimpleNamespace(documents=1, df_of=lambda ts: np.ones(len(ts), int)), queries, times))
    assert s["latency_passes"] == 3 and s["latency_ms_p50"] > 0
    assert s["latency_ms_p50"] <= s["latency_ms_p95"] <= s["latency_ms_p99"]


@pytest.mark.slow
def test_cost_table_and_plots(flow, tmp_path):
    import ir_measures

    from esplade_eval.cost import cost_table, plot_pareto, plot_posting_lengths

    table = cost_table(flow, measures=("nDCG@10", "R@100"), passes=1, hits=100)
    assert list(table.index) == ["full", "d16-q4"]
    qrels = list(ir_measures.read_trec_qrels(str(flow.qrels)))
    for level in table.index:
        agg = ir_measures.calc_aggregate([ir_measures.nDCG @ 10], qrels, ir_measures.read_trec_run(str(flow.runs[level])))
        # every test query has hits here, so the explicit-query-set mean equals ir_measures' own
        assert table.at[level, "nDCG@10"] == pytest.approx(agg[ir_measures.nDCG @ 10])
    assert table.at["d16-q4", "postings_mean"] < table.at["full", "postings_mean"]
    assert table.at["d16-q4", "flops"] < table.at["full", "flops"]
    assert table.at["d16-q4", "query_length_mean"] <= 4
    assert (table["latency_ms_p50"] > 0).all()
    # demo/flow print it with the cost table's renderer: plain headers, one number format
    from esplade_eval.study.demo import cost_text

    text = cost_text(table)
    assert "| level | nDCG@10 | R@100 | postings/query | FLOPS | query terms |" in text
    assert "postings_mean" not in text and "e+0" not in text
    for png in (plot_pareto(table, tmp_path / "pareto.png"), plot_posting_lengths(table, tmp_path / "df.png")):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    # significance beside cost: d16-q4 vs full, the same numbers compare() gives on the two runs
    from esplade_eval.evaluate import compare, evaluate

    direct = compare(evaluate(flow.qrels, {k: str(v) for k, v in flow.runs.items()}, ["nDCG@10", "R@100"],
                              topics=flow.topics), baseline="full", missing="zero").to_dataframe()
    for col in ("nDCG@10 delta", "nDCG@10 p-value corrected", "R@100 delta"):
        assert table.at["d16-q4", col] == pytest.approx(direct.at["d16-q4", col])
    assert bool(table.at["d16-q4", "nDCG@10 reject"]) == bool(direct.at["d16-q4", "nDCG@10 reject"])
    assert np.isnan(table.at["full", "nDCG@10 delta"])
    # the same table from a flow folder laid out like the demo's (data/ beside indexes/, vectors/, runs/)
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "data").symlink_to(flow.collection.root)
    for part in ("indexes", "vectors", "runs"):
        (demo / part).symlink_to(flow.levels["full"].index.parent.parent / part)
    folder = cost_table(demo, measures=("nDCG@10", "R@100"), latency=False)
    assert folder["nDCG@10"].tolist() == pytest.approx(table["nDCG@10"].tolist())


@pytest.mark.slow
def test_cost_cli(flow, tmp_path, capsys):
    from esplade_eval.cli import main

    lv = flow.levels["d16-q4"]
    out, per_query = tmp_path / "cost.json", tmp_path / "pq.tsv"
    assert main(["cost", "--index", str(lv.index), "--queries", str(lv.queries), "--passes", "1",
                 "--json", str(out), "--per-query", str(per_query)]) == 0
    summary = json.loads(out.read_text())
    assert summary["queries"] == len(per_query.read_text().splitlines()) - 1
    assert summary["flops"] > 0 and summary["latency_ms_p50"] > 0
    flow_dir = lv.index.parent.parent
    table = tmp_path / "table.csv"
    assert main(["cost", "--flow", str(flow_dir), "--qrels", str(flow.qrels), "--topics", str(flow.topics),
                 "--no-latency", "--output", str(table), "--plots", str(tmp_path / "plots")]) == 0
    frame = pd.read_csv(table)
    assert not any(c.endswith(".1") for c in frame.columns)  # no duplicated column (pandas would rename it)
    assert list(frame["level"]) == ["full", "d16-q4"] and "nDCG@10 p-value corrected" in frame.columns
    assert (tmp_path / "plots" / "pareto.png").is_file()
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("| level |"))
    assert header.count("|") - 1 <= 12 and "postings/query" in header and "postings_mean" not in header
    assert "Δ = level − first level of its checkpoint (full)" in out


def test_cost_cli_bad_queries(tmp_path, capsys):
    from esplade_eval.cli import main
    from esplade_eval.cost.levels import load_queries

    with pytest.raises(InputError, match="query file not found"):
        load_queries(tmp_path / "none.jsonl")
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": "q1", "contents": "x", "vector": {"a b": 1}}\n')
    fake = tmp_path / "idx"
    fake.mkdir()
    (fake / "segments_1").write_bytes(b"")
    assert main(["cost", "--index", str(fake), "--queries", str(bad)]) == 2
    assert f"{bad}:1:" in capsys.readouterr().err


def test_set_flops_is_the_same_in_every_process():
    """Bit for bit, whatever the string-hash seed (a set's iteration order follows it)."""
    import subprocess
    import sys

    code = ("import numpy as np\n"
            "from esplade_eval.cost.queries import set_flops\n"
            "class T:\n"
            "    documents = 997\n"
            "    def df_of(self, ts): return np.array([1 + (sum(map(ord, t)) * 7919) % 991 for t in ts])\n"
            "rng = np.random.default_rng(0)\n"
            "queries = {f'q{i}': {f'term{int(j)}': 1 for j in rng.integers(0, 5000, 40)} for i in range(200)}\n"
            "print(repr(set_flops(T(), queries)))\n")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**__import__("os").environ, "PYTHONHASHSEED": str(seed)}).stdout
               for seed in (1, 2, 3, 4)}
    assert len(outputs) == 1
