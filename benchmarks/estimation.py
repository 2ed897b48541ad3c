"""Performance-estimation benchmark: evergreen's CBPE / DLE against NannyML 0.13's, same data, same run.

    .venv/bin/python benchmarks/estimation.py [--rows 10000 100000 1000000] [--tasks binary ...] [--repeat N]

The data (seeded; a covariate shift that grows chunk by chunk, labels for every row) is written
once to a temporary directory; each tool then runs in its own fresh subprocess that loads it (evergreen
in this interpreter, NannyML in .venv-nannyml, built on demand from requirements-nannyml.lock), so
both are timed and measured the same way: wall time of fit + estimate (imports done before the
clock starts), and the peak RSS of the run above the loaded data and imports. Ten chunks per run;
the reference is min(rows, 100 000) rows.

With ``--repeat N`` each tool runs N times, the two interleaved, and the medians are compared (a
shared machine's speed moves by 2-3x from one second to the next). Prints per task and size: the
largest difference per metric between the two estimates, the largest relative difference between
the sampling errors, each tool's mean absolute error against the realised values, both wall times
and both peak memories.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LOCK = ROOT / "requirements-nannyml.lock"
DEFAULT_NANNYML_PYTHON = ROOT / ".venv-nannyml" / "bin" / "python"
CHUNKS = 10
MAX_REFERENCE = 100_000
N_FEATURES = 4
# evergreen's metric name -> NannyML's, per task.
METRICS = {
    "binary": {"accuracy": "accuracy", "f1_class_1": "f1", "roc_auc": "roc_auc"},
    "multiclass": {"accuracy": "accuracy", "f1_macro": "f1", "roc_auc": "roc_auc"},
    "regression": {"mae": "mae", "rmse": "rmse"},
}
CLASSES = ("a", "b", "c")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def build(task: str, rows: int, seed: int = 11) -> dict[str, pd.DataFrame]:
    """Reference and analysis frames: features x0..x3, the model's outputs, the label ``y``."""
    rng = np.random.default_rng(seed)

    def frame(n: int, shift: np.ndarray) -> pd.DataFrame:
        x = rng.standard_normal((n, N_FEATURES))
        x[:, 0] += shift
        x[:, 2] += 0.5 * shift
        out = pd.DataFrame({f"x{i}": x[:, i] for i in range(N_FEATURES)})
        if task == "binary":
            logit = 1.5 * x[:, 0] - x[:, 1] + 0.5 * x[:, 2] * x[:, 3]
            out["y"] = (rng.random(n) < _sigmoid(logit)).astype(np.int64)
            out["p"] = _sigmoid(1.4 * (1.5 * x[:, 0] - x[:, 1]) + 0.3)  # over-confident, biased
            out["pred"] = (out["p"] >= 0.5).astype(np.int64)
        elif task == "multiclass":
            w = np.array([[1.2, -0.6, 0.0], [0.0, 1.0, -0.8], [0.5, 0.0, 0.7], [-0.4, 0.3, 0.2]])
            logits = x @ w
            prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            draws = (rng.random(n)[:, None] > prob.cumsum(axis=1)).sum(axis=1)
            out["y"] = np.array(CLASSES, dtype=object)[np.minimum(draws, 2)]
            model = np.exp(1.3 * logits[:, :3] + np.array([0.2, 0.0, -0.2]))
            model /= model.sum(axis=1, keepdims=True)
            for k, c in enumerate(CLASSES):
                out[f"p_{c}"] = model[:, k]
            out["pred"] = np.array(CLASSES, dtype=object)[model.argmax(axis=1)]
        else:
            noise = (0.3 + 0.4 * np.abs(x[:, 2])) * rng.standard_normal(n)
            out["y"] = np.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2 + 0.3 * x[:, 3] + noise
            out["pred"] = np.sin(x[:, 0]) + 0.4 * x[:, 1] ** 2 + 0.3 * x[:, 3]
        return out

    n_ref = min(rows, MAX_REFERENCE)
    shift = np.repeat(np.linspace(0.0, 1.0, CHUNKS), rows // CHUNKS)
    return {"reference": frame(n_ref, np.zeros(n_ref)), "analysis": frame(rows, shift)}


def run_evergreen(task: str, ref: pd.DataFrame, ana: pd.DataFrame, chunk: int) -> dict[str, Any]:
    from evergreen.monitoring import estimate_performance

    kwargs: dict[str, Any] = {"y_pred": "pred", "y_true": "y", "chunk_size": chunk}
    if task == "binary":
        kwargs["y_pred_proba"] = "p"
    elif task == "multiclass":
        kwargs["y_pred_proba"] = {c: f"p_{c}" for c in CLASSES}
    else:
        kwargs["features"] = [f"x{i}" for i in range(N_FEATURES)]
    est = estimate_performance(ref, ana, task=task, **kwargs)
    out: dict[str, dict[str, list[float | None]]] = {}
    for ours in METRICS[task]:
        out[ours] = {
            key: [getattr(c.metrics[ours], attr) for c in est.chunks]
            for key, attr in (("value", "estimated"), ("sigma", "sampling_error"), ("realised", "realised"))
        }
    return out


def run_nannyml(task: str, ref: pd.DataFrame, ana: pd.DataFrame, chunk: int) -> dict[str, Any]:
    import nannyml as nml

    names = list(METRICS[task].values())
    if task == "regression":
        calc: Any = nml.DLE(
            feature_column_names=[f"x{i}" for i in range(N_FEATURES)],
            y_pred="pred",
            y_true="y",
            metrics=names,
            chunk_size=chunk,
        )
    else:
        proba: Any = "p" if task == "binary" else {c: f"p_{c}" for c in CLASSES}
        calc = nml.CBPE(
            problem_type=f"classification_{task}",
            y_pred_proba=proba,
            y_pred="pred",
            y_true="y",
            metrics=names,
            chunk_size=chunk,
        )
    calc.fit(ref)
    frame = calc.estimate(ana).filter(period="analysis").to_df()
    out = {}
    for ours, theirs in METRICS[task].items():
        out[ours] = {
            key: [None if pd.isna(v) else float(v) for v in frame[(theirs, column)].tolist()]
            for key, column in (("value", "value"), ("sigma", "sampling_error"), ("realised", "realized"))
        }
    return out


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    with open("/proc/self/status") as fh:
        return int(next(line for line in fh if line.startswith("VmHWM:")).split()[1]) / 1024


def worker(tool: str, task: str, directory: Path, rows: int) -> dict[str, Any]:
    ref = pd.read_parquet(directory / f"{task}-{rows}-reference.parquet")
    ana = pd.read_parquet(directory / f"{task}-{rows}-analysis.parquet")
    run = run_nannyml if tool == "nannyml" else run_evergreen
    # Imports are paid before the clock starts, for both tools: the run is fit + estimate.
    if tool == "nannyml":
        import nannyml  # noqa: F401
    else:
        import lightgbm  # noqa: F401
        import scipy.optimize  # noqa: F401  (evergreen imports it when it first fits a map)
        import sklearn.metrics  # noqa: F401

        import evergreen.monitoring.api  # noqa: F401
    rss = _rss_mb()
    with open("/proc/self/clear_refs", "w") as fh:  # reset VmHWM: the run's own peak
        fh.write("5")
    start = time.perf_counter()
    result = run(task, ref, ana, rows // CHUNKS)
    seconds = time.perf_counter() - start
    return {"metrics": result, "seconds": seconds, "peak_extra_mb": _peak_mb() - rss, "data_mb": rss}


def _spawn(python: str, tool: str, task: str, directory: Path, rows: int) -> dict[str, Any]:
    args = [python, str(Path(__file__).resolve()), "--worker", tool, "--tasks", task, "--rows", str(rows)]
    proc = subprocess.run(
        [*args, "--data", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "NML_DISABLE_USAGE_LOGGING": "1"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ensure_nannyml(python: Path) -> None:
    """Build .venv-nannyml from the lock when it is missing (needs uv, as the Makefile does)."""
    if python.exists():
        return
    venv = python.parent.parent
    uv = Path(sys.executable).with_name("uv")
    subprocess.run([str(uv), "venv", "-p", "3.11", str(venv)], check=True)
    subprocess.run([str(uv), "pip", "install", "--python", str(python), "-r", str(LOCK)], check=True)


def _mae(values: list[float | None], realised: list[float | None]) -> float:
    pairs = [(v, r) for v, r in zip(values, realised, strict=True) if v is not None and r is not None]
    return float(np.mean([abs(v - r) for v, r in pairs])) if pairs else float("nan")


def _median_seconds(runs: list[dict[str, Any]]) -> float:
    return float(np.median([r["seconds"] for r in runs]))


def _spread(runs: dict[str, list[dict[str, Any]]]) -> str:
    """`` (medians of N runs: evergreen a-b s, nannyml c-d s)`` when there was more than one run."""
    if len(runs["evergreen"]) < 2:
        return ""
    ranges = ", ".join(
        f"{tool} {min(r['seconds'] for r in rs):.2f}-{max(r['seconds'] for r in rs):.2f} s"
        for tool, rs in runs.items()
    )
    n = len(runs["evergreen"])
    pairs = [b["seconds"] / a["seconds"] for a, b in zip(runs["evergreen"], runs["nannyml"], strict=True)]
    return (
        f" (medians of {n} interleaved runs, each tool first in every other pair; {ranges}; "
        f"median of the pairs' ratios {float(np.median(pairs)):.1f}x; memory and numbers: the first run)"
    )


def compare(task: str, ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    lines = []
    for metric in METRICS[task]:
        a, b = ours["metrics"][metric], theirs["metrics"][metric]
        diff = max(abs(x - y) for x, y in zip(a["value"], b["value"], strict=True))
        rel = max(abs(x / y - 1) for x, y in zip(a["sigma"], b["sigma"], strict=True))
        lines.append(
            f"  {metric:<11} max |est diff| {diff:.2e}   max sigma rel diff {rel:.2%}   "
            f"MAE vs realised: evergreen {_mae(a['value'], a['realised']):.5f}, "
            f"nannyml {_mae(b['value'], b['realised']):.5f}   "
            f"sigma (chunk 1) {a['sigma'][0]:.5f} vs {b['sigma'][0]:.5f}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--tasks", nargs="+", default=list(METRICS), choices=list(METRICS))
    parser.add_argument("--nannyml-python", default=str(DEFAULT_NANNYML_PYTHON))
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each tool, interleaved; medians are compared"
    )
    parser.add_argument("--worker", choices=["evergreen", "nannyml"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")
    if args.worker:
        print(json.dumps(worker(args.worker, args.tasks[0], Path(args.data), args.rows[0])))
        return 0
    nml_python = Path(args.nannyml_python)
    ensure_nannyml(nml_python)
    with tempfile.TemporaryDirectory(prefix="evergreen-estimation-") as tmp:
        directory = Path(tmp)
        for task in args.tasks:
            for rows in args.rows:
                for name, frame in build(task, rows).items():
                    frame.to_parquet(directory / f"{task}-{rows}-{name}.parquet")
                # Interleaved, so that a slow spell of a shared machine falls on both tools, and
                # each tool goes first in every other pair (a cache or a clock warmed by the
                # first run then helps neither more often).
                runs: dict[str, list[dict[str, Any]]] = {"evergreen": [], "nannyml": []}
                pythons = {"evergreen": sys.executable, "nannyml": str(nml_python)}
                for i in range(args.repeat):
                    for tool in ("evergreen", "nannyml") if i % 2 == 0 else ("nannyml", "evergreen"):
                        runs[tool].append(_spawn(pythons[tool], tool, task, directory, rows))
                ours, theirs = runs["evergreen"][0], runs["nannyml"][0]
                mine, other = _median_seconds(runs["evergreen"]), _median_seconds(runs["nannyml"])
                print(
                    f"{task} {rows:,} rows ({CHUNKS} chunks of {rows // CHUNKS:,}): "
                    f"evergreen {mine:.2f} s, nannyml {other:.2f} s ({other / mine:.1f}x)"
                    f"{_spread(runs)}; peak above data: evergreen "
                    f"{ours['peak_extra_mb']:.0f} MB, nannyml {theirs['peak_extra_mb']:.0f} MB",
                    flush=True,
                )
                print("\n".join(compare(task, ours, theirs)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
