"""The study's time estimate against the time the study takes: the smoke study from an empty
work folder, estimated by ``--dry-run`` then run, in one process tree; prints the ratio.

The target (issue 22): the estimate within 2x of the actual time on the smoke study.

    python benchmarks/estimate.py [--config configs/smoke.toml]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def study(config: str, work: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "esplade_eval", "study", config, "--work", os.path.join(work, "work"),
           "--results", os.path.join(work, "results"), "--quiet", *extra]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True,
                          env=dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"))


def estimated_s(dry_run_output: str) -> float:
    m = re.search(r"about ([\d.]+) (s|min) to run", dry_run_output)
    return float(m.group(1)) * (60 if m.group(2) == "min" else 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "smoke.toml"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        estimate = estimated_s(study(args.config, tmp, "--dry-run").stdout)
        start = time.perf_counter()
        study(args.config, tmp)
        actual = time.perf_counter() - start
    ratio = estimate / actual
    print(f"{os.path.basename(args.config)}: estimated {estimate:.0f} s from an empty work folder, ran in "
          f"{actual:.0f} s; estimate / actual = {ratio:.2f} ({'within' if 0.5 <= ratio <= 2 else 'NOT within'} 2x)")


if __name__ == "__main__":
    main()
