"""`evergreen demo`, the main job, exactly as `make demo` runs it (but in a known directory).

The replay goes through a running server: predictions and feedback over HTTP, monitoring after each
week, the change from week 6 raising alerts and triggering the retrain that swaps the champion.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.support.cli import cli_env, interruptible
from tests.support.dashboard import login
from tests.support.net import log_tail


def _db(root: Path) -> dict[str, list[tuple]]:
    engine = create_engine(f"sqlite:///{root}/.evergreen/evergreen.db")
    queries = {
        "runs": "select trigger, status, reason from pipeline_runs order by started_at",
        "quarantined": "select reason from batches where status='quarantined'",
        "alerts": "select kind, level from alerts order by id",
        "served": "select model_version, count(*) from predictions where role='champion' "
        "group by model_version order by model_version",
        "feedback": "select count(*) from feedback",
        "pending": "select count(*) from feedback where batch_id is null",
    }
    with engine.connect() as c:
        out = {k: [tuple(r) for r in c.execute(text(q))] for k, q in queries.items()}
    engine.dispose()
    return out


def _summary_number(out: str, pattern: str) -> int:
    m = re.search(pattern, out, re.MULTILINE)
    assert m, f"{pattern!r} not in the output:\n{out}"
    return int(m.group(1))


def test_demo_replays_the_stream_through_the_server_and_swaps_on_drift(tmp_path: Path):
    root = tmp_path / "demo"
    res = subprocess.run(
        [sys.executable, "-m", "evergreen", "demo", str(root), "--no-serve"],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=600,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = res.stdout
    db = _db(root)

    # History: two files accepted, the broken export quarantined, the first model promoted.
    assert db["quarantined"] == [("wrong_type",)]
    assert "quarantined customers-week02-broken-export.csv: column 'tenure'" in out
    assert db["runs"][0][:2] == ("manual", "promoted")

    # Weeks 3-10 through the server: 8 x 1500 customers predicted, every outcome fed back and
    # turned into training data; the load kept up during the retrain adds its own predictions.
    predicted = _summary_number(out, r"^predictions: (\d+) through POST /predict")
    served = dict(db["served"])
    assert sum(served.values()) == predicted >= 8 * 1500
    assert db["feedback"] == [(8 * 1500,)] and db["pending"] == [(0,)]
    assert _summary_number(out, r", (\d+) outcomes through POST /feedback$") == 8 * 1500
    assert out.count("customers scored through POST /predict") == 8

    # Week 6: drift and a performance drop raise alerts and trigger a retrain that is promoted.
    kinds = [k for k, _level in db["alerts"]]
    assert "drift" in kinds and "performance" in kinds
    assert re.search(r"week  6  alert     opened #\d+ \[\w+\] data drift score", out)
    changed = [r for r in db["runs"][1:] if "drift:" in (r[2] or "")]
    assert changed and changed[0][1] == "promoted", db["runs"]
    assert re.search(
        r"week  6  triggers  fired \(\w+( \+ \w+)* \+ drift|week  6  triggers  fired \(drift", out
    )

    # The swap: both versions answered, no request failed, and the champion is the new version.
    assert len(served) == 2, served
    assert re.search(r"week  6  swap      champion v1 -> v2 hot-swapped under load: .*, 0 failed", out)
    assert _summary_number(out, r"^requests: +\d+, failed: (\d+)") == 0
    assert "champion:    churn@champion = v2" in out

    # --no-serve: the server stopped, so no URL or token to log in with is printed.
    assert "server stopped (--no-serve)" in out
    assert "dashboard:" not in out and "token" not in out
    assert "Traceback" not in res.stderr


def test_demo_keeps_serving_with_a_login_token_until_ctrl_c(tmp_path: Path):
    errors = tmp_path / "stderr.log"  # a file, not an unread pipe the demo's log lines could fill
    with errors.open("w") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "evergreen",
                "demo",
                str(tmp_path / "demo"),
                "--batches",
                "6",
                "--rows",
                "600",
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=cli_env({"EVERGREEN_TOKENS": "ops:operator:an-existing-token"}),
            preexec_fn=interruptible,
        )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("serving until Ctrl-C"):
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(600), "".join(lines) + log_tail(errors)
        out = "".join(lines)
        url = re.search(r"^dashboard: +(http://127\.0\.0\.1:\d+)/$", out, re.MULTILINE)
        token = re.search(r"^log in with the demo's admin token: (\S+)$", out, re.MULTILINE)
        assert url and token, out
        with httpx.Client(base_url=url.group(1), timeout=30) as c:
            assert c.get("/health").status_code == 200
            assert c.get("/api/models").status_code == 401
            auth = {"Authorization": f"Bearer {token.group(1)}"}
            models = c.get("/api/models", headers=auth)
            assert models.status_code == 200, models.text
            # The dashboard at the printed URL: the token logs in, the overview names the champion.
            login(c, token.group(1))
            overview = c.get("/")
            champion = re.search(r"^champion: +churn@champion = v(\d+)$", out, re.MULTILINE)
            assert champion, out
            assert overview.status_code == 200 and f">v{champion.group(1)}</a>" in overview.text
            # The token the environment already held still works: the demo's was added to it.
            assert (
                c.get("/api/models", headers={"Authorization": "Bearer an-existing-token"}).status_code == 200
            )
        proc.send_signal(signal.SIGINT)
        assert proc.wait(120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_demo_with_too_few_rows_says_so_at_the_first_model(tmp_path: Path):
    # 20 customers a week: the first model fails the promotion gates. The demo went on to start its
    # server and failed 60 s later with "not ready"; it now stops at the rejection, exit 2.
    res = subprocess.run(
        [sys.executable, "-m", "evergreen", "demo", str(tmp_path / "d"), "--rows", "20", "--batches", "6"],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=300,
    )
    assert res.returncode == 2, res.stderr
    [line] = res.stderr.splitlines()
    assert line.startswith("error: --rows 20: too few customers a week for a first model that passes"), line
    assert "rejected, candidate v1" in line and "not ready" not in line
    assert "http://127.0.0.1" not in res.stdout  # no server was started
