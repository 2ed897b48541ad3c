"""The MLflow environment evergreen chooses: set only where the user has not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evergreen.registry import Registry
from evergreen.telemetry import MLFLOW_HTTP_DEFAULTS, bound_mlflow_http_waits


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MLFLOW_HTTP_DEFAULTS:
        # Set, then removed: pytest puts back what was there (nothing), including what the test sets.
        monkeypatch.setenv(name, "x")
        monkeypatch.delenv(name)


def test_http_waits_are_bounded_where_unset_and_a_users_value_is_kept(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "300")
    bound_mlflow_http_waits()
    assert {k: os.environ[k] for k in MLFLOW_HTTP_DEFAULTS} == {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "300",
    }


def test_only_a_registry_on_a_tracking_server_bounds_them(clean_env: None, tmp_path: Path) -> None:
    Registry(f"sqlite:///{tmp_path}/mlflow.db", tmp_path / "artifacts", "m")
    assert not any(k in os.environ for k in MLFLOW_HTTP_DEFAULTS)  # MLflow's store in-process: no HTTP
    Registry("http://127.0.0.1:9", tmp_path / "artifacts", "m")  # the client makes no request yet
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "3"
