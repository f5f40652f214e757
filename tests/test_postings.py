"""Posting-list statistics: read from Lucene in bulk, checked against the exported vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from esplade_eval.cost.stats import distribution, gini, postings_statistics, query_terms
from esplade_eval.errors import InputError

LEVELS = ("full", "d16-q4")


# --- numpy-only statistics ---------------------------------------------------------------------------------


def test_gini_known_values():
    assert gini([3, 3, 3, 3]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 0, 10]) == pytest.approx(4 / 5)
    assert gini([]) == 0.0
    # mean absolute difference definition: sum_ij |x_i - x_j| / (2 n^2 mean)
    x = np.random.default_rng(1).integers(1, 500, size=300)
    mad = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert gini(x) == pytest.approx(mad)
    assert gini(x) == pytest.approx(gini(np.random.default_rng(2).permutation(x))), "order-free"


def test_distribution_against_numpy():
    x = np.random.default_rng(0).zipf(1.8, size=2000)
    d = distribution(x)
    assert d["count"] == 2000 and d["sum"] == int(x.sum()) and d["max"] == int(x.max())
    assert d["mean"] == pytest.approx(x.mean())
    assert d["variance"] == pytest.approx(np.var(x))
    assert d["cv"] == pytest.approx(np.std(x) / x.mean())
    assert d["p90"] == pytest.approx(np.quantile(x, 0.9))
    assert distribution([])["mean"] is None


# --- real Lucene indexes (the session flow) --------------------------------------------------------------


def collection_stats(level_dir) -> dict[str, tuple[int, int]]:
    """df and total impact per term, counted independently from the JsonVectorCollection."""
    from esplade_eval.sparse.jsonvector import read_collection

    out: dict[str, list[int]] = {}
    for _, _, vector in read_collection(level_dir / "collection"):
        for term, weight in vector.items():
            if weight > 0:
                s = out.setdefault(term, [0, 0])
                s[0] += 1
                s[1] += weight
    return {t: (d, c) for t, (d, c) in out.items()}


@pytest.fixture(scope="module")
def index_terms(flow):
    from esplade_eval.lucene.postings import read_index_terms

    return {name: read_index_terms(flow.levels[name].index) for name in LEVELS}


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_lucene_statistics_equal_exported_collection(flow, index_terms, level):
    terms = index_terms[level]
    expected = collection_stats(flow.levels[level].vectors)
    got = terms.as_dict()
    assert len(got) == len(expected) > 1000
    assert got == expected, "df and totalTermFreq (= sum of impacts) per term match the collection"
    assert terms.terms == sorted(terms.terms, key=lambda t: t.encode("utf-8")), "Lucene term order"


@pytest.mark.slow
def test_summary_agrees_with_manifest_and_queries(flow, index_terms):
    from esplade_eval.artifacts import read_export_manifest as read_manifest
    from esplade_eval.sparse.jsonvector import read_query_vectors

    for level in LEVELS:
        lv = flow.levels[level]
        manifest = read_manifest(lv.vectors)["documents"]
        queries, _ = read_query_vectors(lv.queries)
        stats = postings_statistics(index_terms[level], queries, top=5)
        assert stats["postings"] == manifest["postings"]
        assert stats["documents"] == manifest["count"] == stats["documents_indexed"] + manifest["empty_vectors"]
        assert stats["mean_vector_length"] == pytest.approx(manifest["mean_vector_length"])
        assert stats["index_bytes"] > 0
        assert stats["posting_lengths"]["max"] == stats["top_terms"][0]["df"]
        assert [t["df"] for t in stats["top_terms"]] == sorted((t["df"] for t in stats["top_terms"]), reverse=True)
        q = stats["queries"]
        used = query_terms(queries)
        expected = collection_stats(lv.vectors)
        present = [expected[t][0] for t in used if t in expected]
        assert q["distinct_terms"] == len(used)
        assert q["terms_missing"] == len(used) - len(present)
        assert q["posting_lengths"]["sum"] == sum(present)
        assert q["posting_lengths"]["variance"] == pytest.approx(np.var(present))
    full, strict = (postings_statistics(index_terms[n]) for n in LEVELS)
    assert strict["postings"] < full["postings"], "document pruning shortens the posting lists"


@pytest.mark.slow
def test_postings_cli_writes_json(flow, tmp_path, capsys):
    from esplade_eval.cli import main

    lv = flow.levels["d16-q4"]
    out = tmp_path / "p.json"
    tsv = tmp_path / "terms.tsv"
    assert main(["postings", "--index", str(lv.index), "--queries", str(lv.queries), "--json", str(out),
                 "--terms", str(tsv), "--top", "3"]) == 0
    stats = json.loads(out.read_text())
    expected = collection_stats(lv.vectors)
    assert stats["terms"] == len(expected)
    assert stats["postings"] == sum(d for d, _ in expected.values())
    assert stats["total_impact"] == sum(c for _, c in expected.values())
    assert len(stats["top_terms"]) == 3 and stats["queries"]["queries"] > 0
    lines = tsv.read_text().splitlines()
    assert lines[0] == "term\tdf\ttotal_impact" and len(lines) == len(expected) + 1
    assert "posting-list lengths" in capsys.readouterr().out


def test_missing_index_is_a_clear_error(tmp_path):
    from esplade_eval.lucene.postings import read_index_terms

    with pytest.raises(InputError, match="index folder not found") as err:
        read_index_terms(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a Lucene index"):
        read_index_terms(tmp_path / "empty")


def test_cli_reports_bad_inputs(tmp_path, capsys):
    from esplade_eval.cli import main

    assert main(["postings", "--index", str(tmp_path / "missing")]) == 2
    assert "missing: index folder not found" in capsys.readouterr().err
    fake = tmp_path / "idx"
    fake.mkdir()
    (fake / "segments_1").write_bytes(b"")
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": "q1", "contents": "x", "vector": {"a": 1}}\n{"id": "q2", "vector": \n')
    assert main(["postings", "--index", str(fake), "--queries", str(bad)]) == 2
    assert f"{bad}:2: malformed JSON" in capsys.readouterr().err
