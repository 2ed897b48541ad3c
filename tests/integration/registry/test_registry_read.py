"""The MLflow-free registry reader answers exactly what the MLflow client (via Registry) answers,
on a real MLflow store (SQLite and PostgreSQL) whose aliases, tags and versions MlflowClient moved."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from evergreen.errors import NotFoundError
from evergreen.registry import CHAMPION, PREVIOUS, Registry
from evergreen.registry_read import RegistryReader, RestRegistryReader, SqlRegistryReader, open_reader
from tests.support.net import free_port, spawn_logged, wait_http


def _same(reader: RegistryReader, registry: Registry) -> None:
    assert reader.aliases() == registry.aliases()
    assert reader.list_versions() == registry.list_versions()
    for info in registry.list_versions():
        assert reader.get_version(info.version) == registry.get_version(info.version)
    for missing in ("99", "abc", "0"):
        with pytest.raises(NotFoundError, match=f"model version {missing} of churn not found"):
            registry.get_version(missing)
        with pytest.raises(NotFoundError, match=f"model version {missing} of churn not found"):
            reader.get_version(missing)


def _fallback_unused() -> RegistryReader:
    raise AssertionError("the reader fell back to the MLflow client")


@pytest.mark.slow
def test_reader_matches_the_mlflow_client(database_url: str, tmp_path: Path) -> None:
    registry = Registry(database_url, tmp_path / "artifacts", "churn")
    client: MlflowClient = registry.client
    reader = open_reader(database_url, "churn", _fallback_unused)
    assert isinstance(reader, SqlRegistryReader)
    _same(reader, registry)  # no registered model yet: no aliases, no versions

    client.create_registered_model("churn")
    client.create_registered_model("other")  # another model's versions and aliases stay apart
    for i in range(1, 5):
        client.create_model_version(
            "churn", f"file:///tmp/m{i}", run_id=None, tags={"evergreen.dataset_version": f"d{i}"}
        )
    other = client.create_model_version("other", "file:///tmp/o1")
    client.set_registered_model_alias("other", CHAMPION, other.version)
    client.set_model_version_tag("churn", "2", "evergreen.decision", "promoted")
    client.set_registered_model_alias("churn", CHAMPION, "2")
    _same(reader, registry)

    # Moved as Registry.set_champion moves them: previous <- old champion, champion <- new.
    assert registry.set_champion("3") == "2"
    client.set_registered_model_alias("churn", "shadow", "3")
    client.set_model_version_tag("churn", "3", "evergreen.decision", "promoted")
    client.delete_model_version_tag("churn", "2", "evergreen.decision")
    _same(reader, registry)
    assert reader.aliases() == {CHAMPION: "3", PREVIOUS: "2", "shadow": "3"}
    assert reader.get_version("3").dataset_version == "d3"
    assert [v.aliases for v in reader.list_versions()] == [(), (PREVIOUS,), (CHAMPION, "shadow"), ()]

    client.delete_model_version("churn", "4")  # deleted versions are hidden, as MLflow hides them
    client.delete_registered_model_alias("churn", "shadow")
    _same(reader, registry)
    assert [v.version for v in reader.list_versions()] == ["1", "2", "3"]


def test_a_missing_sqlite_store_is_empty_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nothing-yet.db"
    reader = open_reader(f"sqlite:///{path}", "churn", _fallback_unused)
    assert reader.aliases() == {} and reader.list_versions() == []
    with pytest.raises(NotFoundError):
        reader.get_version("1")
    assert not path.exists()


def test_a_store_without_mlflow_tables_and_other_uris_use_the_client(tmp_path: Path) -> None:
    import sqlite3

    sqlite3.connect(tmp_path / "empty.db").close()  # a file MLflow has not initialised
    calls: list[str] = []

    class Client:
        def aliases(self) -> dict[str, str]:
            calls.append("aliases")
            return {CHAMPION: "7"}

        def get_version(self, version: str) -> object:
            raise NotImplementedError

        def list_versions(self) -> list[object]:
            calls.append("list")
            return []

    def fallback() -> RegistryReader:
        return Client()  # type: ignore[return-value]

    reader = open_reader(f"sqlite:///{tmp_path}/empty.db", "churn", fallback)
    assert reader.aliases() == {CHAMPION: "7"} and reader.list_versions() == []
    assert calls == ["aliases", "list"]
    assert isinstance(open_reader("databricks", "churn", fallback), Client)
    auth_plugin = {"MLFLOW_TRACKING_AUTH": "my_plugin"}
    assert isinstance(open_reader("http://127.0.0.1:5000", "churn", fallback, auth_plugin), Client)
    calls.clear()
    nothing_there = open_reader(f"http://127.0.0.1:{free_port()}", "churn", fallback, {})
    assert isinstance(nothing_there, RestRegistryReader)
    assert nothing_there.aliases() == {CHAMPION: "7"} and calls == ["aliases"]  # the client reports it


@pytest.mark.slow
def test_rest_reader_matches_the_mlflow_client(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "mlflow-server.log"
    proc = spawn_logged(
        [
            sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
        ],
        log, start_new_session=True,
    )  # fmt: skip
    try:
        uri = f"http://127.0.0.1:{port}"
        wait_http(f"{uri}/health", proc, log=log)
        registry = Registry(uri, tmp_path / "artifacts", "churn")
        reader = open_reader(uri, "churn", _fallback_unused, {})
        assert isinstance(reader, RestRegistryReader)
        reader.PAGE = 2  # several pages of versions
        _same(reader, registry)
        client: MlflowClient = registry.client
        client.create_registered_model("churn")
        for i in range(1, 6):  # a remote source: the server refuses a local path outside a run
            client.create_model_version("churn", f"s3://b/m{i}", tags={"evergreen.dataset_version": f"d{i}"})
        client.set_registered_model_alias("churn", CHAMPION, "2")
        assert registry.set_champion("4") == "2"
        client.set_registered_model_alias("churn", "shadow", "4")
        client.delete_model_version("churn", "5")
        _same(reader, registry)
        assert [(v.version, v.aliases) for v in reader.list_versions()] == [
            ("1", ()), ("2", (PREVIOUS,)), ("3", ()), ("4", (CHAMPION, "shadow")),
        ]  # fmt: skip
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and the workers it started
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
