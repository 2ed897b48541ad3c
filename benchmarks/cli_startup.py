"""CLI start-up benchmark: each verb timed as a whole process, beside ``mlflow --help``.

    .venv/bin/python benchmarks/cli_startup.py [--repeat 5] [--project DIR]

A small project is made first (``evergreen init`` + one ``evergreen retrain`` with one fast
candidate), so ``status``, ``models``, ``runs`` and ``alerts`` read a real champion, runs and an
MLflow store. Each command then runs once to warm the disk cache, then ``--repeat`` times; the median
wall time of the whole process (interpreter start to exit) is reported. ``evergreen`` runs as
``python -m evergreen`` with the interpreter running this script, so ``PYTHONPATH`` picks the source
tree; ``mlflow --help`` is the console script of the same venv.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "cli_startup"

VERBS: list[tuple[str, ...]] = [
    ("--help",),
    ("status",),
    ("status", "--json"),
    ("runs",),
    ("alerts",),
    ("models",),
    ("retrain", "--help"),
]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "EVERGREEN_PII_SALT": "bench-salt", "NO_COLOR": "1"})
    return env


def make_project(d: Path) -> Path:
    import yaml

    shutil.rmtree(d, ignore_errors=True)
    evergreen = [sys.executable, "-m", "evergreen"]
    subprocess.run([*evergreen, "init", str(d)], check=True, capture_output=True, env=_env())
    cfg = yaml.safe_load((d / "evergreen.yaml").read_text())
    cfg["training"]["candidates"] = ["logistic_regression"]
    (d / "evergreen.yaml").write_text(yaml.safe_dump(cfg))
    subprocess.run([*evergreen, "retrain"], check=True, capture_output=True, cwd=d, env=_env())
    return d


def time_command(cmd: list[str], cwd: Path, repeat: int) -> list[float]:
    """Wall times of ``repeat`` runs after one warm-up run; a failing command stops the benchmark."""
    times = []
    for i in range(repeat + 1):
        t = time.perf_counter()
        res = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True)
        wall = time.perf_counter() - t
        if res.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stderr[-2000:]}")
        if i:
            times.append(wall)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--project", type=Path, help="Reuse this project instead of making one.")
    args = ap.parse_args()
    project = args.project or make_project(WORK / "proj")

    rows: list[tuple[str, list[float]]] = []
    mlflow = Path(sys.executable).parent / "mlflow"
    rows.append(("mlflow --help", time_command([str(mlflow), "--help"], project, args.repeat)))
    for verb in VERBS:
        cmd = [sys.executable, "-m", "evergreen", *verb]
        rows.append((f"evergreen {' '.join(verb)}", time_command(cmd, project, args.repeat)))

    print(f"whole-process wall time, median of {args.repeat} after 1 warm-up run")
    for name, ts in rows:
        print(f"  {name:26s} {statistics.median(ts):6.3f} s  (min {min(ts):.3f}, max {max(ts):.3f})")
    print(json.dumps({name: ts for name, ts in rows}))


if __name__ == "__main__":
    main()
