"""Orchestration benchmark: file arrival → retrain started, and per-run overhead of each runner.

    .venv/bin/python benchmarks/orchestration.py [--runs 3] [--arrivals 5] [--only-arrivals]

On the demo (churn) project with one fast candidate (logistic regression, ~0.1 s fit):
(a) ``evergreen scheduler`` as a real process (filesystem events) on a trained project, once it has
    logged ``scheduler_started``: a file is renamed into the landing dir, and the time until its
    retrain's ``pipeline_runs`` row exists is measured (``started_at`` minus the rename). The first
    arrival is reported apart from the next ones (it pays what the process did not load at start);
(b) per-run overhead = a run's wall time minus the time spent inside the step functions themselves,
    for the embedded runner (``RetrainRunner.run``), the Airflow adapter under ``dag.test()`` (in
    .venv-airflow) and the Prefect adapter (in .venv-prefect, ``prefect_test_harness``). Each run is
    a forced manual retrain, so every step does its full work. The first adapter run (server start,
    DAG serialisation) is reported apart from the steady state.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work" / "orchestration"
os.environ.setdefault("EVERGREEN_PII_SALT", "bench-salt")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def make_project(d: Path) -> Path:
    import yaml

    shutil.rmtree(d, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "evergreen", "init", str(d)], check=True, capture_output=True)
    cfg = yaml.safe_load((d / "evergreen.yaml").read_text())
    cfg["training"]["candidates"] = ["logistic_regression"]
    cfg["triggers"] = {
        "schedule": None,
        "cooldown_minutes": 0,
        "new_data": {"min_rows": 500},
        "scan_interval_seconds": 5,
        "settle_seconds": 0.05,
    }
    cfg["monitoring"] = {"schedule": None}
    (d / "evergreen.yaml").write_text(yaml.safe_dump(cfg))
    return d / "evergreen.yaml"


def _timed_steps(module: Any, names: list[str], spent: list[float]) -> None:
    """Wrap step functions so the time inside them is summed (what is not overhead)."""
    for name in names:
        fn = getattr(module, name)

        @functools.wraps(fn)
        def wrapper(*a: Any, __fn: Any = fn, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return __fn(*a, **k)
            finally:
                spent.append(time.perf_counter() - t)

        setattr(module, name, wrapper)


def _time_tasks(spent: list[float]) -> None:
    """The adapters call these for every task; the time inside them is the retrain's own work."""
    from evergreen.pipeline import tasks
    from evergreen.triggers import check

    _timed_steps(tasks, ["ingest_task", "run_task"], spent)
    _timed_steps(check, ["check_triggers"], spent)


def _queue_forced(cfg: Path) -> None:
    from evergreen.config import load_settings
    from evergreen.project import open_project
    from evergreen.store.requests import enqueue_retrain

    enqueue_retrain(open_project(load_settings(cfg)).store, "benchmark", "bench", force=True)


def worker_airflow(cfg: Path, runs: int) -> dict[str, Any]:
    home = cfg.parent / "airflow"
    (home / "dags").mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
    )
    from evergreen.integrations.files import airflow_dag_source

    (home / "dags" / "eg.py").write_text(airflow_dag_source(cfg, on_file_landing=False))
    from airflow.utils import db

    db.initdb()
    spent: list[float] = []
    _time_tasks(spent)
    from evergreen.integrations.airflow import build_dag

    dag = build_dag(cfg)  # the id of the file in the dags folder: dag.test() runs the serialised DAG
    return _measure(lambda: dag.test(), cfg, runs, spent)


def worker_prefect(cfg: Path, runs: int) -> dict[str, Any]:
    from prefect.testing.utilities import prefect_test_harness

    spent: list[float] = []
    _time_tasks(spent)
    from evergreen.integrations.prefect import retrain_flow

    t = time.perf_counter()
    with prefect_test_harness():
        start = time.perf_counter() - t
        out = _measure(lambda: retrain_flow(str(cfg)), cfg, runs, spent)
    return {**out, "server_start_s": start}


def _measure(run: Any, cfg: Path, runs: int, spent: list[float]) -> dict[str, Any]:
    walls, overheads = [], []
    for _ in range(runs + 1):  # the first run warms up (serialisation, imports, server)
        _queue_forced(cfg)
        spent.clear()
        t = time.perf_counter()
        run()
        wall = time.perf_counter() - t
        walls.append(wall)
        overheads.append(wall - sum(spent))
    return {
        "first_wall_s": walls[0],
        "first_overhead_s": overheads[0],
        "walls_s": walls[1:],
        "overheads_s": overheads[1:],
    }


def embedded_overhead(cfg: Path, runs: int) -> dict[str, Any]:
    from evergreen.config import load_settings
    from evergreen.pipeline import RetrainRequest, RetrainRunner
    from evergreen.project import open_project

    project = open_project(load_settings(cfg))
    walls, overheads = [], []
    for _ in range(runs + 1):
        t = time.perf_counter()
        out = RetrainRunner(project).run(RetrainRequest(trigger="manual", reason="benchmark", force=True))
        wall = time.perf_counter() - t
        walls.append(wall)
        overheads.append(wall - sum(out.timings.values()))
    return {
        "first_wall_s": walls[0],
        "first_overhead_s": overheads[0],
        "walls_s": walls[1:],
        "overheads_s": overheads[1:],
    }


