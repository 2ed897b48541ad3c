"""No secret leaks (DESIGN.md §3): passwords in the storage URLs, channel URLs, tokens and SMTP
passwords never reach a log line, an error message, an API response, a database row, an alert
payload or a file under the project, while the servers they point at refuse or fail.

Everything is real: the CLI and ``evergreen serve`` as subprocesses, a PostgreSQL URL on a port
nothing listens on, an HTTP receiver on 127.0.0.1 answering 500, an SMTPS port that refuses.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml

from tests.support.cli import Runner, cli_env
from tests.support.net import free_port, spawn_logged, wait_http

MLFLOW_PW = "MlflowPw-7f3a9c1e"
DB_PW = "DbPw-Sekret-42aa"
HOOK_SECRET = "WebhookPath-5d1e8b2a77"
HOOK_TOKEN = "WebhookToken-c0ffee99"
SMTP_PW = "SmtpPw-91ab77cd"
API_TOKEN = "AdminToken-4e5f6a7b8c9d"
SECRETS = (MLFLOW_PW, DB_PW, HOOK_SECRET, HOOK_TOKEN, SMTP_PW, API_TOKEN)


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text or quote(s, safe="") in text]


def files_leaking(root: Path) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and path.name != "evergreen.yaml":  # the user's own config holds them
            data = path.read_bytes()
            found += [f"{path}: {s}" for s in SECRETS if s.encode() in data]
    return found


@pytest.fixture
def failing_hook() -> Iterator[tuple[int, list[bytes]]]:
    """A webhook endpoint that reads every POST and answers 500."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"down")

        def log_message(self, *_args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], bodies
    server.shutdown()
    server.server_close()


def configure(project_dir: Path, hook_port: int, *, database_url: str | None = None) -> None:
    path = project_dir / "evergreen.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["storage"] = {
        **cfg.get("storage", {}),
        # An MLflow server that refuses connections (ENV turns MLflow's HTTP retries off).
        "mlflow_tracking_uri": f"http://mlflow:{MLFLOW_PW}@127.0.0.1:{free_port()}",
    }
    if database_url:
        cfg["storage"]["database_url"] = database_url
    cfg.setdefault("triggers", {})["new_data"] = {"min_rows": 1}
    cfg["alerts"] = {
        "retry_count": 0,
        "channels": [
            {
                "type": "webhook",
                "url": f"http://127.0.0.1:{hook_port}/hook/{HOOK_SECRET}",
                "token": HOOK_TOKEN,
                "min_level": "info",
            },
            {
                "type": "email",
                "smtp": f"smtps://alerts:{SMTP_PW}@127.0.0.1:{free_port()}",
                "to": ["team@example.com"],
                "min_level": "info",
                "timeout_seconds": 5,
            },
        ],
    }
    path.write_text(yaml.safe_dump(cfg))


ENV = {
    "EVERGREEN_TOKENS": f"ops:admin:{API_TOKEN}",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


def test_unreachable_mlflow_and_failing_channels_leak_no_secret(
    project_dir: Path, run_cli: Runner, failing_hook: tuple[int, list[bytes]], tmp_path: Path
) -> None:
    hook_port, hook_bodies = failing_hook
    configure(project_dir, hook_port)
    seen: list[str] = []

    # The scheduler's pass retrains on the new data; MLflow refuses; the failure alert goes out.
    sched = run_cli("scheduler", "--once", "--json", env=ENV)
    seen += [sched.stdout, sched.stderr]
    retrain = run_cli("retrain", "--reason", "by hand", env=ENV)
    assert retrain.code == 1, retrain.stderr
    assert "mlflow:***@127.0.0.1" in retrain.stderr
    seen += [retrain.stdout, retrain.stderr]
    for args in (("runs", "--json"), ("alerts", "--json"), ("status", "--json"), ("models", "--json")):
        res = run_cli(*args, env=ENV)
        seen += [res.stdout, res.stderr]
    runs = json.loads(run_cli("runs", "--json", env=ENV).stdout)
    assert len(runs) >= 2 and all(r["status"] == "failed" for r in runs), runs
    assert all("mlflow:***@127.0.0.1" in (r.get("error") or "") for r in runs)

    # The alert reached the (failing) webhook: its payload carries the error, redacted.
    assert hook_bodies, "the retrain-failure alert was never posted"
    assert any(b"mlflow:***@127.0.0.1" in b for b in hook_bodies), hook_bodies[0][:2000]
    seen += [b.decode() for b in hook_bodies]

    # The API: every read of the state, and the calls that reach MLflow and fail.
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"  # stdout and stderr: both are read for secrets below
    serve = spawn_logged(
        [sys.executable, "-m", "evergreen", "serve", "--port", str(port)],
        log,
        cwd=project_dir,
        env=cli_env(ENV),
    )
    try:
        wait_http(url + "/health", serve, log=log)
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            answers = [
                http.get("/ready"),
                http.get("/api/models"),
                http.get("/api/runs"),
                http.get(f"/api/runs/{runs[0]['id']}"),
                http.get("/api/alerts"),
                http.get("/api/audit"),
                http.post("/api/rollback", json={"reason": "test"}),
                http.post("/predict", json={"tenure": 1}),
            ]
        assert "mlflow:***@127.0.0.1" in answers[3].text, answers[3].text  # the run's stored error
        assert all(r.status_code < 500 or r.json()["error"]["code"] for r in answers)
        seen += [f"{r.status_code} {r.text}" for r in answers]
    finally:
        serve.terminate()
        try:
            serve.wait(timeout=120)
        except subprocess.TimeoutExpired:  # never leave the server running; its output is still read
            serve.kill()
            serve.wait()
    seen.append(log.read_text(errors="replace"))

    assert not [(i, leaks(t)) for i, t in enumerate(seen) if leaks(t)]
    assert not files_leaking(project_dir)


def test_unreachable_database_leaks_no_password(project_dir: Path, run_cli: Runner) -> None:
    # A well-formed URL's password reaches no message (psycopg and SQLAlchemy never print it), so
    # that case would pass without any redaction. A raw '@' in the password does: SQLAlchemy splits
    # at the first '@', and psycopg names the rest as the host it cannot resolve.
    database_url = f"postgresql+psycopg://ev:Pw@{DB_PW}@127.0.0.1:{free_port()}/ev"
    configure(project_dir, free_port(), database_url=database_url)
    seen = []
    for args in (("status",), ("runs", "--json"), ("retrain",), ("serve", "--port", str(free_port()))):
        res = run_cli(*args, env=ENV, timeout=120)
        assert res.code != 0, (args, res.stdout)
        seen += [res.stdout, res.stderr]
    assert "metadata database unavailable: failed to resolve host '***@127.0.0.1'" in seen[1], seen[1]
    assert not [(i, leaks(t)) for i, t in enumerate(seen) if leaks(t)]
    assert not files_leaking(project_dir)
