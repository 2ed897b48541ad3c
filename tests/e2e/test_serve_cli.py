"""``evergreen serve`` as a user runs it: a real process, real requests, SIGTERM flushes the log."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select

from evergreen.store.tables import predictions
from tests.support.cli import ServeProcess, set_config

RECORD = {
    "tenure": 13.0,
    "monthly_fee": 44.07,
    "support_calls": 0.0,
    "plan": "standard",
    "region": "east",
    "last_ticket": "thanks for the quick help",
}


def test_serve_answers_and_flushes_every_prediction_on_sigterm(project_dir: Path, run_cli: Any) -> None:
    assert run_cli("retrain", "--reason", "e2e").code == 0
    assert run_cli("serve", "--help").code == 0
    with ServeProcess(project_dir) as server:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            ids = [
                c.post("/predict", json={"record": {**RECORD, "tenure": float(i)}}).json()["prediction_ids"][
                    0
                ]
                for i in range(25)
            ]
            bad = c.post("/predict", json={"record": {**RECORD, "tenure": "x"}})
            assert bad.status_code == 422 and "tenure" in bad.json()["error"]["message"]
            assert c.get("/version").json()["model_version"] == "1"
        assert server.stop() == 0
    engine = create_engine(f"sqlite:///{project_dir}/.evergreen/evergreen.db")
    with engine.connect() as conn:
        stored = {r.id for r in conn.execute(select(predictions.c.id))}
        assert conn.execute(select(func.count()).select_from(predictions)).scalar_one() == 25
    engine.dispose()
    assert stored == set(ids)


def test_serve_with_a_bad_config_exits_2(project_dir: Path, run_cli: Any) -> None:
    set_config(project_dir, "serving", extra_fields="maybe")
    res = run_cli("serve")
    assert res.code == 2 and "serving.extra_fields" in res.stderr


def test_serve_on_an_address_it_cannot_take_is_one_error_line(project_dir: Path, run_cli: Any) -> None:
    # uvicorn said so itself, after the model was loaded: "ERROR:    [Errno 98] ...", exit 3.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = run_cli("serve", "--port", str(port))
    assert (res.code, res.stderr) == (
        1,
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n",
    )
    res = run_cli("serve", "--port", "70000")  # was bound modulo 65536 (4464) without a word
    assert res.code == 2 and res.stderr.startswith("error: Invalid value for '--port'")
    res = run_cli("serve", "--host", "no-such-host.invalid")
    assert res.code == 2 and res.stderr.startswith("error: --host 'no-such-host.invalid': not an address")


def test_serve_with_control_api_and_embedded_scheduler(project_dir: Path, run_cli: Any) -> None:
    """`serve --insecure-local --scheduler`: the control API answers loopback clients without a token,
    and the embedded scheduler ingests a file dropped in the landing dir and retrains on it."""
    import yaml

    from evergreen.examples import churn

    assert run_cli("retrain", "--reason", "e2e").code == 0
    cfg = yaml.safe_load((project_dir / "evergreen.yaml").read_text())
    cfg["triggers"] = {
        "new_data": {"min_rows": 500},
        "cooldown_minutes": 0,
        "scan_interval_seconds": 0.5,
        "settle_seconds": 0.2,
        "schedule": None,
    }
    cfg["data"]["window"] = {"max_age_days": 10000}
    (project_dir / "evergreen.yaml").write_text(yaml.safe_dump(cfg))
    assert run_cli("serve", "--insecure-local", "--host", "0.0.0.0").code == 2  # loopback only
    with ServeProcess(project_dir, "--insecure-local", "--scheduler") as server:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            assert c.get("/api/models").json()["champion"] == "1"
            churn.make_batch(7, 800, drifted=False).to_csv(project_dir / "landing" / "late.csv", index=False)
            deadline = time.monotonic() + 180
            runs: list[dict[str, Any]] = []
            while time.monotonic() < deadline:
                runs = [r for r in c.get("/api/runs").json() if r["trigger"] == "new_data"]
                if runs and runs[0]["status"] != "running":
                    break
                time.sleep(1)
            assert runs and runs[0]["status"] in {"promoted", "rejected"}, runs
        assert server.stop() == 0
