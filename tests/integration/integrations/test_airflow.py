"""The Airflow adapter under ``dag.test()`` on SQLite, against a real evergreen project."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
import yaml


@pytest.fixture(scope="module", autouse=True)
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One AIRFLOW_HOME for the whole module, set before anything imports Airflow.

    Airflow reads its config and binds its ORM engine on first import, so a per-test home would
    leave every test after the first talking to the first test's database and DAGs folder.
    """
    home = tmp_path_factory.mktemp("airflow")
    (home / "dags").mkdir()
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        }
    )
    return home


@pytest.fixture
def airflow_home(airflow_env: Path) -> Path:
    """The Airflow home with a migrated DB and an empty DAGs folder (each test writes its DAG file)."""
    from airflow.utils import db

    for f in (airflow_env / "dags").iterdir():
        f.unlink()
    db.initdb()
    return airflow_env


def _states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


def test_generated_dag_promotes_then_skips_on_unchanged_data(
    airflow_home: Path, project_config: Path, tmp_path: Path
):
    from tests.integration.integrations.conftest import twin

    embedded_cfg = twin(project_config, tmp_path)
    dag_file = airflow_home / "dags" / "evergreen_churn.py"
    subprocess.run(
        [sys.executable, "-m", "evergreen", "airflow-dag", "-c", str(project_config), "-o", str(dag_file)],
        check=True,
        capture_output=True,
    )
    spec = importlib.util.spec_from_file_location("evergreen_churn_dag", dag_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.dag
    assert dag.dag_id == "evergreen_churn_retrain" and dag.max_active_runs == 1
    assert dag.schedule == "0 2 * * 1"
    assert dag.default_args["retries"] == 3 and dag.default_args["retry_exponential_backoff"] is True
    assert module.dag_on_landing.dag_id == "evergreen_churn_retrain_on_landing"

    first = dag.test()
    assert str(first.state) == "success"
    states = _states(first)
    assert states["promote"] == "success" and states["no_trigger"] == "skipped"

    from evergreen.config import load_settings
    from evergreen.pipeline import RetrainRequest, RetrainRunner
    from evergreen.project import open_project
    from evergreen.store.runs import list_runs

    project = open_project(load_settings(project_config))
    [run] = list_runs(project.store)
    assert (run["trigger"], run["status"], run["candidate_version"]) == ("new_data", "promoted", "1")
    assert project.registry.version_by_alias("champion") == "1"
    project.registry.load_model("1")

    # Same data, same decision as the embedded runner.
    twin_project = open_project(load_settings(embedded_cfg))
    embedded = RetrainRunner(twin_project).run(RetrainRequest(trigger="new_data", reason="twin"))
    assert embedded.status == run["status"] and embedded.dataset_version == run["dataset_version"]
    [decision] = project.store and _decisions(project, run["id"])
    assert decision["candidate_metrics"] == embedded.candidate_metrics

    second = dag.test()
    assert str(second.state) == "success"
    states = _states(second)
    assert states["no_trigger"] == "success"
    assert {states[t] for t in ("dataset", "train", "evaluate", "decide", "promote", "notify")} == {"skipped"}
    assert len(list_runs(project.store)) == 1


def _decisions(project: Any, run_id: str) -> list[dict[str, Any]]:
    from evergreen.store.runs import get_run

    return list(get_run(project.store, run_id)["decisions"])


def _generated_dag(airflow_home: Path, project_config: Path, name: str) -> Any:
    dag_file = airflow_home / "dags" / f"evergreen_{name}.py"
    subprocess.run(
        [sys.executable, "-m", "evergreen", "airflow-dag", "-c", str(project_config), "-o", str(dag_file)],
        check=True,
        capture_output=True,
    )
    spec = importlib.util.spec_from_file_location(f"evergreen_{name}_dag", dag_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_run_time_min_improvement_override_changes_the_dag_decision(
    airflow_home: Path, project_config: Path
):
    from evergreen.config import load_settings
    from evergreen.control import set_thresholds
    from evergreen.project import open_project
    from evergreen.store.requests import enqueue_retrain
    from evergreen.store.runs import list_runs

    cfg = yaml.safe_load(project_config.read_text())
    cfg["project"] = "override"  # its own DAG id in the module's shared Airflow DB
    cfg["promotion"]["significance"] = None  # the decision turns on min_improvement alone
    project_config.write_text(yaml.safe_dump(cfg))
    dag = _generated_dag(airflow_home, project_config, "override").dag
    assert str(dag.test().state) == "success"
    project = open_project(load_settings(project_config))
    assert [r["status"] for r in list_runs(project.store)] == ["promoted"]

    # A forced retrain on the same data makes the same model: a delta of exactly 0. evergreen.yaml
    # (min_improvement 0.01) rejects it; the override accepting any change must promote it.
    set_thresholds(project, {"promotion.min_improvement": -0.5}, actor="api:ops", reason="test")
    enqueue_retrain(project.store, "same data, new threshold", "api:ops", force=True)
    dr = dag.test()
    assert str(dr.state) == "success" and _states(dr)["promote"] == "success"
    newest = list_runs(project.store)[0]
    assert (newest["trigger"], newest["status"], newest["candidate_version"]) == ("manual", "promoted", "2")
    assert project.registry.version_by_alias("champion") == "2"


# ---- the Asset variant: a watcher on <landing>/_READY schedules ``dag_on_landing`` ---------------------
POKE = 0.05  # seconds between the watcher's polls in these tests (the default is 5 s)


def _inflate(classpath: str, kwargs: dict[str, Any], **override: Any) -> Any:
    """A trigger instance made the way ``TriggerRunner.create_triggers`` makes it from a trigger row."""
    from airflow.serialization.decoders import smart_decode_trigger_kwargs
    from airflow.triggers.base import BaseEventTrigger

    module, _, name = classpath.rpartition(".")
    decoded = {k: smart_decode_trigger_kwargs(v) for k, v in kwargs.items()}
    trigger = getattr(importlib.import_module(module), name)(**{**decoded, **override})
    # Only event triggers may drive an AssetWatcher; without a shared stream key the triggerer
    # iterates ``trigger.run()`` itself, which is what ``_watch`` does.
    assert isinstance(trigger, BaseEventTrigger) and trigger.shared_stream_key() is None
    return trigger


def _as_stored(trigger: Any) -> Any:
    """Round trip through what the DAG processor stores for a watcher (``encode_trigger``)."""
    from airflow.serialization.encoders import encode_trigger

    encoded = encode_trigger(trigger)
    rebuilt = _inflate(encoded["classpath"], encoded["kwargs"])
    assert rebuilt.serialize() == trigger.serialize()
    return rebuilt


def _watch(
    trigger: Any, steps_before_flag: list[Any], put_flag: Callable[[], object], timeout: float = 120.0
) -> Any:
    """Run ``trigger.run()`` under asyncio as the triggerer does; no event may come before the flag.

    Polls a few times with nothing landed, then after each of ``steps_before_flag``, asserting that
    no event came; then puts the flag and returns the first event, checking the generator ends
    after it (a watcher trigger fires once per flag).
    """

    async def main() -> Any:
        events = trigger.run()
        first = asyncio.ensure_future(anext(events))
        try:
            for step in [lambda: None, *steps_before_flag]:
                await asyncio.to_thread(step)  # an S3 client must not run on this loop (fsspec's rule)
                await asyncio.sleep(POKE * 6)
                assert not first.done(), "the watcher fired before the flag landed"
            await asyncio.to_thread(put_flag)
            event = await asyncio.wait_for(first, timeout)
            with pytest.raises(StopAsyncIteration):
                await anext(events)
            return event
        finally:
            first.cancel()
            await events.aclose()

    return asyncio.run(main())


def _landing_watcher(asset: Any) -> Any:
    from airflow.providers.standard.triggers.file import FileDeleteTrigger

    [watcher] = asset.watchers
    assert isinstance(watcher.trigger, FileDeleteTrigger)
    return watcher


def test_landing_watcher_fires_when_the_flag_lands_and_deletes_it(project_config: Path):
    from airflow.sdk import Asset

    from evergreen.config import load_settings
    from evergreen.examples.churn import make_batch
    from evergreen.integrations.airflow import READY_FLAG, landing_asset

    landing = load_settings(project_config).data.landing
    flag = landing / READY_FLAG
    asset = landing_asset(project_config, poke_interval=POKE)
    assert isinstance(asset, Asset) and asset.uri == f"file://{landing}"
    watcher = _landing_watcher(asset)
    assert watcher.trigger.filepath == str(flag) and watcher.trigger.poke_interval == POKE

    before = sorted(p.name for p in landing.iterdir())
    assert before and READY_FLAG not in before  # `evergreen init` left two batches, no flag
    new_file = landing / "customers-week02.csv"
    event = _watch(
        _as_stored(watcher.trigger),
        # A data file landing is not the signal (it may still be half written); only the flag is.
        [lambda: make_batch(2, 200, drifted=False).to_csv(new_file, index=False)],
        flag.touch,
    )
    assert event.payload is True
    assert not flag.exists(), "the watcher deletes the flag, so the producer's next one fires again"
    assert sorted(p.name for p in landing.iterdir()) == sorted([*before, new_file.name])

    # The next producer cycle fires again.
    assert _watch(_as_stored(watcher.trigger), [], flag.touch).payload is True
    assert not flag.exists()


def _sync_dags_folder() -> None:
    """Parse the DAGs folder into the metadata DB, as the DAG processor (and ``dag.test()``) does."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        sync_bag_to_db(bag, bundle.name, bundle.version)


def _stored_watcher(dag_id: str, asset: Any) -> tuple[str, dict[str, Any]]:
    """Parse and unpause the DAG as the DAG processor would; check it is scheduled on ``asset`` and
    return the classpath and stored kwargs of the asset's one watcher trigger row."""
    from airflow.models.asset import AssetModel
    from airflow.models.dag import DagModel
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    _sync_dags_folder()
    with create_session() as session:
        session.scalars(select(DagModel).where(DagModel.dag_id == dag_id)).one().is_paused = False
    _sync_dags_folder()
    with create_session() as session:
        dm = session.scalars(select(DagModel).where(DagModel.dag_id == dag_id)).one()
        assert dm.asset_expression == {
            "all": [{"asset": {"name": asset.name, "uri": asset.uri, "group": "asset", "id": ANY}}]
        }
        asset_row = session.scalars(
            select(AssetModel).where(AssetModel.name == asset.name, AssetModel.uri == asset.uri)
        ).one()
        [row] = asset_row.triggers
        return row.classpath, Trigger._decrypt_kwargs(row.encrypted_kwargs)


def test_landing_dag_runs_on_the_asset_and_retrains_on_the_landed_files(
    airflow_home: Path, project_config: Path, tmp_path: Path
):
    from airflow.sdk import Asset, AssetAll
    from airflow.sdk.definitions.timetables.assets import AssetTriggeredTimetable

    from evergreen.config import load_settings
    from evergreen.integrations.airflow import READY_FLAG, landing_asset
    from evergreen.project import open_project
    from evergreen.store.runs import get_run, list_runs

    # Its own project name: the module shares one Airflow DB, where an asset name stays bound to the
    # first (still active) asset that used it, as it would for two same-named projects in one Airflow.
    cfg = yaml.safe_load(project_config.read_text())
    project_config.write_text(yaml.safe_dump({**cfg, "project": "landed"}))
    landing = load_settings(project_config).data.landing
    flag = landing / READY_FLAG
    # The project's two example batches wait in a producer's outbox: nothing has landed yet.
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    produced = sorted(p.name for p in landing.iterdir())
    for name in produced:
        (landing / name).rename(outbox / name)

    dag_file = airflow_home / "dags" / "evergreen_landed.py"
    subprocess.run(
        [sys.executable, "-m", "evergreen", "airflow-dag", "-c", str(project_config), "-o", str(dag_file)],
        check=True,
        capture_output=True,
    )
    spec = importlib.util.spec_from_file_location("evergreen_landed_dag", dag_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cron, dag = module.dag, module.dag_on_landing
    assert dag.dag_id == "evergreen_landed_retrain_on_landing"

    # Its schedule is the landing Asset, watched by a FileDeleteTrigger on <landing>/_READY.
    expected = landing_asset(project_config)
    assert isinstance(dag.timetable, AssetTriggeredTimetable)
    condition = dag.timetable.asset_condition
    assert isinstance(condition, AssetAll)
    [scheduled] = condition.objects
    assert isinstance(scheduled, Asset)
    assert (scheduled.name, scheduled.uri) == (expected.name, expected.uri)
    assert (expected.name, expected.uri) == ("evergreen-landed-landing", f"file://{landing}")
    trigger = _landing_watcher(scheduled).trigger
    assert trigger.serialize() == _landing_watcher(expected).trigger.serialize()
    assert trigger.filepath == str(flag)

    # Same tasks, same wiring, same retries as the cron DAG.
    def shape(d: Any) -> dict[str, Any]:
        return {t.task_id: (sorted(t.upstream_task_ids), t.retries, t.max_retry_delay) for t in d.tasks}

    assert shape(dag) == shape(cron) and len(dag.tasks) == 10
    assert dag.default_args == cron.default_args and dag.max_active_runs == 1

    # Parsed and unpaused, the metadata DB holds the DAG as scheduled on the asset and the asset's
    # watcher as a trigger row: what the triggerer picks up.
    classpath, kwargs = _stored_watcher(dag.dag_id, expected)
    assert classpath == "airflow.providers.standard.triggers.file.FileDeleteTrigger"

    # The producer lands its files, then the flag; the stored watcher fires (only then) and consumes it.
    def land() -> None:
        for name in produced:
            (outbox / name).rename(landing / name)

    watcher_trigger = _inflate(classpath, kwargs, poke_interval=POKE)  # faster polls, same trigger
    assert watcher_trigger.filepath == str(flag)
    assert _watch(watcher_trigger, [land], flag.touch).payload is True
    assert not flag.exists()

    # The run it schedules ingests the landed files and retrains: on a fresh project it promotes.
    dr = dag.test()
    assert str(dr.state) == "success"
    states = _states(dr)
    assert set(states) == set(cron.task_ids)
    assert {states[t] for t in set(states) - {"no_trigger"}} == {"success"}
    assert states["no_trigger"] == "skipped"
    assert [p.name for p in landing.iterdir() if p.is_file()] == [], "the landed files were ingested"

    project = open_project(load_settings(project_config))
    [run] = list_runs(project.store)
    assert (run["trigger"], run["status"], run["candidate_version"]) == ("new_data", "promoted", "1")
    assert len(get_run(project.store, run["id"])["details"]["batch_ids"]) == len(produced) == 2
    assert project.registry.version_by_alias("champion") == "1"
    project.registry.load_model("1")


# ---- the Asset variant on an object-store landing: LandingFlagTrigger on <url>/_READY -----------------
TRIGGER_CLASSPATH = "evergreen.integrations.airflow_landing.LandingFlagTrigger"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real S3 (SeaweedFS's ``weed mini`` on 127.0.0.1), started once for the tests that need it."""
    from tests.support.s3 import seaweed_s3

    with seaweed_s3(tmp_path_factory.mktemp("s3"), buckets=("landing",)) as server:
        yield server


@pytest.fixture
def s3_env(s3: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Its endpoint and keys in this process's environment: where the triggerer's would be."""
    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    return s3


def _put(fs: Any, key: str, body: bytes = b"") -> None:
    fs.pipe_file(key, body)
    fs.invalidate_cache()


def _exists(fs: Any, key: str) -> bool:
    fs.invalidate_cache()
    return bool(fs.exists(key))


def test_object_landing_trigger_fires_when_the_flag_is_put_and_deletes_it(s3_env: Any):
    from evergreen.integrations.airflow_landing import READY_FLAG, LandingFlagTrigger

    fs = s3_env.fs()
    flag_key = f"landing/flagged/{READY_FLAG}"
    trigger = LandingFlagTrigger(url="s3://landing/flagged/", poke_interval=POKE)
    event = _watch(
        _as_stored(trigger),
        [
            # A data file landing is not the signal; nor another prefix's flag, nor a look-alike name.
            lambda: _put(fs, "landing/flagged/customers-week02.csv", b"customer_id,churned\n1,0\n"),
            lambda: _put(fs, f"landing/other/{READY_FLAG}"),
            lambda: _put(fs, f"landing/flagged/{READY_FLAG}.tmp"),
        ],
        lambda: _put(fs, flag_key),
    )
    assert event.payload == {"flag": f"s3://{flag_key}"}
    assert not _exists(fs, flag_key), "the watcher deletes the flag, so the producer's next one fires"
    for kept in ("flagged/customers-week02.csv", f"other/{READY_FLAG}", f"flagged/{READY_FLAG}.tmp"):
        assert _exists(fs, f"landing/{kept}"), kept

    # The next producer cycle fires again, on a trigger rebuilt from its stored form.
    assert _watch(_as_stored(trigger), [], lambda: _put(fs, flag_key)).payload == {"flag": f"s3://{flag_key}"}
    assert not _exists(fs, flag_key)


def test_object_landing_trigger_serializes_the_url_only(s3_env: Any):
    from airflow.serialization.encoders import encode_trigger

    from evergreen.integrations.airflow_landing import LandingFlagTrigger

    trigger = LandingFlagTrigger(url="s3://landing/in/", poke_interval=2.5)
    assert trigger.serialize() == (
        TRIGGER_CLASSPATH,
        {"url": "s3://landing/in/", "flag": "_READY", "poke_interval": 2.5},
    )
    rebuilt = _as_stored(trigger)  # encode_trigger → decode → the class by its path → same serialize()
    assert (rebuilt.url, rebuilt.flag, rebuilt.poke_interval) == ("s3://landing/in/", "_READY", 2.5)
    stored = repr(encode_trigger(trigger))
    assert s3_env.secret_key not in stored and s3_env.access_key not in stored

    with pytest.raises(ValueError, match="credentials") as refused:
        LandingFlagTrigger(url="s3://AKIDEXAMPLE:hush-hush-secret@landing/in/")
    assert "hush-hush-secret" not in str(refused.value)
    with pytest.raises(ValueError, match="flag"):
        LandingFlagTrigger(url="s3://landing/in/", flag="sub/_READY")


def test_object_landing_trigger_fails_visibly_on_refused_credentials(
    s3_env: Any, monkeypatch: pytest.MonkeyPatch
):
    from evergreen.integrations.airflow_landing import LandingFlagTrigger

    fs = s3_env.fs()
    _put(fs, "landing/denied/_READY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-0123456789")
    trigger = LandingFlagTrigger(url="s3://landing/denied/", poke_interval=POKE)

    async def first() -> Any:
        events = trigger.run()
        try:
            return await anext(events)
        finally:
            await events.aclose()

    # Retrying cannot fix a refused key: the trigger fails (shown in Airflow's UI), the flag stays.
    with pytest.raises(PermissionError):
        asyncio.run(first())
    assert _exists(fs, "landing/denied/_READY")


def test_object_landing_trigger_fails_visibly_without_credentials(
    s3_env: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """The triggerer's environment holds no keys (the compose profile once had none): botocore's
    NoCredentialsError is no PermissionError, but retrying cannot fix it either."""
    from botocore.exceptions import NoCredentialsError

    from evergreen.integrations.airflow_landing import LandingFlagTrigger

    _put(s3_env.fs(), "landing/nokeys/_READY")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    trigger = LandingFlagTrigger(url="s3://landing/nokeys/", poke_interval=POKE)

    async def first() -> Any:
        events = trigger.run()
        try:
            # A liveness bound, not a timing assertion: the old code polled (and warned) forever.
            return await asyncio.wait_for(anext(events), 60)
        finally:
            await events.aclose()

    with pytest.raises(NoCredentialsError):
        asyncio.run(first())
    assert _exists(s3_env.fs(), "landing/nokeys/_READY")


@contextlib.contextmanager
def _forwarder(port: int, upstream: tuple[str, int]) -> Iterator[None]:
    """A TCP relay on 127.0.0.1:``port`` to ``upstream``: the store comes back at the same address."""

    class Relay(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with socket.create_connection(upstream) as up:
                pipes = [(self.request, up), (up, self.request)]
                threads = [threading.Thread(target=_pipe, args=p, daemon=True) for p in pipes]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True  # a pooled connection still open at the end must not block the close

    with Server(("127.0.0.1", port), Relay) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield
        finally:
            server.shutdown()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while chunk := src.recv(65536):
            dst.sendall(chunk)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def test_object_landing_trigger_outlives_an_unreachable_store(
    s3_env: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
):
    """The store is down when the watcher starts: it logs (no secret), keeps polling, and fires once
    the store answers again at the same address."""
    from urllib.parse import urlsplit

    from evergreen.integrations.airflow_landing import LandingFlagTrigger
    from tests.support.net import free_port

    port = free_port()  # nothing listening on it yet
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's own retries would only slow the polls
    upstream = urlsplit(s3_env.endpoint)
    fs = s3_env.fs()
    flag_key = "landing/outage/_READY"
    trigger = LandingFlagTrigger(url="s3://landing/outage/", poke_interval=POKE)
    relay = _forwarder(port, (str(upstream.hostname), int(upstream.port or 80)))

    logged: list[str] = []

    def store_was_down() -> None:  # at least one poll failed (logged) before the store comes back
        deadline = time.monotonic() + 120  # a liveness bound, not a timing assertion
        while "unavailable" not in "".join(logged) and time.monotonic() < deadline:
            logged.extend(capfd.readouterr())  # Airflow's structlog writes the trigger's log there
            time.sleep(POKE)

    event = _watch(trigger, [store_was_down, relay.__enter__], lambda: _put(fs, flag_key))
    try:
        assert event.payload == {"flag": f"s3://{flag_key}"}
        assert not _exists(fs, flag_key)
    finally:
        relay.__exit__(None, None, None)
    logged.extend(capfd.readouterr())
    assert "landing s3://landing/outage/ unavailable: EndpointConnectionError" in "".join(logged)
    assert s3_env.secret_key not in "".join(logged)


def test_file_url_landing_is_watched_by_the_same_trigger(tmp_path: Path):
    from evergreen.integrations.airflow_landing import READY_FLAG, LandingFlagTrigger

    landing = tmp_path / "in"
    landing.mkdir()
    flag = landing / READY_FLAG
    trigger = LandingFlagTrigger(url=f"file://{landing}/", poke_interval=POKE)
    event = _watch(_as_stored(trigger), [lambda: (landing / "week02.csv").write_text("a\n1\n")], flag.touch)
    assert event.payload == {"flag": f"file://{flag}"}
    assert sorted(p.name for p in landing.iterdir()) == ["week02.csv"]


@pytest.mark.slow  # a whole retrain under dag.test(), as the local-landing test above
def test_s3_landing_dag_parses_with_the_watcher_and_retrains_on_the_landed_objects(
    airflow_home: Path, project_config: Path, s3_env: Any
):
    from airflow.sdk import Asset, AssetAll
    from airflow.sdk.definitions.timetables.assets import AssetTriggeredTimetable

    from evergreen.config import load_settings
    from evergreen.integrations.airflow_landing import READY_FLAG, LandingFlagTrigger
    from evergreen.project import open_project
    from evergreen.store.runs import get_run, list_runs

    # The project of `evergreen init`, landing in a bucket prefix: its two example batches are the
    # producer's files, still on its side.
    cfg = yaml.safe_load(project_config.read_text())
    local_landing = load_settings(project_config).data.landing
    produced = sorted(p for p in Path(local_landing).iterdir() if p.is_file())
    url = "s3://landing/dagged/"
    cfg["project"] = "s3landed"  # its own asset name in the module's shared Airflow DB
    cfg["data"]["landing"] = url
    project_config.write_text(yaml.safe_dump(cfg))

    dag_file = airflow_home / "dags" / "evergreen_s3landed.py"
    subprocess.run(
        [sys.executable, "-m", "evergreen", "airflow-dag", "-c", str(project_config), "-o", str(dag_file)],
        check=True,
        capture_output=True,
    )
    assert s3_env.secret_key not in dag_file.read_text()
    spec = importlib.util.spec_from_file_location("evergreen_s3landed_dag", dag_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cron, dag = module.dag, module.dag_on_landing
    assert dag.dag_id == "evergreen_s3landed_retrain_on_landing"

    # Its schedule is the landing Asset (the prefix's URL), watched by LandingFlagTrigger on _READY.
    assert isinstance(dag.timetable, AssetTriggeredTimetable)
    condition = dag.timetable.asset_condition
    assert isinstance(condition, AssetAll)
    [scheduled] = condition.objects
    assert isinstance(scheduled, Asset)
    assert (scheduled.name, scheduled.uri) == ("evergreen-s3landed-landing", "s3://landing/dagged")
    [watcher] = scheduled.watchers
    assert isinstance(watcher.trigger, LandingFlagTrigger)
    assert watcher.trigger.serialize() == (
        TRIGGER_CLASSPATH,
        {"url": url, "flag": READY_FLAG, "poke_interval": 5.0},
    )

    # Parsed and unpaused: the DAG is scheduled on the asset, and the watcher is a trigger row whose
    # stored kwargs hold the URL and nothing secret.
    classpath, kwargs = _stored_watcher(dag.dag_id, scheduled)
    assert classpath == TRIGGER_CLASSPATH
    assert {k: v for k, v in kwargs.items() if not k.startswith("__")} == {
        "url": url,
        "flag": READY_FLAG,
        "poke_interval": 5.0,
    }
    assert s3_env.secret_key not in repr(kwargs) and s3_env.access_key not in repr(kwargs)

    # The producer uploads its files, then the flag; the stored watcher fires (only then), consumes it.
    fs = s3_env.fs()
    flag_key = f"landing/dagged/{READY_FLAG}"

    def land() -> None:
        for path in produced:
            fs.put_file(str(path), f"landing/dagged/{path.name}")

    watcher_trigger = _inflate(classpath, kwargs, poke_interval=POKE)  # faster polls, same trigger
    assert _watch(watcher_trigger, [land], lambda: _put(fs, flag_key)).payload == {"flag": f"s3://{flag_key}"}
    assert not _exists(fs, flag_key)

    # The run it schedules ingests the landed objects from the bucket and retrains: it promotes.
    dr = dag.test()
    assert str(dr.state) == "success"
    states = _states(dr)
    assert set(states) == set(cron.task_ids) and states["no_trigger"] == "skipped"
    assert {states[t] for t in set(states) - {"no_trigger"}} == {"success"}
    fs.invalidate_cache()
    assert sorted(k.rsplit("/", 1)[-1].split("-", 1)[1] for k in fs.ls("landing/dagged/.processed")) == [
        p.name for p in produced
    ], "the landed objects were ingested and moved aside"

    project = open_project(load_settings(project_config))
    [run] = list_runs(project.store)
    assert (run["trigger"], run["status"], run["candidate_version"]) == ("new_data", "promoted", "1")
    assert len(get_run(project.store, run["id"])["details"]["batch_ids"]) == len(produced) == 2
    assert project.registry.version_by_alias("champion") == "1"


def _dag_whose_promote_fails_once(
    airflow_home: Path,
    project_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    dag_project: str,
    exc: Exception,
) -> tuple[Any, list[int]]:
    """(the DAG run, the champion-move attempts) of a project whose first champion move raises ``exc``;
    Airflow retries after 1 s."""
    from tests.support.faults import fail_champion_move_once

    cfg = yaml.safe_load(project_config.read_text())
    cfg["project"] = dag_project  # its own DAG id in the module's shared Airflow DB
    cfg["triggers"].update({"backoff_seconds": 1, "backoff_max_seconds": 1})
    project_config.write_text(yaml.safe_dump(cfg))
    attempts = fail_champion_move_once(monkeypatch, exc)
    return _generated_dag(airflow_home, project_config, dag_project).dag.test(), attempts


def test_a_transient_failure_is_retried_by_airflow_within_the_same_run(
    airflow_home: Path, project_config: Path, monkeypatch: pytest.MonkeyPatch
):
    # MLflow fails the first promote attempt: Airflow's retry (the DAG's own retries, 1 s here)
    # carries the same evergreen run on to its promotion; nothing is recorded as failed meanwhile.
    from evergreen.config import load_settings
    from evergreen.errors import RegistryError
    from evergreen.project import open_project
    from evergreen.store.audit import list_actions
    from evergreen.store.runs import list_runs

    dr, attempts = _dag_whose_promote_fails_once(
        airflow_home, project_config, monkeypatch, "retried", RegistryError("mlflow unreachable")
    )
    assert str(dr.state) == "success" and _states(dr)["promote"] == "success"
    assert len(attempts) == 2
    [ti] = [t for t in dr.get_task_instances() if t.task_id == "promote"]
    assert ti.try_number == 2
    project = open_project(load_settings(project_config))
    assert [r["status"] for r in list_runs(project.store)] == ["promoted"]
    assert list_actions(project.store, action="retrain_failed") == []
    assert project.registry.version_by_alias("champion") == "1"


def test_a_deterministic_failure_fails_the_task_without_airflow_retries(
    airflow_home: Path, project_config: Path, monkeypatch: pytest.MonkeyPatch
):
    # A bug, not an outage: the run ends failed at the first attempt, and Airflow does not run the
    # task again (each retry could only be refused: the run has ended).
    from evergreen.config import load_settings
    from evergreen.project import open_project
    from evergreen.store.runs import list_runs

    dr, attempts = _dag_whose_promote_fails_once(
        airflow_home, project_config, monkeypatch, "bug", RuntimeError("a bug")
    )
    assert str(dr.state) == "failed" and _states(dr)["promote"] == "failed"
    [ti] = [t for t in dr.get_task_instances() if t.task_id == "promote"]
    assert (ti.try_number, len(attempts)) == (1, 1)
    project = open_project(load_settings(project_config))
    [run] = list_runs(project.store)
    assert run["status"] == "failed" and run["error"].startswith("RuntimeError: a bug")
    assert project.registry.version_by_alias("champion") is None
