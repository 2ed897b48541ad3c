"""The production stack as real processes on 127.0.0.1: PostgreSQL databases, an ``mlflow server``
(PostgreSQL backend, S3 artifacts, ``--serve-artifacts``), ``evergreen serve`` and ``evergreen
scheduler``; each one's output goes to a log file whose tail is shown when it fails to start."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.cli import cli_env
from tests.support.net import free_port, log_tail, spawn_logged

# Variables that would hand a process S3 access (or a profile that does): removed where the test
# shows a process works without them.
AWS_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "MLFLOW_S3_ENDPOINT_URL",
)


def env_without_s3(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in cli_env().items() if k not in AWS_VARS}
    env["AWS_SHARED_CREDENTIALS_FILE"] = env["AWS_CONFIG_FILE"] = os.devnull
    env.update(extra or {})
    return env


@contextlib.contextmanager
def postgres_databases(base_url: str, *names: str) -> Iterator[list[str]]:
    """Fresh databases beside ``base_url``'s (dropped afterwards, connections and all)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    tag = uuid.uuid4().hex[:8]
    dbs = [f"eg_{name}_{tag}" for name in names]
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for db in dbs:
            conn.execute(text(f'CREATE DATABASE "{db}"'))
    try:
        yield [make_url(base_url).set(database=db).render_as_string(hide_password=False) for db in dbs]
    finally:
        with admin.connect() as conn:
            for db in dbs:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Proc:
    """A child process with its output in ``log``; :meth:`stop` is SIGTERM, then SIGKILL."""

    name: str
    args: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    port: int | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proc:
        self.proc = spawn_logged(self.args, self.log, cwd=self.cwd, env=self.env)
        return self

    def events(self, name: str) -> list[dict[str, object]]:
        """The process's structured log lines of event ``name``, each with ``at`` (epoch seconds)."""
        import json
        from datetime import datetime

        out = []
        for line in self.log.read_text(errors="replace").splitlines() if self.log.exists() else []:
            if not line.startswith("{"):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("event") == name:
                event["at"] = datetime.fromisoformat(str(event["timestamp"])).timestamp()
                out.append(event)
        return out

    def tail(self, chars: int = 4000) -> str:
        return log_tail(self.log, chars)

    def wait_http(self, path: str, timeout: float = 120.0) -> None:
        """Until ``path`` answers 200 (a liveness bound for start-up, not a timing assertion)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: {path} never answered 200:\n{self.tail()}")

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def mlflow_server(workdir: Path, backend_uri: str, artifacts: str, env: Mapping[str, str]) -> Proc:
    port = free_port()
    args = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", backend_uri,
        "--artifacts-destination", artifacts,
        "--serve-artifacts",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    return Proc("mlflow server", args, dict(env), workdir, workdir / "mlflow-server.log", port)


def evergreen(workdir: Path, name: str, *args: str, env: Mapping[str, str], port: int | None = None) -> Proc:
    argv = [sys.executable, "-m", "evergreen", *args]
    if port is not None:
        argv += ["--port", str(port)]
    return Proc(name, argv, dict(env), workdir, workdir / f"{name}.log", port)


class ChampionNotices:
    """LISTENs on evergreen's NOTIFY channel like a replica does, and notes when each notice arrived:
    the moment the promotion reached the replicas' database connection, from which a swap is timed."""

    def __init__(self, database_url: str) -> None:
        from evergreen.store.notify import CHANNEL

        self.url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.channel = CHANNEL
        self.seen: list[tuple[float, dict[str, object]]] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import json

        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"LISTEN {self.channel}")
            self._ready.set()
            while not self._stop.is_set():
                for notice in conn.notifies(timeout=0.5):
                    self.seen.append((time.time(), json.loads(notice.payload)))

    def __enter__(self) -> ChampionNotices:
        self._thread.start()
        # A notice sent before the LISTEN is lost: going on unlistened would fail later as a missing
        # NOTIFY, so say so here (a liveness bound for one connection, not a timing assertion).
        assert self._ready.wait(120), "the NOTIFY listener never started LISTENing"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def at(self, version: str, after: float) -> float | None:
        """When the notice that ``version`` is champion arrived (the first after ``after``); a notice
        that it was registered (event ``registered``) is not one."""
        return next(
            (
                t
                for t, p in self.seen
                if p.get("event", "champion") == "champion" and p.get("version") == version and t >= after
            ),
            None,
        )

    def registered_at(self, version: str) -> float | None:
        """When the notice that ``version`` was registered arrived."""
        return next(
            (t for t, p in self.seen if p.get("event") == "registered" and p.get("version") == version), None
        )


@dataclass(frozen=True)
class Sample:
    replica: int
    started: float  # time.time() before the request
    ended: float  # and after its response
    status: int  # 0: no response
    version: str | None


class Load:
    """Steady /predict traffic on each replica from ``per_replica`` threads, every answer kept."""

    def __init__(self, urls: list[str], body: object, per_replica: int = 2, pause: float = 0.01) -> None:
        self.urls, self.body, self.pause = urls, body, pause
        self.samples: list[Sample] = []
        self.errors: list[str] = []  # the first few failed answers, to show when a check fails
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True)
            for i in range(len(urls))
            for _ in range(per_replica)
        ]

    def _run(self, replica: int) -> None:
        # A request's bound is liveness only (latency is measured, not asserted): a loaded machine
        # may hold one answer for seconds, which must not count as a failed request.
        with httpx.Client(base_url=self.urls[replica], timeout=60) as client:
            while not self._stop.is_set():
                started = time.time()
                try:
                    res = client.post("/predict", json=self.body)
                    version = res.json().get("model_version") if res.status_code == 200 else None
                    sample = Sample(replica, started, time.time(), res.status_code, version)
                    error = None if res.status_code == 200 else f"{res.status_code} {res.text[:300]}"
                except (httpx.HTTPError, ValueError) as exc:
                    sample = Sample(replica, started, time.time(), 0, None)
                    error = repr(exc)
                with self._lock:
                    self.samples.append(sample)
                    if error and len(self.errors) < 5:
                        self.errors.append(error)
                time.sleep(self.pause)

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)

    def snapshot(self) -> list[Sample]:
        with self._lock:
            return list(self.samples)

    def serving(self, version: str, since: float) -> bool:
        """Every replica has answered from ``version`` with a request started after ``since``."""
        seen = {s.replica for s in self.snapshot() if s.version == version and s.started >= since}
        return seen == set(range(len(self.urls)))

    def swap_seconds(self, version: str, since: float) -> list[float]:
        """Per replica: from ``since`` to the end of its first answer from ``version``."""
        out = []
        for r in range(len(self.urls)):
            ends = [
                s.ended
                for s in self.snapshot()
                if s.replica == r and s.version == version and s.ended >= since
            ]
            out.append(min(ends) - since)
        return out
