"""Judge the findings again from a results folder's tables, without the stage records.

A results folder keeps every number the findings read: ``per_seed.csv`` (one row per
system, seed and level) and ``per_query.csv.gz`` (one row per system, seed, level and
query). :func:`load` reads them back into :class:`esplade_eval.study.stats.StudyData`, so the
current statistics can re-judge a committed study (say, after a rule changes) in seconds.

>>> from esplade_eval.study.config import load_config          # doctest: +SKIP
>>> data = load("results/semanlink-cpu", ("nDCG@10",))           # doctest: +SKIP
>>> [f.verdict for f in findings.judge(load_config("configs/semanlink-cpu.toml"), data)]   # doctest: +SKIP
"""

from __future__ import annotations

import math
from pathlib import Path

from esplade_eval.errors import EspladeError
from esplade_eval.study import findings, stats

KEYS = ("system", "seed", "level")


def _seed(value):
    """Seeds as the stage records hold them: an int, or None for a system with one run."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(float(value))


def _read(path: Path, **kwargs):
    import pandas as pd

    if not path.is_file():
        raise EspladeError(f"{path}: no such file (a results folder holds per_seed.csv and per_query.csv.gz)")
    table = pd.read_csv(path, dtype={"level": str, "qid": str, "system": str}, keep_default_na=False,
                        na_values=[""], **kwargs)
    missing = [k for k in KEYS if k not in table.columns]
    if missing:
        raise EspladeError(f"{path}:1: no column {missing[0]!r} (columns: {', '.join(table.columns)})")
    return table


def load(folder, measures) -> stats.StudyData:
    """The per-seed rows and per-query values of a results folder, as the findings read them."""
    folder = Path(folder)
    rows = _read(folder / "per_seed.csv")
    per_query = _read(folder / "per_query.csv.gz")
    absent = [m for m in measures if m not in per_query.columns]
    if absent:
        raise EspladeError(f"{folder / 'per_query.csv.gz'}:1: no column for measure {absent[0]!r}")
    rows["seed"] = [_seed(s) for s in rows["seed"]]
    per_query["seed"] = [_seed(s) for s in per_query["seed"]]
    data = stats.StudyData(rows=rows, measures=tuple(measures))
    values = [c for c in per_query.columns if c not in (*KEYS, "qid")]
    for (system, seed, level), frame in per_query.groupby(["system", "seed", "level"], dropna=False, sort=False):
        seed = _seed(seed)
        data.per_query[(system, seed, level)] = frame.set_index("qid")[values].astype(float)
    return data


def rejudge(cfg, folder) -> list:
    """The findings of ``cfg`` on the tables of ``folder`` (see :func:`load`)."""
    return findings.judge(cfg, load(folder, cfg.evaluation.measures))
