"""Drift benchmark: evergreen's data_drift against Evidently 0.7's DataDriftPreset, same data, same run.

    .venv/bin/python benchmarks/drift.py [--rows 10000 100000 1000000]

Each tool runs in its own fresh subprocess (evergreen in this interpreter's venv, Evidently in
.venv-evidently, see requirements-evidently.lock) that builds the same seeded frames, so peak RSS is
measured the same way for both (ru_maxrss of that process, data included). Prints wall times, peak
memory, the speed and memory ratios, the largest absolute difference between per-column scores and
any column whose verdict differs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_EVIDENTLY_PYTHON = ROOT / ".venv-evidently" / "bin" / "python"
N_NUMERIC, SHIFTED_NUMERIC = 10, 3
CATEGORIES = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"], dtype=object)


def build_frames(rows: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """10 numeric columns (the first 3 shifted) and 5 categorical ones (the first shifted).

    Numeric: floats of a few shapes plus two wide integer columns (> 10 values, so numeric).
    Categorical: three string columns, one small-integer column and one boolean column.
    """
    rng = np.random.default_rng(seed)

    def frame(shift: float) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        for i in range(N_NUMERIC):
            delta = shift if i < SHIFTED_NUMERIC else 0.0
            if i % 5 == 3:
                cols[f"num_{i}"] = rng.integers(18, 90, rows) + round(10 * delta)
            elif i % 5 == 4:
                cols[f"num_{i}"] = rng.lognormal(delta * 0.5, 0.7, rows)
            else:
                cols[f"num_{i}"] = rng.normal(delta * 0.5, 1.0, rows)
        weights = np.array([0.3, 0.25, 0.2, 0.12, 0.08, 0.05])
        shifted = weights[::-1] if shift else weights
        cols["cat_0"] = CATEGORIES[rng.choice(6, rows, p=shifted)]
        cols["cat_1"] = CATEGORIES[rng.choice(6, rows, p=weights)]
        cols["cat_2"] = CATEGORIES[rng.choice(4, rows)]
        cols["cat_3"] = rng.integers(0, 8, rows)
        cols["cat_4"] = rng.random(rows) < 0.3
        return pd.DataFrame(cols, copy=False)

    return frame(0.0), frame(1.0)


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (VmHWM), so the run's own peak can be read after it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def _vm_hwm_mb() -> float:
    with open("/proc/self/status") as fh:
        line = next(line for line in fh if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def worker(tool: str, rows: int) -> dict[str, Any]:
    """Build the frames, run one tool once, report its time, memory and per-column results."""
    if tool == "evidently":
        sys.path.insert(0, str(HERE))
        from evidently_runner import evidently_report

        def run(ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, Any]:
            return evidently_report(ref, cur)

    else:
        from evergreen.monitoring import data_drift

        def run(ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, Any]:
            report = data_drift(ref, cur)
            columns = {
                c.column: {"method": c.method, "score": c.score, "drifted": c.drifted} for c in report.columns
            }
            return {"columns": columns, "share": report.share, "dataset_drift": report.dataset_drift}

    reference, current = build_frames(rows)
    rss_data = _rss_mb()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    resettable = _reset_peak_rss()
    start = time.perf_counter()
    result = run(reference, current)
    seconds = time.perf_counter() - start
    run_peak = _vm_hwm_mb() if resettable else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        **result,
        "seconds": seconds,
        # Whole-process peak (frames, interpreter, imports and the run), the same measure for both tools.
        "peak_rss_mb": max(peak_before, run_peak),
        # What the drift computation itself added on top of the resident frames.
        "run_extra_mb": run_peak - rss_data,
        "rss_after_data_mb": rss_data,
    }


def _spawn(python: str, tool: str, rows: int) -> dict[str, Any]:
    start = time.perf_counter()
    proc = subprocess.run(
        [python, str(Path(__file__).resolve()), "--worker", tool, "--rows", str(rows)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if proc.returncode != 0:
        raise SystemExit(f"{tool} worker failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - start
    return result


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> tuple[float, list[str]]:
    """Largest absolute score difference and the columns whose method or verdict differs."""
    worst, differences = 0.0, []
    for name, want in theirs["columns"].items():
        got = ours["columns"].get(name)
        if got is None:
            differences.append(f"{name}: missing in evergreen")
            continue
        if got["score"] != want["score"]:  # equal infinities have no meaningful difference
            worst = max(worst, abs(got["score"] - want["score"]))
        if got["drifted"] != want["drifted"] or got["method"] != want["method"]:
            differences.append(
                f"{name}: evergreen {got['method']}/{got['drifted']}, "
                f"evidently {want['method']}/{want['drifted']}"
            )
    differences += [
        f"{name}: missing in evidently" for name in ours["columns"] if name not in theirs["columns"]
    ]
    if ours["dataset_drift"] != theirs["dataset_drift"] or ours["share"] != theirs["share"]:
        differences.append(f"dataset: evergreen {ours['share']}, evidently {theirs['share']}")
    return worst, differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--evidently-python", default=str(DEFAULT_EVIDENTLY_PYTHON))
    parser.add_argument("--worker", choices=["evergreen", "evidently"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.rows[0])))
        return 0
    if not Path(args.evidently_python).exists():
        print(f"no Evidently interpreter at {args.evidently_python}; see requirements-evidently.lock")
        return 2
    header = (
        f"{'rows':>9} | {'evergreen s':>11} | {'evidently s':>11} | {'speed-up':>8} | {'evergreen MB':>12} | "
        f"{'evidently MB':>12} | {'mem ratio':>9} | {'max |diff|':>10} | verdicts"
    )
    print(header)
    print("-" * len(header))
    for rows in args.rows:
        ours = _spawn(sys.executable, "evergreen", rows)
        theirs = _spawn(args.evidently_python, "evidently", rows)
        worst, differences = compare(ours, theirs)
        print(
            f"{rows:>9,} | {ours['seconds']:>11.3f} | {theirs['seconds']:>11.3f} | "
            f"{theirs['seconds'] / ours['seconds']:>7.1f}x | {ours['peak_rss_mb']:>12.0f} | "
            f"{theirs['peak_rss_mb']:>12.0f} | {ours['peak_rss_mb'] / theirs['peak_rss_mb']:>9.3f} | "
            f"{worst:>10.1e} | {'same' if not differences else '; '.join(differences)}",
            flush=True,
        )
        print(
            f"{'':>9}   process wall: evergreen {ours['process_seconds']:.1f} s, evidently "
            f"{theirs['process_seconds']:.1f} s; RSS with the frames built: evergreen "
            f"{ours['rss_after_data_mb']:.0f} MB, evidently {theirs['rss_after_data_mb']:.0f} MB; "
            f"peak added by the drift run: evergreen {ours['run_extra_mb']:.0f} MB, evidently "
            f"{theirs['run_extra_mb']:.0f} MB; drifted columns {ours['share']:.3f} vs {theirs['share']:.3f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
