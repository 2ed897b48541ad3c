"""Running evergreen as a user does: a real subprocess of the CLI, ``evergreen serve`` on a free port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.net import free_port, log_tail, spawn_logged, wait_http

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"  # tests.support candidates
    env.update(
        {
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "EVERGREEN_PII_SALT": "e2e-salt",
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
    )
    env.update(extra or {})
    return env


def interruptible() -> None:
    """``preexec_fn`` for a child the test will stop with SIGINT, as Ctrl-C would.

    A test run started in the background by a non-interactive shell (``make test &``, nohup) has
    SIGINT ignored, POSIX passes that on to every child, and Python keeps an ignored SIGINT ignored:
    the child would never see the test's Ctrl-C.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


Runner = Callable[..., CliResult]


class ServeProcess:
    """``evergreen serve`` in a real process on a free port, ready to answer when entered.

    Its output goes to a file of its own (``log``), read with :meth:`output`.
    """

    def __init__(self, project_dir: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        fd, name = tempfile.mkstemp(prefix="evergreen-serve-", suffix=".log")
        os.close(fd)
        self.log = Path(name)
        self.proc = spawn_logged(
            [sys.executable, "-m", "evergreen", "serve", "--port", str(self.port), *args],
            self.log,
            cwd=project_dir,
            env=cli_env(),
        )

    def __enter__(self) -> ServeProcess:
        try:
            wait_http(self.url + "/ready", self.proc, log=self.log)
        except BaseException:
            self.__exit__()
            raise
        return self

    def output(self) -> str:
        return log_tail(self.log, chars=1_000_000)

    def stop(self, timeout: float = 90) -> int:
        """SIGTERM, as an orchestrator stops it; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.unlink(missing_ok=True)


def cli_runner(project_dir: Path) -> Runner:
    """Run ``python -m evergreen ARGS`` in ``project_dir`` with the test environment."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> CliResult:
        res = subprocess.run(
            [sys.executable, "-m", "evergreen", *args],
            cwd=project_dir,
            capture_output=True,
            text=True,
            env=cli_env(env),
            timeout=timeout,
        )
        return CliResult(res.returncode, res.stdout, res.stderr)

    return run


def set_config(project_dir: Path, section: str, **values: Any) -> None:
    path = project_dir / "evergreen.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg.setdefault(section, {}).update(values)
    path.write_text(yaml.safe_dump(cfg))
