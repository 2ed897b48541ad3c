"""Dashboard page times on a big project: each page's server time, median of ``--repeat`` requests.

    .venv/bin/python benchmarks/dashboard.py [--runs 10000] [--alerts 5000] [--reports 2000]
        [--predictions 1000000] [--repeat 20] [--database-url URL]

A churn project is trained once (a real champion with its signature, so the Predict form is built
from it), then its metadata database is filled with ``--runs`` pipeline runs (each with a decision
row holding both models' metrics and the gates), ``--alerts`` alerts (each with a delivery),
``--reports`` drift reports (six columns, performance with bands: the details JSON of a real report),
two audit rows per run and alert, and ``--predictions`` prediction-log rows. Each page is requested
once to warm up, then ``--repeat`` times; the time is measured inside the app (an ASGI wrapper from
the request's arrival to the last byte of the response), so it is the server's time, not the client's.
Target (issue 12): <= 200 ms per page on this machine.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "dashboard"
TOKENS = "bench:admin:bench-admin-token"
CHUNK = 20_000


def make_project(root: Path, database_url: str | None) -> Any:
    import yaml

    from evergreen.config import settings_from_dict
    from evergreen.examples import churn
    from evergreen.pipeline import RetrainRequest, RetrainRunner
    from evergreen.project import open_project

    shutil.rmtree(root, ignore_errors=True)
    raw = yaml.safe_load(churn.CONFIG.format(project="churn", window_days=10000))
    raw["training"]["candidates"] = ["logistic_regression"]
    if database_url:
        raw["storage"] = {"database_url": database_url}
    settings = settings_from_dict(raw, root, env=dict(os.environ))
    settings.data.landing.mkdir(parents=True)
    for i, frame in enumerate(churn.make_stream(batches=2, rows=1000)):
        frame.to_csv(settings.data.landing / f"week{i:02d}.csv", index=False)
    project = open_project(settings)
    outcome = RetrainRunner(project).run(RetrainRequest(reason="benchmark"))
    assert outcome.status == "promoted", outcome.reason
    return project


def _insert(project: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    from sqlalchemy import insert

    with project.store.begin() as conn:
        for i in range(0, len(rows), CHUNK):
            conn.execute(insert(table), rows[i : i + CHUNK])


METRICS = ("accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro", "roc_auc", "log_loss")
COLUMNS = ("tenure", "monthly_fee", "support_calls", "plan", "region", "last_ticket")


def _metrics(rng: random.Random) -> dict[str, float]:
    return {m: round(rng.uniform(0.6, 0.9), 4) for m in METRICS}


def _report_details(rng: random.Random, i: int) -> dict[str, Any]:
    columns = {
        c: {
            "kind": "numeric",
            "method": "wasserstein",
            "statistic": s,
            "p_value": None,
            "threshold": 0.1,
            "drifted": s > 0.1,
            "score": s,
            "status": "drift" if s > 0.1 else "ok",
        }
        for c in COLUMNS
        for s in [round(rng.uniform(0.0, 0.2), 4)]
    }
    drifted = sum(1 for c in columns.values() if c["drifted"])
    realised, estimated = round(rng.uniform(0.6, 0.8), 4), round(rng.uniform(0.65, 0.8), 4)
    bands = {
        "realised": {"value": realised, "sigma": 0.02, "lower": realised - 0.06, "upper": realised + 0.06},
        "estimated": {
            "value": estimated,
            "sigma": 0.02,
            "lower": estimated - 0.06,
            "upper": estimated + 0.06,
        },
    }
    return {
        "window": {"name": "7d"},
        "current_rows": 600,
        "status": "tested",
        "data_drift": {
            "columns": columns,
            "number_of_columns": len(columns),
            "number_of_drifted_columns": drifted,
            "share": drifted / len(columns),
            "drift_share": 0.3,
            "dataset_drift": drifted >= 2,
        },
        "performance": {
            "metric": "f1_macro",
            "degraded": realised < 0.65,
            "baseline_metrics": {"f1_macro": 0.73},
            "realised_metrics": {"f1_macro": realised},
            "estimated_metrics": {"f1_macro": estimated},
            "metric_bands": {"f1_macro": bands},
        },
        "notes": [f"synthetic report {i}"],
    }


def fill(project: Any, *, runs: int, alerts: int, reports: int, predictions: int, seed: int = 42) -> None:
    from evergreen.store import tables as t

    rng = random.Random(seed)
    p = project.store.project
    start = datetime(2024, 1, 1, tzinfo=UTC)
    statuses = ("promoted", "rejected", "rejected", "skipped", "failed", "pending_approval")
    triggers = ("schedule", "new_data", "drift", "performance", "manual")
    run_rows, decision_rows, audit_rows = [], [], []
    for i in range(runs):
        at = start + timedelta(hours=i)
        rid = f"bench{i:011d}"
        status = statuses[i % len(statuses)] if i < runs - 1 else "rejected"
        run_rows.append(
            {
                "id": rid,
                "project": p,
                "trigger": triggers[i % len(triggers)],
                "reason": f"run {i}",
                "actor": "system",
                "status": status,
                "step": "notify",
                "started_at": at,
                "finished_at": at + timedelta(seconds=40),
                "timings": {"dataset": 3.0, "train": 20.0, "evaluate": 2.0},
                "dataset_version": f"{i:016x}",
                "data_size": 20000,
                "candidate_version": str(i + 2),
                "champion_version": "1",
                "decision": status,
            }
        )
        decision_rows.append(
            {
                "run_id": rid,
                "project": p,
                "outcome": status,
                "metric": "f1_macro",
                "candidate_version": str(i + 2),
                "champion_version": "1",
                "candidate_metrics": _metrics(rng),
                "champion_metrics": _metrics(rng),
                "ci_low": -0.01,
                "ci_high": 0.03,
                "justification": f"synthetic decision {i}",
                "actor": "system",
                "checks": [
                    {"name": "improvement", "passed": False, "detail": "+0.001 < 0.02", "numbers": {}}
                ],
                "created_at": at + timedelta(seconds=40),
            }
        )
        audit_rows.append(
            {
                "project": p,
                "actor": "system",
                "action": status,
                "target": f"version:{i + 2}",
                "reason": f"synthetic decision {i}",
                "at": at + timedelta(seconds=40),
            }
        )
    _insert(project, t.pipeline_runs, run_rows)
    _insert(project, t.decisions, decision_rows)
    levels, states = (
        ("info", "warning", "alert", "critical"),
        ("open", "acknowledged", "resolved", "resolved"),
    )
    alert_rows = [
        {
            "project": p,
            "fingerprint": f"bench:{i}",
            "kind": "drift",
            "level": levels[i % 4],
            "status": states[i % 4],
            "title": f"data drift score {i}",
            "details": {"score": 0.31, "window": "7d", "report_id": i % 1000 + 1},
            "opened_at": start + timedelta(hours=2 * i),
            "updated_at": start + timedelta(hours=2 * i),
            "seen_count": 1,
        }
        for i in range(alerts)
    ]
    _insert(project, t.alerts, alert_rows)
    with project.store.connect() as conn:
        from sqlalchemy import select

        ids = conn.execute(select(t.alerts.c.id).where(t.alerts.c.project == p)).scalars().all()
    _insert(
        project,
        t.alert_deliveries,
        [
            {
                "project": p,
                "alert_id": a,
                "channel": "log",
                "channel_type": "log",
                "event": "opened",
                "level": "alert",
                "attempt": 1,
                "status": "sent",
                "at": start,
            }
            for a in ids
        ],
    )
    audit_rows += [
        {
            "project": p,
            "actor": "system",
            "action": "alert_opened",
            "target": f"alert:{a}",
            "reason": "synthetic",
            "at": start + timedelta(hours=2 * k),
        }
        for k, a in enumerate(ids)
    ]
    _insert(project, t.alert_actions, audit_rows)
    _insert(
        project,
        t.drift_reports,
        [
            {
                "project": p,
                "report_date": start + timedelta(hours=6 * i),
                "window": "7d",
                "current_rows": 600,
                "model_version": "1",
                "data_drift_score": 0.2,
                "prediction_drift_score": 0.05,
                "performance_drift_score": 0.1,
                "drift_detected": i % 3 == 0,
                "details": _report_details(rng, i),
            }
            for i in range(reports)
        ],
    )
    record = {
        "tenure": 13.0,
        "monthly_fee": 44.07,
        "support_calls": 0,
        "plan": "standard",
        "region": "east",
        "last_ticket": "thanks for the quick help",
    }
    for lo in range(0, predictions, 100_000):
        _insert(
            project,
            t.predictions,
            [
                {
                    "id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "project": p,
                    "model_version": "1",
                    "role": "champion",
                    "created_at": start + timedelta(seconds=30 * i),
                    "record": record,
                    "prediction": "no",
                    "probabilities": {"no": 0.7, "yes": 0.3},
                    "latency_ms": 1.0,
                }
                for i in range(lo, min(lo + 100_000, predictions))
            ],
        )


class ServerTimer:
    """ASGI wrapper: the time from a request's arrival to the end of its response body."""

    def __init__(self, app: Any) -> None:
        self.app, self.last = app, 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last = time.perf_counter() - t0

        await self.app(scope, receive, timed_send)


