"""The study grid: checkpoints x pruning levels through real Lucene, on a slice of Semanlink."""

import json
import shutil

import pytest

from esplade_eval.data.semanlink import Collection
from esplade_eval.data.trec import read_corpus, read_qrels, write_qrels
from esplade_eval.sparse.prune import Pruning

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_collection(semanlink, tmp_path_factory):
    """The first 1,500 titles with the test topics and their judgments on those titles."""
    root = tmp_path_factory.mktemp("small")
    docs = list(read_corpus(semanlink.corpus))[:1500]
    keep = {d for d, _ in docs}
    with open(root / "corpus.jsonl", "w") as fh:
        for d, t in docs:
            fh.write(json.dumps({"id": d, "contents": t}) + "\n")
    shutil.copy(semanlink.topics("test"), root / "topics.test.tsv")
    qrels = {q: {d: g for d, g in j.items() if d in keep} for q, j in read_qrels(semanlink.qrels("test")).items()}
    write_qrels(root / "qrels.test.txt", {q: j for q, j in qrels.items() if j})
    return Collection(root)


def test_grid_of_two_checkpoints(tmp_path, small_collection):
    from esplade_eval.model.checkpoint import resolve_checkpoint
    from esplade_eval.study.grid import run_grid

    copy = tmp_path / "copy-of-tiny"
    shutil.copytree(resolve_checkpoint("splade-tiny"), copy)
    levels = [Pruning(), Pruning(8, 4)]
    result = run_grid({"tiny": "splade-tiny", "copy": str(copy)}, tmp_path / "grid", levels=levels, threads=1,
                      max_length=64, repeats=1, results=tmp_path / "res" / "grid", collection=small_collection,
                      echo=lambda *_: None)
    table = result["table"]
    assert list(table.index) == ["tiny/full", "tiny/d8-q4", "copy/full", "copy/d8-q4"]
    for level in ("full", "d8-q4"):
        a, b = table.loc[f"tiny/{level}"], table.loc[f"copy/{level}"]
        # the same weights under another name: the same effectiveness and the same index
        for col in ("nDCG@10", "R@100", "postings_mean", "flops", "df_variance", "query_length_mean"):
            assert a[col] == b[col], col
        details = result["comparisons"][level].to_dataframe()
        rejects = details.filter(like="reject")
        assert rejects.shape[1] == 2 and not rejects.any().any()
        assert details.loc["copy", "nDCG@10 delta"] == 0
    assert table.loc["tiny/d8-q4", "postings_mean"] < table.loc["tiny/full", "postings_mean"]
    assert table.loc["tiny/d8-q4", "query_length_mean"] <= 4
    manifest = json.loads((tmp_path / "grid" / "copy" / "vectors" / "full" / "manifest.json").read_text())
    assert manifest["encoder"]["max_length"] == 64 and manifest["documents"]["count"] == 1500
    saved = json.loads((tmp_path / "res" / "grid.json").read_text())
    assert saved["levels"] == ["full", "d8-q4"] and set(saved["comparisons"]) == {"full", "d8-q4"}
    assert "## Level d8-q4" in (tmp_path / "res" / "grid.md").read_text()
    assert (tmp_path / "res" / "grid_plots" / "pareto.png").stat().st_size > 1000


def test_grid_cli_rejects_duplicate_names():
    from esplade_eval.cli.grid import parse_checkpoints
    from esplade_eval.errors import EspladeError

    assert parse_checkpoints(["a=x", "some/dir/b"]) == {"a": "x", "b": "some/dir/b"}
    with pytest.raises(EspladeError, match="unique"):
        parse_checkpoints(["a=x", "a=y"])