def arrival_latency(cfg: Path, arrivals: int) -> dict[str, Any]:
    """File arrivals into the landing dir of a running ``evergreen scheduler`` process.

    The process is started and waited for until it logs ``scheduler_started`` (it is ready); then
    each file is renamed into the landing dir once the previous run finished, and the latency is the
    new ``pipeline_runs.started_at`` minus the rename. The first arrival is reported on its own: it
    pays whatever the process did not load before saying it was ready.
    """
    from sqlalchemy import create_engine, func, select

    from evergreen.config import load_settings
    from evergreen.examples import churn
    from evergreen.store.engine import as_utc
    from evergreen.store.tables import pipeline_runs

    settings = load_settings(cfg)
    engine = create_engine(settings.storage.database_url)
    staging = cfg.parent / "staging"
    staging.mkdir(exist_ok=True)
    env = {**os.environ, "EVERGREEN_LOG_FORMAT": "json"}
    t_spawn = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "evergreen", "scheduler", "--config", str(cfg)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    out: list[float] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the structured log: one JSON object per line
            if '"scheduler_started"' in line:
                break
        else:
            raise SystemExit(f"the scheduler exited ({proc.wait()}) before it was ready")
        ready_s = time.perf_counter() - t_spawn
        # Keep reading its log so the pipe never fills and blocks the scheduler.
        threading.Thread(target=lambda: proc.stderr.read() if proc.stderr else None, daemon=True).start()

        def count() -> int:
            with engine.connect() as c:
                return int(c.execute(select(func.count()).select_from(pipeline_runs)).scalar() or 0)

        def idle() -> bool:
            with engine.connect() as c:
                return not c.execute(
                    select(pipeline_runs.c.id).where(pipeline_runs.c.status == "running")
                ).first()

        for i in range(arrivals):
            while not idle():
                time.sleep(0.05)
            before = count()
            src = staging / f"arrival{i:02d}.csv"
            churn.make_batch(1, 600, drifted=False, seed=100 + i, start=churn.recent_start(2)).to_csv(
                src, index=False
            )
            t0 = time.time()
            os.rename(src, settings.data.landing / src.name)  # atomic: the file appears whole
            while count() == before:
                if proc.poll() is not None:
                    raise SystemExit(f"the scheduler exited ({proc.returncode})")
                time.sleep(0.005)
            with engine.connect() as c:
                started = c.execute(select(func.max(pipeline_runs.c.started_at))).scalar()
            out.append(as_utc(started).timestamp() - t0)  # type: ignore[union-attr]
        while not idle():
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
        engine.dispose()
    return {"ready_s": ready_s, "first_s": out[0], "next_s": out[1:]}


def _venv_worker(venv: str, kind: str, cfg: Path, runs: int) -> dict[str, Any]:
    py = ROOT / f".venv-{venv}" / "bin" / "python"
    res = subprocess.run(
        [str(py), __file__, "--worker", kind, "--config", str(cfg), "--runs", str(runs)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if res.returncode != 0:
        raise SystemExit(f"{kind} worker failed:\n{res.stderr[-3000:]}")
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def _fmt(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.3f} s (min {min(xs):.3f}, max {max(xs):.3f}, n={len(xs)})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--arrivals", type=int, default=5)
    ap.add_argument("--worker", choices=["airflow", "prefect"])
    ap.add_argument("--config", type=Path)
    ap.add_argument(
        "--only-arrivals", action="store_true", help="Only (a): skip the per-run overhead of the runners."
    )
    args = ap.parse_args()
    if args.worker:
        fn = worker_airflow if args.worker == "airflow" else worker_prefect
        print(json.dumps(fn(args.config, args.runs)))
        return
    from evergreen.pipeline import RetrainRequest, RetrainRunner

    results: dict[str, Any] = {}
    cfg = make_project(WORK / "embedded")
    from evergreen.config import load_settings
    from evergreen.project import open_project

    RetrainRunner(open_project(load_settings(cfg))).run(
        RetrainRequest(trigger="manual", reason="first model")
    )
    a = results["arrival_to_start_s"] = arrival_latency(cfg, args.arrivals)
    print(
        "(a) file arrival -> retrain started (`evergreen scheduler` process, "
        f"ready after {a['ready_s']:.2f} s): first arrival {a['first_s']:.3f} s; "
        f"next arrivals {_fmt(a['next_s'])}"
    )
    if args.only_arrivals:
        print(json.dumps(results, indent=None, default=float))
        return
    results["embedded"] = embedded_overhead(cfg, args.runs)
    for name in ("airflow", "prefect"):
        results[name] = _venv_worker(name, name, make_project(WORK / name), args.runs)

    print(
        "(b) per-run overhead = wall time - time inside the step functions (steady state after 1 warm-up run)"
    )
    for name in ("embedded", "airflow", "prefect"):
        r = results[name]
        extra = f"; server start {r['server_start_s']:.2f} s" if "server_start_s" in r else ""
        print(
            f"  {name:9s} overhead {_fmt(r['overheads_s'])}; wall {_fmt(r['walls_s'])}; "
            f"first run wall {r['first_wall_s']:.2f} s, overhead {r['first_overhead_s']:.2f} s{extra}"
        )
    print(json.dumps(results, indent=None, default=float))


if __name__ == "__main__":
    main()
