"""Stages run concurrently against the serial engine: one small real study from an empty work
folder with ``--jobs 1`` and with ``--jobs N``, in the same run; prints the wall-time ratio and
whether the two result tables agree (latency columns aside).

The target (issue 21, item 6): the committed study well under 60 min on this 2-core machine.
The collection is prepared once, before either timing, and shared by both runs.

    python benchmarks/study_jobs.py [--config configs/smoke.toml] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMING = re.compile(r"^(latency_|.*_s$)")


def shared_config(config: str, tmp: Path) -> Path:
    """A copy of ``config`` whose collection is prepared once, under ``tmp/data``."""
    from esplade_eval.study.collection import prepare_collection
    from esplade_eval.study.config import load_config

    text = Path(config).read_text(encoding="utf-8")
    data = (tmp / "data").as_posix()
    text = re.sub(r"^\[collection\]\n", f'[collection]\nroot = "{data}"\n', text, count=1, flags=re.M)
    copy = tmp / Path(config).name
    copy.write_text(text, encoding="utf-8")
    prepare_collection(load_config(copy, work=tmp / "prepare"), echo=None)
    return copy


def study(config: Path, out: Path, jobs: int) -> float:
    cmd = [sys.executable, "-m", "esplade_eval", "study", str(config), "--work", str(out / "work"),
           "--results", str(out / "results"), "--quiet", "--jobs", str(jobs)]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True,
                   env=dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"))
    return time.perf_counter() - start


def same_tables(a: Path, b: Path) -> bool:
    import pandas as pd

    for name in ("grid.csv", "per_seed.csv"):
        ta, tb = pd.read_csv(a / name), pd.read_csv(b / name)
        keep = [c for c in ta.columns if not TIMING.match(c)]
        if list(ta.columns) != list(tb.columns) or not ta[keep].equals(tb[keep]):
            return False
    return (a / "findings.json").read_text() == (b / "findings.json").read_text()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "smoke.toml"))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = shared_config(args.config, tmp)
        serial = study(config, tmp / "jobs1", 1)
        concurrent = study(config, tmp / "jobsN", args.jobs)
        same = same_tables(tmp / "jobs1" / "results", tmp / "jobsN" / "results")
    print(f"{os.path.basename(args.config)} from an empty work folder (collection prepared once, before): "
          f"--jobs 1 {serial:.0f} s, --jobs {args.jobs} {concurrent:.0f} s; jobs 1 / jobs {args.jobs} = "
          f"{serial / concurrent:.2f}x; tables {'identical' if same else 'DIFFER'} (latency aside); "
          f"{os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
