"""CLI start-up benchmark: each verb timed as a whole process, beside ``mlflow --help``.

    .venv/bin/python benchmarks/cli_startup.py [--repeat 5] [--src DIR ...]

A small project is made first (``evergreen init`` + one ``evergreen retrain`` with one fast
candidate), so ``status``, ``models``, ``runs`` and ``alerts`` read a real champion, runs and an
MLflow store. Each command runs once to warm the disk cache, then ``--repeat`` times; the median wall
time of the whole process (interpreter start to exit) is reported, with the median CPU time (user +
system) of the process, which a busy machine inflates less than the wall time.

``evergreen`` runs as ``python -m evergreen`` with the interpreter running this script. ``--src``
(repeatable) puts a source tree first on ``PYTHONPATH`` — e.g. the code before and after a change —
with a project made by that tree, and the runs of the trees are interleaved, so both see the same
load. ``mlflow --help`` is the console
script of the same venv.

Before timing, each tree's modules are byte-compiled (``compileall``), as ``pip install`` does for an
installed package; the interpreter then loads them as a user's would. Without this, an editable
checkout in an environment with ``PYTHONDONTWRITEBYTECODE=1`` (this machine's) recompiles every
evergreen module from source in every process (~0.03-0.05 s of a ``status``); ``--no-compile``
measures that case.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
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


def _env(src: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "EVERGREEN_PII_SALT": "bench-salt", "NO_COLOR": "1"})
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def make_project(d: Path, src: Path | None) -> Path:
    import yaml

    shutil.rmtree(d, ignore_errors=True)
    evergreen = [sys.executable, "-m", "evergreen"]
    subprocess.run([*evergreen, "init", str(d)], check=True, capture_output=True, env=_env(src))
    cfg = yaml.safe_load((d / "evergreen.yaml").read_text())
    cfg["training"]["candidates"] = ["logistic_regression"]
    (d / "evergreen.yaml").write_text(yaml.safe_dump(cfg))
    subprocess.run([*evergreen, "retrain"], check=True, capture_output=True, cwd=d, env=_env(src))
    return d


def _installed_package() -> Path:
    import evergreen

    return Path(evergreen.__file__).resolve().parent


def run_once(cmd: list[str], cwd: Path, src: Path | None) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one whole process; a failing command stops the run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    res = subprocess.run(cmd, cwd=cwd, env=_env(src), capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--src", type=Path, action="append", help="A source tree to time (repeatable).")
    ap.add_argument("--no-compile", action="store_true", help="Do not byte-compile the trees first.")
    args = ap.parse_args()
    sources: list[Path | None] = list(args.src) if args.src else [None]
    if not args.no_compile:
        for src in sources:
            tree = src if src is not None else _installed_package()
            compileall.compile_dir(str(tree), quiet=1)
    # One project per source tree: each tree's own migrations made its metadata database.
    projects = [make_project(WORK / f"proj{i}", src) for i, src in enumerate(sources)]

    mlflow = Path(sys.executable).parent / "mlflow"
    cases: list[tuple[str, list[str], Path | None, Path]] = [
        ("mlflow --help", [str(mlflow), "--help"], None, projects[0])
    ]
    for verb in VERBS:
        for src, project in zip(sources, projects, strict=True):
            name = f"evergreen {' '.join(verb)}" + (f"  [{src}]" if len(sources) > 1 else "")
            cases.append((name, [sys.executable, "-m", "evergreen", *verb], src, project))

    for _, cmd, src, project in cases:  # warm the disk cache once
        run_once(cmd, project, src)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _, _ in cases}
    for _ in range(args.repeat):  # interleaved: every case sees the same load over the run
        for name, cmd, src, project in cases:
            samples[name].append(run_once(cmd, project, src))

    compiled = "source only, not byte-compiled" if args.no_compile else "byte-compiled first"
    print(
        f"whole process, median of {args.repeat} after 1 warm-up run ({compiled}): "
        "wall time (CPU time user+sys)"
    )
    for name, runs in samples.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(
            f"  {name:60s} {statistics.median(walls):6.3f} s  (cpu {statistics.median(cpus):.3f} s; "
            f"wall min {min(walls):.3f}, max {max(walls):.3f})"
        )
    print(json.dumps(samples))


if __name__ == "__main__":
    main()
