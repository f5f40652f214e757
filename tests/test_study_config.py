"""The study config: grid expansion (names, counts) and every validation error with its key."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from esplade_eval.study.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.toml"))

BASE = """
seeds = [0, 1, 2]
[pretrain]
init_encoder = "splade-tiny"
epochs = 1.0
[evaluation]
levels = ["full", "d32-q16", "d8-q4"]
strictest = "d8-q4"
"""


def write(tmp_path, text: str, name: str = "study.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path, text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    message = str(info.value)
    for key, problem in info.value.problems:  # every line reads file: key: problem
        assert f"study.toml: {key}: {problem}" in message
    return info.value.problems


def keys(tmp_path, text: str) -> list[str]:
    return [k for k, _ in problems(tmp_path, text)]


# --- expansion ---------------------------------------------------------------------------

def test_grid_times_explicit_arms_names_and_counts(tmp_path):
    cfg = load_config(write(tmp_path, BASE + """
        [grid]
        corpus = ["general", "titles"]
        lr = [1e-4, 1e-3]
        [[arms]]
        corpus = "general"
        lr = 1e-3
        repeats = 3
    """))
    assert [a.name for a in cfg.arms] == ["general-lr1e-4-r1", "general-lr1e-3-r1", "titles-lr1e-4-r1",
                                          "titles-lr1e-3-r1", "general-lr1e-3-r3"]
    arm = cfg.arm("general-lr1e-3-r3")
    assert arm.pretrain["corpora"] == ["general"] and arm.pretrain["repeats"] == 3 and arm.pretrain["lr"] == 1e-3
    assert arm.pretrain["init_encoder"] == "splade-tiny" and arm.pretrain["epochs"] == 1.0  # the base settings
    assert arm.origin == "arms[0]" and cfg.arm("titles-lr1e-4-r1").origin == "grid"
    assert cfg.seeds == (0, 1, 2) and set(cfg.reference_names) == {"bm25", "splade-tiny-zs", "splade-tiny-ft",
                                                                    "esplade-no-mlm"}
    assert cfg.vocab["corpora"] == ["general", "titles"]  # one vocabulary over every arm's corpora


def test_other_axes_named_and_multiplied(tmp_path):
    cfg = load_config(write(tmp_path, BASE + """
        [grid]
        corpus = ["general"]
        lr = [5e-4, 2.5e-4]
        repeats = [1, 2]
        init_encoder = ["splade-tiny", "none"]
    """))
    names = [a.name for a in cfg.arms]
    assert len(names) == 8 == len(set(names))
    assert "general-lr2.5e-4-r2-init_encodernone" in names
    scratch = cfg.arm("general-lr5e-4-r1-init_encodernone")
    assert scratch.pretrain["init_encoder"] is None  # "none" unsets an optional field


def test_explicit_name_and_corpus_list(tmp_path):
    cfg = load_config(write(tmp_path, BASE + """
        [[arms]]
        name = "mixed"
        corpus = ["general", "titles"]
        [[arms]]
        corpus = ["wiki", "films"]
        lr = 0.0003
    """))
    assert [a.name for a in cfg.arms] == ["mixed", "wiki+films-lr3e-4-r1"]
    assert cfg.arm("mixed").pretrain["corpora"] == ["general", "titles"]


def test_format_value():
    from esplade_eval.study.checks import format_value

    assert [format_value(v) for v in (1e-3, 5e-4, 2.5e-4, 3, 1.0, 0.5, "configs/my corpus.txt")] == \
        ["1e-3", "5e-4", "2.5e-4", "3", "1", "0.5", "my-corpus"]


# --- validation: every problem, with its key -------------------------------------------------

@pytest.mark.parametrize("text, key, fragment", [
    ("colour = 'red'\n[grid]\ncorpus=['general']", "colour", "unknown key"),
    ("[pretrain]\nstpes = 3\n[grid]\ncorpus=['general']", "pretrain.stpes", "did you mean 'steps'"),
    ("[pretrain]\nseed = 3\n[grid]\ncorpus=['general']", "pretrain.seed", "seeds"),
    ("[pretrain]\nvocab_size = 3\n[grid]\ncorpus=['general']", "pretrain.vocab_size", "[vocab]"),
    ("[grid]\ncorpus=['general']\nlr = [1e-3, 'fast']", "grid.lr[1]", "expected a number"),
    ("[grid]\ncorpus=['general']\nlr = 1e-3", "grid.lr", "non-empty list"),
    ("[grid]\ncorpus=['general', 'nosuchcorpus']", "grid.corpus[1]", "neither a bundled corpus"),
    ("[grid]\ncorpus=['general']\nlr=[1e-3, 1e-3]", "grid.lr", "repeat"),
    ("[pretrain]\nsteps = 100\n[grid]\ncorpus=['general']\nrepeats=[1, 3]", "grid.repeats[1]", "same budget"),
    ("[pretrain]\nsteps = 100\nrepeats = 2\n[grid]\ncorpus=['general']", "pretrain.repeats", "same budget"),
    ("[pretrain]\nsteps = 100\n[[arms]]\ncorpus='general'\nrepeats=3", "arms[0].repeats", "same budget"),
    ("[[arms]]\ncorpus='general'\nsteps=5\nrepeats=2", "arms[0].repeats", "arms[0].steps = 5"),
    ("[grid]\ncorpus=['general']\n[[arms]]\ncorpus='general'", "arms[0]", "already used by grid"),
    ("[[arms]]\ncorpus='general'\nname='bm25'", "arms[0].name", "reference system"),
    ("[[arms]]\ncorpus='general'\nname='a b'", "arms[0].name", "folder-safe"),
    ("[[arms]]\nlr=1e-3", "arms[0].corpus", "no corpus"),
    ("", "grid", "no arms"),
    ("seeds = []\n[grid]\ncorpus=['general']", "seeds", "non-empty list"),
    ("seeds = [1, 1]\n[grid]\ncorpus=['general']", "seeds", "repeat"),
    ("threads = 'two'\n[grid]\ncorpus=['general']", "threads", "expected an integer"),
    ("[finetune]\nsteps = 'many'\n[grid]\ncorpus=['general']", "finetune.steps", "expected an integer"),
    ("[finetune]\ninit = 'x'\n[grid]\ncorpus=['general']", "finetune.init", "set by the study"),
    ("[references]\nbm25 = 'yes'\n[grid]\ncorpus=['general']", "references.bm25", "true or false"),
    ("[references]\ncolbert = true\n[grid]\ncorpus=['general']", "references.colbert", "unknown key"),
    ("[evaluation]\nlevels=['full','bogus']\nstrictest='full'\n[grid]\ncorpus=['general']", "evaluation.levels[1]",
     "bad pruning name"),
    ("[evaluation]\nlevels=['full','d8-q4']\nstrictest='d4'\n[grid]\ncorpus=['general']", "evaluation.strictest",
     "not one of the levels"),
    ("[evaluation]\nlevels=['full','d8-q4']\n[grid]\ncorpus=['general']", "evaluation.strictest", "required"),
    ("[evaluation]\nlevels=['d16','d8-q4']\nstrictest='d8-q4'\n[grid]\ncorpus=['general']", "evaluation.unpruned",
     "required"),
    ("[evaluation]\nmeasures=['nDCG@10','XYZ@3']\n[grid]\ncorpus=['general']", "evaluation.measures",
     "unknown measure"),
    ("[findings.repeats]\nmargin = -1\n[grid]\ncorpus=['general']", "findings.repeats.margin", "> 0"),
    ("[findings.cost]\nmeasure = 'AP'\n[grid]\ncorpus=['general']", "findings.cost.measure",
     "not one of the evaluation measures"),
    ("[findings.general_high_lr]\nmlm_set = 'news'\n[grid]\ncorpus=['general']", "findings.general_high_lr.mlm_set",
     "expected one of"),
    ("[findings]\nalpha = 2.0\n[grid]\ncorpus=['general']", "findings.alpha", "must be in (0, 1)"),
    ("[collection]\nname = 'msmarco'\n[grid]\ncorpus=['general']", "collection", "unknown collection 'msmarco'"),
    ("[collection]\nname = 'x'\ncorpus = 'nofile.jsonl'\n[grid]\ncorpus=['general']", "collection", "topics: missing"),
    ("[collection]\nname = 'x'\ncorpus = 'nofile.jsonl'\ntopics = {test = 'a.tsv'}\nqrels = {test = 'b.txt'}\n"
     "[grid]\ncorpus=['general']", "collection.corpus", "nofile.jsonl: file not found"),
    ("[collection]\nurl = 'http://x'\n[grid]\ncorpus=['general']", "collection.url", "unknown key"),
    ("[collection]\ndocuments = 1\n[grid]\ncorpus=['general']", "collection.documents", ">= 2"),
    ("[vocab]\nsize = 0\n[grid]\ncorpus=['general']", "vocab.size", ">= 1"),
    ("[tuning]\nsystem = 'nope'\n[[tuning.candidates]]\nsteps=5\n[grid]\ncorpus=['general']", "tuning.system",
     "not one of"),
    ("[tuning]\ncandidates = []\n[grid]\ncorpus=['general']", "tuning.candidates", "non-empty list"),
    ("[[tuning.candidates]]\nsteps='x'\n[grid]\ncorpus=['general']", "tuning.candidates[0].steps",
     "expected an integer"),
])
def test_each_problem_names_its_key(tmp_path, text, key, fragment):
    found = problems(tmp_path, text)
    matching = [p for k, p in found if k == key]
    assert matching, f"no problem for {key}: {found}"
    assert any(fragment in p for p in matching), matching


def test_every_problem_reported_at_once(tmp_path):
    found = keys(tmp_path, """
        seeds = [0, 0]
        [pretrain]
        stpes = 3
        steps = 10
        [grid]
        corpus = ["general"]
        lr = [1e-3, "x"]
        repeats = [1, 2]
        [evaluation]
        levels = ["full", "d8-q4"]
        strictest = "d4"
    """)
    assert {"seeds", "pretrain.stpes", "grid.lr[1]", "grid.repeats[1]", "evaluation.strictest"} <= set(found)


def test_syntax_error_names_file_and_line(tmp_path):
    from esplade_eval.errors import InputError

    path = write(tmp_path, "name = 'x'\n[grid\ncorpus = ['general']\n")
    with pytest.raises(InputError, match=r"study\.toml:2: not valid TOML"):
        load_config(path)


def test_cli_bad_config_exit_status_2(tmp_path):
    path = write(tmp_path, "[grid]\ncorpus = ['general']\nlr = ['fast']\n")
    proc = subprocess.run([sys.executable, "-m", "esplade_eval", "study", str(path), "--dry-run"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert "study.toml: grid.lr[0]: expected a number, got 'fast'" in proc.stderr



def test_a_second_study_on_a_busy_work_folder_fails_at_once_and_touches_nothing(tmp_path):
    """Two processes, one work folder: the second refuses before it prepares or runs anything."""
    work = tmp_path / "work"
    holder = ("import sys, time; from pathlib import Path; from esplade_eval.study.cache import StageStore\n"
              "with StageStore(sys.argv[1]).locked():\n"
              "    Path(sys.argv[2]).touch(); time.sleep(60)\n")
    ready = tmp_path / "ready"
    first = subprocess.Popen([sys.executable, "-c", holder, str(work), str(ready)])
    try:
        for _ in range(300):
            if ready.exists() or first.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.exists(), "the first process never took the lock"
        proc = subprocess.run([sys.executable, "-m", "esplade_eval", "study", str(ROOT / "configs" / "smoke.toml"),
                               "--work", str(work), "--results", str(tmp_path / "results"), "--quiet"],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
    finally:
        first.kill()
        first.wait()
    assert proc.returncode == 2, proc.stderr
    assert f"{work}: another study is running in this work folder" in proc.stderr
    assert sorted(p.name for p in work.iterdir()) == [".lock"]  # nothing prepared, no stage started
    assert not (tmp_path / "results").exists()

# --- the committed configs and their plans ---------------------------------------------------

@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_committed_configs_are_valid(path):
    cfg = load_config(path)
    assert cfg.arms and cfg.seeds and cfg.evaluation.strictest in cfg.evaluation.levels


def test_semanlink_cpu_is_the_papers_grid():
    cfg = load_config(ROOT / "configs" / "semanlink-cpu.toml")
    axes = [a.axes for a in cfg.arms]
    assert {a["corpus"] for a in axes} == {"general", "titles"}
    assert len({a["lr"] for a in axes}) == 2 and {a["repeats"] for a in axes} == {1, 3}
    assert len(cfg.seeds) == 3 and len(cfg.reference_names) == 4


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_dry_run_prints_the_plan_without_torch(path, tmp_path):
    code = ("import sys; from esplade_eval.cli import main; rc = main(['study', sys.argv[1], '--dry-run', "
            "'--work', sys.argv[2]]); assert 'torch' not in sys.modules and 'jnius' not in sys.modules; "
            "raise SystemExit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "work")], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "to run" in proc.stdout and "stages cached" in proc.stdout
    assert not (tmp_path / "work").exists()  # a dry run writes nothing


def test_keys_follow_the_config_slice(tmp_path):
    """Changing a cost setting re-keys the cost stages only; a fine-tuning change re-keys what follows it."""
    from dataclasses import replace

    from esplade_eval.study.plan import build_plan

    cfg = load_config(write(tmp_path, BASE + "[grid]\ncorpus = ['general', 'titles']\n"))
    base = {(s.kind, s.name): s.key for s in build_plan(cfg, "fp").stages}
    ev = replace(cfg.evaluation, latency_passes=cfg.evaluation.latency_passes + 1)
    changed = {(s.kind, s.name) for s in build_plan(replace(cfg, evaluation=ev), "fp").stages
               if base[(s.kind, s.name)] != s.key}
    assert changed and {kind for kind, _ in changed} == {"cost"}
    ft = {(s.kind, s.name) for s in build_plan(replace(cfg, finetune={"steps": 7}), "fp").stages
          if base[(s.kind, s.name)] != s.key}
    assert {kind for kind, _ in ft} == {"finetune", "flow", "evaluate", "cost", "parity"}  # parity reads them
    other = {(s.kind, s.name) for s in build_plan(cfg, "another collection").stages if base[(s.kind, s.name)] != s.key}
    # everything: the collection's documents are also what pre-training and the vocabulary leave out
    assert {kind for kind, _ in other} == {"vocab", "pretrain", "finetune", "flow", "evaluate", "cost", "bm25",
                                           "parity"}
    allowed = replace(cfg, arms=tuple(replace(a, pretrain={**a.pretrain, "exclude_eval_docs": [],
                                                            "allow_eval_docs": True}) for a in cfg.arms),
                      pretrain={**cfg.pretrain, "exclude_eval_docs": [], "allow_eval_docs": True})
    keys = {(s.kind, s.name): s.key for s in build_plan(allowed, "fp").stages}
    moved = {(s.kind, s.name) for s in build_plan(allowed, "another collection").stages if keys[(s.kind, s.name)] != s.key}
    assert {kind for kind, _ in moved} == {"finetune", "flow", "evaluate", "cost", "bm25", "parity"}  # texts unchanged


def test_keys_follow_each_kinds_version_not_its_source(tmp_path, monkeypatch):
    """Bumping a kind's VERSION re-keys that kind and what follows it; the package version
    re-keys every stage; no source is read (editing a module changes no key)."""
    import esplade_eval
    from esplade_eval.study import stages
    from esplade_eval.study.plan import build_plan

    cfg = load_config(write(tmp_path, BASE + "[grid]\ncorpus = ['general', 'titles']\n"))
    base = {(s.kind, s.name): s.key for s in build_plan(cfg, "fp").stages}
    monkeypatch.setattr(stages.cost, "VERSION", stages.cost.VERSION + 1)
    moved = {k for s in build_plan(cfg, "fp").stages if base[(k := (s.kind, s.name))] != s.key}
    assert moved and {kind for kind, _ in moved} == {"cost"}
    monkeypatch.setattr(stages.finetune, "VERSION", stages.finetune.VERSION + 1)
    moved = {kind for s in build_plan(cfg, "fp").stages if base[((kind := s.kind), s.name)] != s.key}
    assert moved == {"finetune", "flow", "evaluate", "cost", "parity"}
    monkeypatch.setattr(esplade_eval, "__version__", esplade_eval.__version__ + ".post1")
    assert all(base[(s.kind, s.name)] != s.key for s in build_plan(cfg, "fp").stages)


def test_every_stage_kind_is_one_typed_unit():
    """Each kind in the registry: a VERSION, a frozen Params, Outputs that round-trip, run()."""
    import dataclasses

    from esplade_eval.study.stages import KINDS

    assert set(KINDS) == {"vocab", "start", "pretrain", "finetune", "flow", "bm25", "dense", "evaluate", "cost", "parity"}
    for kind, module in KINDS.items():
        assert module.KIND == kind and isinstance(module.VERSION, int) and callable(module.run)
        assert module.Params.__dataclass_params__.frozen, kind
        assert dataclasses.is_dataclass(module.Outputs) and hasattr(module.Outputs, "load"), kind


def _user_files(folder: Path) -> None:
    import json

    folder.mkdir()
    docs = [(f"d{i}", f"title number {i} about {'graphs' if i % 2 else 'search'}") for i in range(30)]
    (folder / "docs.jsonl").write_text("".join(json.dumps({"id": d, "contents": t}) + "\n" for d, t in docs))
    for split, qs in {"train": range(0, 6), "dev": range(6, 9), "test": range(9, 12)}.items():
        (folder / f"q.{split}.tsv").write_text("".join(f"q{q}\tquery {q}\n" for q in qs))
        (folder / f"r.{split}.txt").write_text("".join(f"q{q} 0 d{q} 1\n" for q in qs))


def test_a_users_collection_given_by_its_files(tmp_path):
    """Inline files (relative to the config), prepared once; their content keys the stages that read them."""
    from dataclasses import replace

    from esplade_eval.study.collection import check_splits, prepare_collection
    from esplade_eval.study.plan import build_plan

    _user_files(tmp_path / "mine")
    splits = ", ".join(f'{s} = "mine/q.{s}.tsv"' for s in ("train", "dev", "test"))
    qrels = ", ".join(f'{s} = "mine/r.{s}.txt"' for s in ("train", "dev", "test"))
    cfg = load_config(write(tmp_path, BASE + f"""
        [collection]
        name = "mine"
        corpus = "mine/docs.jsonl"
        topics = {{ {splits} }}
        qrels = {{ {qrels} }}
        [grid]
        corpus = ["general"]
    """), work=tmp_path / "work")
    assert prepare_collection(cfg, create=False) is None  # a dry run prepares nothing
    col = prepare_collection(cfg)
    assert col.root == tmp_path / "work" / "data" / "mine" and col.splits == ("dev", "test", "train")
    check_splits(col, cfg)
    assert len(list(col.docs())) == 30
    keys = {(s.kind, s.name): s.key for s in build_plan(cfg, col.fingerprint).stages}
    sub = prepare_collection(replace(cfg, collection={**cfg.collection, "documents": 10}))
    assert len(list(sub.docs())) == 10 and sub.fingerprint != col.fingerprint
    assert set(sub.read_qrels("test")) == {"q9"}  # q10 and q11 judge d10, d11: outside the first 10
    moved = {(s.kind, s.name) for s in build_plan(cfg, sub.fingerprint).stages if keys[(s.kind, s.name)] != s.key}
    assert {k for k, _ in moved} == {"vocab", "pretrain", "finetune", "flow", "evaluate", "cost", "bm25", "parity"}
