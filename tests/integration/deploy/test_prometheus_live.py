"""A real Prometheus scrapes a real `evergreen serve` (with traffic) and `evergreen scheduler` of a
project with a champion and a stored drift report: every dashboard query and every rule returns data.

Rules whose condition is false here by design (no 5xx, no drift verdict forced) must still evaluate
without error and every series they read must exist.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.cli import ServeProcess, cli_env
from tests.support.net import free_port, spawn_logged, wait_http
from tests.support.tools import DEPLOY, system_tool

pytestmark = pytest.mark.slow

RECORD = {
    "tenure": 13.0,
    "monthly_fee": 44.07,
    "support_calls": 0.0,
    "plan": "standard",
    "region": "east",
    "last_ticket": "thanks for the quick help",
}
# Grafana's variables as it fills them in; 1 s scrapes leave plenty of samples in a minute.
VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "1s",
    "$__range": "1h",
    "$project": "churn",
    "$window": "7d",
}


def run_cli(project: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        [sys.executable, "-m", "evergreen", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=timeout,
    )
    assert res.returncode == 0, f"evergreen {' '.join(args)}: {res.stderr[-2000:]}"
    return res


def dashboard_queries(part: str) -> list[str]:
    """The panels' queries (``part="panels"``) or the annotations' (events: empty while none happen)."""
    import json

    d = json.loads((DEPLOY / "grafana" / "dashboards" / "evergreen.json").read_text())
    if part == "panels":
        exprs = [t["expr"] for p in d["panels"] if p["type"] != "row" for t in p["targets"]]
    else:
        exprs = [a["expr"] for a in d["annotations"]["list"] if "expr" in a]
    out = []
    for e in exprs:
        for var, value in VARIABLES.items():
            e = e.replace(var, value)
        out.append(e)
    return out


def rule_exprs() -> dict[str, str]:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())["groups"]
    return {r["alert"]: r["expr"] for g in groups for r in g["rules"]}


class Traffic:
    """/predict requests in a loop (and a malformed one now and then) until stopped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as c:
            while not self.stop.is_set():
                records = [{**RECORD, "tenure": float(self.sent % 60 + i)} for i in range(4)]
                c.post("/predict", json={"records": records})
                if self.sent % 10 == 0:
                    c.post("/predict", json={"record": {**RECORD, "tenure": "x"}})  # a 422
                self.sent += 1
                time.sleep(0.02)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    d = tmp_path / "proj"
    run_cli(tmp_path, "init", str(d))
    cfg = yaml.safe_load((d / "evergreen.yaml").read_text())
    cfg["training"]["candidates"] = ["logistic_regression"]
    cfg["triggers"] = {"schedule": None, "metrics_port": free_port(), "scan_interval_seconds": 1}
    # A verdict on the rows the test sends (the default needs 500 per window).
    cfg["monitoring"] = {"schedule": None, "min_rows": 100}
    (d / "evergreen.yaml").write_text(yaml.safe_dump(cfg))
    return d


@contextlib.contextmanager
def scheduler_process(project: Path, log: Path) -> Iterator[str]:
    """`evergreen scheduler` with its /metrics on ``triggers.metrics_port``; yields host:port."""
    port = yaml.safe_load((project / "evergreen.yaml").read_text())["triggers"]["metrics_port"]
    proc = spawn_logged([sys.executable, "-m", "evergreen", "scheduler"], log, cwd=project, env=cli_env())
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/metrics", proc, log=log)
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_prometheus(tmp: Path, serve: str, scheduler: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = system_tool("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(DEPLOY / "prometheus" / "rules.yml")],
        "scrape_configs": [
            {"job_name": "evergreen-serve", "static_configs": [{"targets": [serve]}]},
            {"job_name": "evergreen-scheduler", "static_configs": [{"targets": [scheduler]}]},
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = tmp / "prometheus.log"
    proc = spawn_logged(
        [
            binary,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        log,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/-/ready", proc, log=log)
    return proc, url


def query(prom: httpx.Client, expr: str) -> list[dict[str, Any]]:
    body = prom.get("/api/v1/query", params={"query": expr}).json()
    assert body["status"] == "success", f"{expr}: {body.get('error')}"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def wait_for(check: Any, what: str, timeout: float = 120) -> None:
    """A liveness bound for the scrapes to accumulate, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.5)


def test_prometheus_scraping_evergreen_answers_every_panel_and_rule(project: Path, tmp_path: Path) -> None:
    run_cli(project, "retrain", "--reason", "live metrics")
    with ServeProcess(project) as server, Traffic(server.url) as traffic:
        wait_for(lambda: traffic.sent >= 100, "traffic")
        report = run_cli(project, "monitor", "--window", "7d", "--json")
        assert '"data_drift_score"' in report.stdout
        with scheduler_process(project, tmp_path / "scheduler.log") as sched:
            prom_proc, prom_url = start_prometheus(tmp_path, f"127.0.0.1:{server.port}", sched)
            try:
                with httpx.Client(base_url=prom_url, timeout=30) as prom:
                    _check(prom)
            finally:
                prom_proc.terminate()
                try:
                    prom_proc.wait(60)
                except subprocess.TimeoutExpired:  # never leave Prometheus running into the next test
                    prom_proc.kill()
                    prom_proc.wait()


def _check(prom: httpx.Client) -> None:
    # Enough scrapes of both targets, and the state read after the report was stored.
    wait_for(
        lambda: len(query(prom, 'count_over_time(up{job=~"evergreen-.*"}[1m]) >= 10')) == 2,
        "10 scrapes of both targets",
    )
    wait_for(lambda: query(prom, "evergreen_drift_share"), "the drift report on /metrics")

    # Rules evaluated at least once, without an error.
    def rules_ok() -> bool:
        groups = prom.get("/api/v1/rules").json()["data"]["groups"]
        health = {r["name"]: r["health"] for g in groups for r in g["rules"]}
        return set(health) == set(rule_exprs()) and all(h == "ok" for h in health.values())

    wait_for(rules_ok, "every rule evaluated")

    # The report's bands reach Prometheus as kinds of evergreen_performance.
    kinds = {r["metric"]["kind"] for r in query(prom, 'evergreen_performance{window="7d"}')}
    assert {"baseline", "estimated"} <= kinds and any(k.endswith("_upper") for k in kinds), kinds
    empty = [e for e in dashboard_queries("panels") if not query(prom, e)]
    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)

    for name, values in (
        ("project", "evergreen_champion_version"),
        ("window", 'evergreen_drift_share{project="churn"}'),
    ):
        got = prom.get(f"/api/v1/label/{name}/values", params={"match[]": values}).json()["data"]
        assert got and ("churn" in got or "7d" in got), (name, got)

    conditions = {
        **rule_exprs(),
        **{f"annotation {i}": e for i, e in enumerate(dashboard_queries("annotations"))},
    }
    missing = []
    for alert, expr in conditions.items():
        query(prom, expr)  # evaluates without an error
        names = set(re.findall(r"\b((?:serving|evergreen)_[a-z_]+)\b", expr))
        for metric in sorted(names):
            if not query(prom, f"count({metric})"):
                missing.append(f"{alert}: {metric}")
        if "up{" in expr:
            job = re.search(r'up\{job="([^"]+)"\}', expr)
            assert job and query(prom, f'up{{job="{job.group(1)}"}} == 1'), alert
    assert not missing, "series the rules read but no target exports:\n" + "\n".join(missing)
