"""Shared by the serving benchmarks: a trained demo project, servers as subprocesses, wrk runs."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

os.environ.setdefault("EVERGREEN_PII_SALT", "benchmark-salt")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

RECORD = {
    "tenure": 13.0,
    "monthly_fee": 44.07,
    "support_calls": 0.0,
    "plan": "standard",
    "region": "east",
    "last_ticket": "thanks for the quick help with my invoice",
}
EVERGREEN = [sys.executable, "-m", "evergreen"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_trained_project(root: Path | None = None, **serving: Any) -> Any:
    """The churn demo in a temp dir, retrained once: v1 is the champion. Returns the opened project."""
    import yaml

    from evergreen.config import load_settings
    from evergreen.examples import churn
    from evergreen.pipeline import RetrainRequest, RetrainRunner
    from evergreen.project import open_project

    root = root or Path(tempfile.mkdtemp(prefix="eg-bench-"))
    cfg = yaml.safe_load(churn.CONFIG.format(project="churn", window_days=10000))
    cfg["serving"] = {**cfg.get("serving", {}), **serving}
    (root / "landing").mkdir(parents=True, exist_ok=True)
    (root / "evergreen.yaml").write_text(yaml.safe_dump(cfg))
    for i, frame in enumerate(churn.make_stream(batches=2, rows=1500)):
        frame.to_csv(root / "landing" / f"week{i:02d}.csv", index=False)
    project = open_project(load_settings(root))
    outcome = RetrainRunner(project).run(RetrainRequest(trigger="manual", reason="benchmark"))
    assert outcome.status == "promoted", outcome.reason
    return project


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(
    cmd: list[str],
    port: int,
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    ready_path: str = "/ready",
    log: Path | None = None,
) -> Server:
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[:4]} exited with {proc.returncode} (see {log})")
        try:
            if httpx.get(url + ready_path, timeout=2).status_code == 200:
                return Server(proc, url)
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{cmd[:4]} did not become ready")


@dataclass
class LoadResult:
    concurrency: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    assert m, text
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(url: str, body: str, concurrency: int, seconds: int, workdir: Path) -> LoadResult:
    """One wrk run posting ``body``; the p50/p99 come from wrk's latency distribution."""
    script = workdir / f"post_{abs(hash(body))}.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[{body}]]\n'
    )
    res = subprocess.run(
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(concurrency),
            "-d",
            f"{seconds}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = res.stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return LoadResult(
        concurrency,
        total,
        rps,
        _ms(lat["50"]),
        _ms(lat["99"]),
        int(non2xx.group(1)) if non2xx else 0,
        sum(int(g) for g in errs.groups()) if errs else 0,
    )


def have_wrk() -> bool:
    return shutil.which("wrk") is not None
