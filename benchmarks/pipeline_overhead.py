"""Retrain overhead: wall time of a retrain minus the time spent in ``fit``, on the demo data.

Side by side in one run:
- evergreen: ``RetrainRunner.run(force=True)`` on a demo project (ingest, dataset, 3 candidates,
  holdout scoring of candidate and champion, bootstrap, MLflow parent + child runs, registration,
  decision, alias move).
- anchor: the usual hand-written script: the same three pipelines fitted in a loop, logged with
  MLflow's fluent API (one run per candidate) and the winner registered with
  ``mlflow.sklearn.log_model(..., registered_model_name=...)``: no holdout comparison, no decision.

Usage: .venv/bin/python benchmarks/pipeline_overhead.py [--runs 3] [--weeks 4]
Target (issue 2): evergreen overhead <= 1.5 s per retrain, MLflow logging included.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("EVERGREEN_PII_SALT", "bench-salt")


def evergreen_runs(root: Path, weeks: int, runs: int) -> list[dict[str, float]]:
    from evergreen.config import CONFIG_FILE, load_settings
    from evergreen.examples import churn
    from evergreen.pipeline import RetrainRequest, RetrainRunner
    from evergreen.project import open_project

    root.mkdir(parents=True, exist_ok=True)
    churn.write_config(str(root / CONFIG_FILE), window_days=10000)
    settings = load_settings(root / CONFIG_FILE)
    settings.data.landing.mkdir(parents=True, exist_ok=True)
    for i in range(weeks):
        churn.make_batch(i, 1500, drifted=False).to_csv(settings.data.landing / f"w{i}.csv", index=False)
    project = open_project(settings)
    out = []
    for _ in range(runs + 1):  # run 0 creates the stores and the first champion
        t = time.perf_counter()
        outcome = RetrainRunner(project).run(RetrainRequest(trigger="manual", force=True))
        wall = time.perf_counter() - t
        out.append(
            {
                "wall": wall,
                "fit": outcome.fit_seconds,
                "overhead": wall - outcome.fit_seconds,
                "status": outcome.status,
                "rows": float(outcome.data_size or 0),
                **outcome.timings,
            }
        )
    return out


def anchor_runs(root: Path, weeks: int, runs: int) -> list[dict[str, float]]:
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split

    from evergreen.examples import churn
    from evergreen.training.candidates import build_pipeline
    from evergreen.training.preprocessing import FeatureKinds
    from evergreen.training.serialization import skops_trusted_types

    mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
    # Artifacts in the temp dir too (the default is ./mlruns in the current directory).
    mlflow.set_experiment(
        experiment_id=mlflow.create_experiment("anchor", artifact_location=(root / "art").as_uri())
    )
    frame = pd.concat([churn.make_batch(i, 1500, drifted=False) for i in range(weeks)], ignore_index=True)
    frame["support_calls"] = frame["support_calls"].astype(float)
    kinds = FeatureKinds(("tenure", "monthly_fee", "support_calls"), ("plan", "region"), ("last_ticket",))
    X, y = frame[list(kinds.columns)], frame["churned"]
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=42, stratify=y)
    out = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        fit = 0.0
        best: tuple[float, Any] | None = None
        for name in ("logistic_regression", "hist_gradient_boosting", "random_forest"):
            with mlflow.start_run(run_name=name):
                model = build_pipeline(name, "binary", kinds, 42)
                t_fit = time.perf_counter()
                model.fit(X_tr, y_tr)
                fit += time.perf_counter() - t_fit
                score = f1_score(y_te, model.predict(X_te), average="macro")
                mlflow.log_params({"candidate": name})
                mlflow.log_metric("f1_macro", score)
                if best is None or score > best[0]:
                    best = (score, model)
        assert best is not None
        with mlflow.start_run(run_name="register"):
            mlflow.sklearn.log_model(
                best[1],
                name="model",
                registered_model_name="anchor",
                signature=infer_signature(X_te.head(5), best[1].predict(X_te.head(5))),
                input_example=X_te.head(5),
                skops_trusted_types=skops_trusted_types(best[1]),
            )
        wall = time.perf_counter() - t
        out.append({"wall": wall, "fit": fit, "overhead": wall - fit})
    return out


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(r[key]) for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--weeks", type=int, default=4, help="demo batches of 1500 rows in the training window")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="eg-bench-") as tmp:
        eg = evergreen_runs(Path(tmp) / "evergreen", args.weeks, args.runs)
        (Path(tmp) / "anchor").mkdir()
        an = anchor_runs(Path(tmp) / "anchor", args.weeks, args.runs)
    print(f"pipeline overhead on the demo data ({args.weeks * 1500} rows, 3 candidates), seconds")
    print(f"{'':24}{'wall':>8}{'fit':>8}{'overhead':>10}")
    print(f"{'evergreen first run':24}{eg[0]['wall']:8.2f}{eg[0]['fit']:8.2f}{eg[0]['overhead']:10.2f}")
    for i, r in enumerate(eg[1:], 1):
        print(
            f"{f'evergreen run {i}':24}{r['wall']:8.2f}{r['fit']:8.2f}{r['overhead']:10.2f}  ({r['status']})"
        )
    print(f"{'anchor first run':24}{an[0]['wall']:8.2f}{an[0]['fit']:8.2f}{an[0]['overhead']:10.2f}")
    for i, r in enumerate(an[1:], 1):
        print(f"{f'anchor run {i}':24}{r['wall']:8.2f}{r['fit']:8.2f}{r['overhead']:10.2f}")
    eg_o, an_o = _median(eg[1:], "overhead"), _median(an[1:], "overhead")
    steps = {k: _median(eg[1:], k) for k in ("ingest", "dataset", "train", "evaluate", "register", "decide")}
    print("evergreen median step times: " + ", ".join(f"{k} {v:.3f}" for k, v in steps.items()))
    print(f"median overhead: evergreen {eg_o:.2f} s, anchor {an_o:.2f} s, ratio {eg_o / an_o:.2f}")
    print(f"target <= 1.5 s: {'met' if eg_o <= 1.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