def pages(project: Any) -> list[str]:
    from sqlalchemy import select

    from evergreen.store.tables import pipeline_runs

    with project.store.connect() as conn:
        newest = conn.execute(select(pipeline_runs.c.id).order_by(pipeline_runs.c.started_at.desc()).limit(1))
        run_id = newest.scalar_one()
    return [
        "/",
        "/runs",
        "/runs?page=200",
        "/runs?status=rejected&trigger=drift",
        f"/runs/{run_id}",
        "/models",
        "/monitoring",
        "/monitoring?page=40",
        "/alerts",
        "/alerts?status=open&level=critical",
        "/alerts?page=150",
        "/approvals",
        "/history",
        "/history?actor=system&action=alert_opened",
        "/history?version=5000",
        "/history?page=500",
        "/settings",
        "/predict/form",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--alerts", type=int, default=5_000)
    ap.add_argument("--reports", type=int, default=2_000)
    ap.add_argument("--predictions", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--database-url", default=None, help="default: SQLite in the project's state dir")
    args = ap.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("EVERGREEN_PII_SALT", "bench-salt")
    os.environ["EVERGREEN_TOKENS"] = TOKENS

    from fastapi.testclient import TestClient

    from evergreen.serving.app import create_app

    t0 = time.perf_counter()
    project = make_project(WORK / "churn", args.database_url)
    fill(project, runs=args.runs, alerts=args.alerts, reports=args.reports, predictions=args.predictions)
    driver = project.store.engine.url.drivername
    print(
        f"filled in {time.perf_counter() - t0:.0f} s: {args.runs} runs, {args.alerts} alerts, "
        f"{args.reports} drift reports, {args.predictions} predictions ({driver})"
    )
    app = create_app(project.settings, project)
    timer = ServerTimer(app)
    results = []
    with TestClient(timer) as client:  # type: ignore[arg-type]
        login = client.get("/login")
        csrf = login.text.split('name="csrf_token" value="')[1].split('"')[0]
        r = client.post(
            "/login", data={"token": "bench-admin-token", "csrf_token": csrf}, follow_redirects=False
        )
        assert r.status_code == 303, r.text
        for path in pages(project):
            assert client.get(path).status_code == 200, path  # warm-up
            times = []
            for _ in range(args.repeat):
                assert client.get(path).status_code == 200
                times.append(timer.last * 1000)
            results.append((path, statistics.median(times), max(times)))
    print(f"\n{'page':<45} {'median ms':>10} {'max ms':>8}")
    for path, med, worst in results:
        flag = "" if med <= 200 else "  > 200 ms"
        print(f"{path:<45} {med:>10.1f} {worst:>8.1f}{flag}")
    slowest = max(m for _, m, _ in results)
    print(f"\nslowest median: {slowest:.1f} ms (target <= 200 ms); python {sys.version.split()[0]}")
    project.close()


if __name__ == "__main__":
    main()
