"""Sharding without Lucene: file groups, exact merging of per-shard top-k lists, chunk alignment."""

from __future__ import annotations

import json
import random

import pytest

from esplade_eval.lucene.shards import group_files, merge_ranked
from esplade_eval.model.export import aligned_chunks


def _exact_top(docs: dict[str, float], k: int) -> tuple[list[str], list[float]]:
    """Top ``k`` of ``{id: score}`` by (-score, id): the single-index ranking."""
    order = sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [d for d, _ in order], [s for _, s in order]


@pytest.mark.parametrize("seed", range(20))
def test_merging_exact_per_shard_top_k_gives_the_global_top_k_even_with_ties(seed):
    rng = random.Random(seed)
    # few distinct scores: ties everywhere, including at every cut-off
    docs = {f"d{rng.randrange(10 ** 6):06d}": float(rng.randrange(1, 6)) for _ in range(rng.randrange(1, 120))}
    shards = rng.randrange(1, 7)
    parts = [dict() for _ in range(shards)]
    for docid, score in docs.items():
        parts[rng.randrange(shards)][docid] = score
    for k in (1, 2, 5, 10, 50, 200):
        assert merge_ranked([_exact_top(p, k) for p in parts], k) == _exact_top(docs, k)


def test_merging_nothing_and_empty_shards():
    assert merge_ranked([], 10) == ([], [])
    assert merge_ranked([([], []), (["a"], [3.0])], 10) == (["a"], [3.0])


def _files_of_sizes(folder, sizes) -> list:
    """Collection files named as an export names them, of ``sizes`` bytes each."""
    from esplade_eval.artifacts import shard_file_name

    files = [folder / shard_file_name(i) for i in range(len(sizes))]
    for f, n in zip(files, sizes):
        f.write_text("x" * n)
    return files


def test_file_groups_are_contiguous_non_empty_and_balanced(tmp_path):
    sizes = [5, 100, 7, 7, 300, 1, 1, 60]
    files = _files_of_sizes(tmp_path, sizes)
    for shards in range(1, len(files) + 1):
        groups = group_files(files, shards)
        assert len(groups) == shards and all(groups)
        assert [f for g in groups for f in g] == files  # contiguous, in order, every file once
    assert [len(g) for g in group_files(files, 2)] == [4, 4]  # 119 | 362 bytes: the 300-byte file bounds it
    with pytest.raises(ValueError, match="cannot make 9 groups of 8 files"):
        group_files(files, 9)


@pytest.mark.parametrize("seed", range(10))
def test_file_groups_have_the_smallest_possible_largest_group(tmp_path, seed):
    from itertools import combinations

    rng = random.Random(seed)
    sizes = [rng.randrange(1, 50) for _ in range(rng.randrange(1, 9))]
    files = _files_of_sizes(tmp_path, sizes)
    for shards in range(1, len(files) + 1):
        best = min(max(sum(sizes[a:b]) for a, b in zip((0, *cuts), (*cuts, len(sizes))))
                   for cuts in combinations(range(1, len(sizes)), shards - 1))  # every contiguous split
        groups = group_files(files, shards)
        assert len(groups) == shards and all(groups) and [f for g in groups for f in g] == files
        assert max(sum(f.stat().st_size for f in g) for g in groups) == best


def test_chunks_never_straddle_a_shard_boundary():
    docs = [(f"d{i}", "t") for i in range(23)]
    chunks = list(aligned_chunks(docs, chunk=4, shard_size=10))
    assert [len(c) for c in chunks] == [4, 4, 2, 4, 4, 2, 3]
    assert [d for c in chunks for d in c] == docs
    # a shard encoded on its own is chunked exactly as inside the whole corpus
    assert list(aligned_chunks(docs[10:20], chunk=4, shard_size=10)) == chunks[3:6]


def test_a_sharded_index_manifest_is_recognised_and_its_shards_checked(tmp_path):
    from esplade_eval.artifacts import is_sharded_index as is_sharded
    from esplade_eval.artifacts import read_index_manifest
    from esplade_eval.errors import InputError
    from esplade_eval.lucene.index import check_index, shard_paths

    index = tmp_path / "idx"
    (index / "shard-000").mkdir(parents=True)
    (index / "shard-000" / "segments_1").write_text("")
    (index / "esplade_eval.json").write_text(json.dumps(
        {"format": "esplade_eval/sharded-index/1", "shards": [{"path": "shard-000"}, {"path": "shard-001"}]}))
    assert is_sharded(index) and not is_sharded(index / "shard-000")
    with pytest.raises(InputError, match="shard 'shard-001' is not a Lucene index"):
        shard_paths(index)
    (index / "shard-001").mkdir()
    (index / "shard-001" / "segments_2").write_text("")
    assert shard_paths(index) == [index / "shard-000", index / "shard-001"]
    assert check_index(index, allow_sharded=True) == index
    assert read_index_manifest(index)["format"] == "esplade_eval/sharded-index/1"
    with pytest.raises(InputError, match="a sharded index is not accepted here"):
        check_index(index)
    (index / "esplade_eval.json").write_text(json.dumps(
        {"format": "esplade_eval/sharded-index/1", "shards": [{"path": "../elsewhere"}]}))
    with pytest.raises(InputError, match="shard entry 0: 'path' must name a folder inside the index"):
        shard_paths(index)
    (index / "esplade_eval.json").write_bytes(b'{"format": "esplade_eval/sharded-index/1", "shards": [')
    with pytest.raises(InputError, match="malformed JSON"):  # an unreadable manifest is an error, not "not sharded"
        check_index(index, allow_sharded=True)


def test_ray_is_imported_only_by_the_verbs_that_use_it():
    import subprocess
    import sys

    code = ("import sys\n"
            "from esplade_eval.cli import build_parser\n"
            "build_parser().parse_args(['index', '--collection', 'c', '--index', 'i', '--shards', '2'])\n"
            "import esplade_eval.lucene.shards, esplade_eval.lucene.search, esplade_eval.lucene.postings\n"
            "import esplade_eval.model.export, esplade_eval.cost.report\n"
            "print('ray' in sys.modules)\n"
            "import esplade_eval.distributed.export, esplade_eval.distributed.search, esplade_eval.distributed.index\n"
            "print('ray' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]  # even the Ray modules import ray only when they connect
