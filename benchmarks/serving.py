"""Benchmark: `evergreen serve` (prediction log on) vs `mlflow models serve` and MLServer 1.7, same
model, same load.

    make venv-mlserver   # once: MLServer's own venv (.venv-mlserver, requirements-mlserver.lock)
    .venv/bin/python benchmarks/serving.py [--seconds 15] [--concurrency 1 8 32]

Trains the churn demo, registers it, starts each server on 127.0.0.1 in turn (one worker each;
MLflow with ``--env-manager local``; MLServer's MLflow runtime with adaptive batching, max_batch_size
32 / max_batch_time 5 ms, parallel_workers 0, on ``/v2/models/churn/infer``) and sends the same
single-record requests with wrk at each concurrency. Prints requests/s, p50 and p99 for each, the
ratios, and the in-process predict time (the floor). Needs wrk (Debian package ``wrk``); without
``.venv-mlserver`` MLServer is left out (``--no-mlserver`` too).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import serving_mlserver
from serving_common import (
    EVERGREEN,
    RECORD,
    LoadResult,
    free_port,
    have_wrk,
    make_trained_project,
    start_server,
    wrk,
)


def predict_floor_ms(project: object) -> float:
    """Median in-process time of one single-record predict_proba on the champion."""
    import pandas as pd

    model = project.registry.load_model("1")  # type: ignore[attr-defined]
    frame = pd.DataFrame([RECORD])
    model.predict_proba(frame)
    times = []
    for _ in range(200):
        t = time.perf_counter()
        model.predict_proba(frame)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def count_logged(project: object) -> int:
    from sqlalchemy import func, select

    from evergreen.store.tables import predictions

    with project.store.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(select(func.count()).select_from(predictions)).scalar_one())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--no-mlserver", action="store_true", help="Leave MLServer out.")
    args = ap.parse_args()
    with_mlserver = not args.no_mlserver and serving_mlserver.available()
    if not args.no_mlserver and not with_mlserver:
        print("MLServer left out: make venv-mlserver builds .venv-mlserver", file=sys.stderr)
    if not have_wrk():
        sys.exit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="eg-bench-serving-"))
    project = make_trained_project(work / "proj")
    s = project.settings
    floor = predict_floor_ms(project)

    mport, eport = free_port(), free_port()
    mlflow_cmd = [
        str(Path(sys.executable).parent / "mlflow"),
        "models",
        "serve",
        "-m",
        "models:/churn@champion",
        "--env-manager",
        "local",
        "--workers",
        "1",
        "-h",
        "127.0.0.1",
        "-p",
        str(mport),
    ]
    mlflow_env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",  # its uvicorn
        "MLFLOW_TRACKING_URI": s.storage.mlflow_tracking_uri,
        "MLFLOW_REGISTRY_URI": s.storage.mlflow_tracking_uri,
    }
    results: dict[str, list[LoadResult]] = {"mlflow": [], "evergreen": []}
    if with_mlserver:
        results["mlserver"] = []
        sport = free_port()
        mls_cmd, model_dir = serving_mlserver.prepare(
            project, "1", work / "mlserver", sport, free_port(), free_port()
        )
        mls = start_server(
            mls_cmd,
            sport,
            cwd=work,
            env=serving_mlserver.env(),
            ready_path="/v2/health/ready",
            log=work / "mlserver.log",
        )
        try:
            body = serving_mlserver.infer_body(model_dir, RECORD)
            for c in args.concurrency:
                url = f"{mls.url}/v2/models/{serving_mlserver.MODEL}/infer"
                results["mlserver"].append(wrk(url, body, c, args.seconds, work))
        finally:
            mls.stop()
    mlflow = start_server(
        mlflow_cmd, mport, cwd=s.root, env=mlflow_env, ready_path="/health", log=work / "mlflow.log"
    )
    try:
        for c in args.concurrency:
            results["mlflow"].append(
                wrk(
                    mlflow.url + "/invocations",
                    json.dumps({"dataframe_records": [RECORD]}),
                    c,
                    args.seconds,
                    work,
                )
            )
    finally:
        mlflow.stop()
    logged_before = count_logged(project)
    ever = start_server(
        [*EVERGREEN, "serve", "--config", str(s.root), "--port", str(eport)],
        eport,
        cwd=s.root,
        log=work / "evergreen.log",
    )
    try:
        for c in args.concurrency:
            results["evergreen"].append(
                wrk(ever.url + "/predict", json.dumps({"record": RECORD}), c, args.seconds, work)
            )
    finally:
        ever.stop()
    logged = count_logged(project) - logged_before
    served = sum(r.requests - r.non_2xx for r in results["evergreen"])

    print(f"in-process predict_proba, 1 record (floor): {floor:.2f} ms")
    print(f"{'server':<10}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'errors':>8}")
    for name, rows in results.items():
        for r in rows:
            print(
                f"{name:<10}{r.concurrency:>5}{r.rps:>10.0f}{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}{r.non_2xx:>9}"
                f"{r.errors:>8}"
            )
    for other in ("mlflow", "mlserver"):
        if other not in results:
            continue
        print(f"ratios evergreen / {other}:")
        for m, e in zip(results[other], results["evergreen"], strict=True):
            print(
                f"  concurrency {m.concurrency:>2}: throughput x{e.rps / m.rps:.1f}, "
                f"p99 {e.p99_ms / m.p99_ms:.2f} of {other}'s"
            )
    print(
        f"prediction log: {logged} rows written for {served} answered requests "
        f"({'none lost' if logged >= served else 'MISSING ROWS'})"
    )
    (work / "results.json").write_text(json.dumps({k: [r.__dict__ for r in v] for k, v in results.items()}))
    print(f"raw results: {work / 'results.json'}")


if __name__ == "__main__":
    main()
