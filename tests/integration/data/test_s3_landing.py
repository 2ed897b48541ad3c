"""The object-store landing against real S3 (SeaweedFS on 127.0.0.1): the scheduler's pass settles,
ingests, records and moves an object aside; a kept object is never taken twice; a store it cannot
reach is logged without the secret and does not stop the pass; old processed objects are pruned."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from evergreen.data.landing import ingest_landing
from evergreen.data.objectstore import ObjectLanding
from evergreen.examples import churn
from evergreen.project import Project, open_project
from evergreen.store.engine import utcnow
from evergreen.store.tables import batches, landing_objects
from evergreen.triggers.scheduler import Scheduler
from tests.support.project import make_project_settings
from tests.support.s3 import S3Server, seaweed_s3

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with seaweed_s3(tmp_path_factory.mktemp("s3"), buckets=("landing",)) as server:
        yield server


@pytest.fixture
def s3_env(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    return s3


def _project(root: Path, prefix: str, **data: Any) -> Project:
    settings = make_project_settings(
        root,
        data={"landing": f"s3://landing/{prefix}/", **data},
        triggers={"settle_seconds": 0.3, "watch_landing": True},
        monitoring={"schedule": None},
    )
    return open_project(settings)


def _put(s3: S3Server, key: str, index: int, rows: int = 200) -> None:
    buf = io.StringIO()
    churn.make_batch(index, rows, drifted=False).to_csv(buf, index=False)
    s3.fs().pipe_file(key, buf.getvalue().encode())


def _until(fn: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout  # a liveness bound, not a timing assertion
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("gave up waiting")


def test_scheduler_settles_ingests_records_and_moves_aside(
    s3_env: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _project(tmp_path, "settle") as project:
        sched = Scheduler(project)
        _put(s3_env, "landing/settle/week01.csv", 1)
        assert sched.ingest_new() == []  # first sighting: not settled yet
        [res] = _until(sched.ingest_new)
        assert (res.status, res.rows, res.source) == ("accepted", 200, "s3://landing/settle/week01.csv")
        fs = s3_env.fs()
        assert fs.ls("landing/settle") == ["landing/settle/.processed"]
        [moved] = fs.ls("landing/settle/.processed")
        assert moved.endswith("-week01.csv")
        with project.store.connect() as conn:
            [rec] = conn.execute(select(landing_objects)).all()
            [batch] = conn.execute(select(batches)).all()
        assert (rec.source, rec.status, rec.batch_id) == (res.source, "accepted", batch.id)
        assert rec.moved_to == "s3://" + moved
        assert len(rec.version) == 32  # the ETag (an MD5 for a single-part upload)
        assert sched.ingest_new() == []
    captured = capsys.readouterr()
    assert s3_env.secret_key not in captured.out + captured.err


def test_kept_object_is_taken_once_per_version(s3_env: S3Server, tmp_path: Path) -> None:
    with _project(tmp_path, "keep", landing_after="keep") as project:
        sched = Scheduler(project)
        _put(s3_env, "landing/keep/a.csv", 1)
        [first] = _until(sched.ingest_new)
        assert first.status == "accepted"
        for _ in range(3):
            assert sched.ingest_new() == []
        assert s3_env.fs().exists("landing/keep/a.csv")
        _put(s3_env, "landing/keep/a.csv", 2)  # a new version (new ETag) of the same key
        [second] = _until(sched.ingest_new)
        assert second.status == "accepted" and second.batch_id != first.batch_id


def test_marker_mode_on_s3(s3_env: S3Server, tmp_path: Path) -> None:
    with _project(tmp_path, "marker", landing_ready="marker") as project:
        sched = Scheduler(project)
        _put(s3_env, "landing/marker/part-0.csv", 1)
        time.sleep(0.3)
        assert sched.ingest_new() == []
        time.sleep(1.1)  # S3 times are whole seconds: the marker must be visibly newer
        s3_env.fs().pipe_file("landing/marker/_SUCCESS", b"")
        [res] = _until(sched.ingest_new)
        assert res.source == "s3://landing/marker/part-0.csv"


def test_unreachable_store_is_logged_without_the_secret(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-abcdef")
    with _project(tmp_path, "denied") as project:
        sched = Scheduler(project)
        assert sched.ingest_new() == []
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "landing_unavailable" in out and "s3://landing/denied/" in out
    assert "wrong-secret-abcdef" not in out and s3_env.secret_key not in out


def test_ingest_with_a_wrong_secret_names_the_setting_and_the_url(s3_env: S3Server, tmp_path: Path) -> None:
    # `evergreen ingest` said only "error: PermissionError: Forbidden": which store, which setting?
    from tests.support.cli import cli_runner, set_config

    run = cli_runner(tmp_path)
    assert run("init", "proj").code == 0
    set_config(tmp_path / "proj", "data", landing="s3://landing/denied-cli/")
    res = cli_runner(tmp_path / "proj")(
        "ingest", env={**s3_env.env(), "AWS_SECRET_ACCESS_KEY": "wrong-secret-abcdef"}
    )
    assert res.code == 1
    [line] = res.stderr.splitlines()
    assert line.startswith("error: PermissionError: data.landing s3://landing/denied-cli/: The request"), line
    assert "wrong-secret-abcdef" not in res.stderr + res.stdout and s3_env.secret_key not in res.stderr


def test_prune_deletes_processed_objects_past_retention(s3_env: S3Server) -> None:
    _put(s3_env, "landing/prune/.processed/20260101T000000000000Z-old.csv", 1, rows=5)
    landing = ObjectLanding("s3://landing/prune/")
    assert landing.prune(utcnow(), days=7) == []
    gone = landing.prune(utcnow() + timedelta(days=8), days=7)
    assert gone == ["s3://landing/prune/.processed/20260101T000000000000Z-old.csv"]
    assert [p for p in s3_env.fs().find("landing/prune") if p.endswith(".csv")] == []


def test_gc_dry_run_lists_the_bucket_objects_it_would_delete(s3_env: S3Server, tmp_path: Path) -> None:
    from evergreen.retention.apply import run_gc
    from evergreen.retention.plan import RetentionPolicy

    key = "landing/gcplan/.quarantine/20260101T000000000000Z-bad.csv"
    _put(s3_env, key, 1, rows=5)
    policy, later = RetentionPolicy(processed_days=7), utcnow() + timedelta(days=8)
    with _project(tmp_path, "gcplan") as project:
        assert run_gc(project, policy, utcnow(), dry_run=True).plan.files == ()  # not old enough yet
        dry = run_gc(project, policy, later, dry_run=True)
        assert dry.plan.files == (f"s3://{key}",)
        assert s3_env.fs().exists(key)  # a dry run deletes nothing
        done = run_gc(project, policy, later)
    assert list(done.deleted_files) == [f"s3://{key}"]
    assert not s3_env.fs().exists(key)


def test_object_name_too_long_for_a_local_file_is_ingested(s3_env: S3Server, tmp_path: Path) -> None:
    # An S3 key may be 1024 bytes (SeaweedFS: a name up to 255); a local file name 255, and the local
    # quarantine sidecar adds a 24-byte stamp and ".reason.json" to the name it was downloaded as.
    name = "é" * 116 + ".csv"  # 236 bytes, "bad-" 240
    with _project(tmp_path, "long") as project:
        sched = Scheduler(project)
        _put(s3_env, f"landing/long/{name}", 1)
        _put(s3_env, f"landing/long/bad-{name}", 2, rows=0)  # no rows: quarantined
        results = _until(sched.ingest_new)
        assert sorted((r.source, r.status) for r in results) == [
            (f"s3://landing/long/bad-{name}", "quarantined"),
            (f"s3://landing/long/{name}", "accepted"),
        ]
        local = list(project.settings.storage.quarantine_dir.iterdir())
        assert len(local) == 1 and local[0].name.endswith(".csv.reason.json")


def test_hostile_keys_empty_objects_and_folder_markers(s3_env: S3Server, tmp_path: Path) -> None:
    fs = s3_env.fs()
    with _project(tmp_path, "hostile") as project:
        _put(s3_env, "landing/hostile/week 01 café.csv", 1)  # spaces and an accent
        fs.pipe_file("landing/hostile/empty.csv", b"")  # 0 bytes
        fs.pipe_file("landing/hostile/folder.csv/", b"")  # a "folder" marker, not a file
        results = ingest_landing(project.settings, project.store)
        got = sorted((r.source, r.status, r.reason) for r in results)
        assert got == [
            ("s3://landing/hostile/empty.csv", "quarantined", "empty_file"),
            ("s3://landing/hostile/week 01 café.csv", "accepted", None),
        ]
        assert ingest_landing(project.settings, project.store) == []
        names = {p.rsplit("/", 1)[-1] for p in fs.find("landing/hostile")}
        assert any(n.endswith("-week 01 café.csv") for n in names)
        assert any(n.endswith("-empty.csv.reason.json") for n in names)


def test_key_with_glob_characters_moves_only_itself(s3_env: S3Server, tmp_path: Path) -> None:
    # "*" is a legal character in an S3 key; fsspec's mv reads it as a glob, so moving "w*.csv"
    # aside swept the unread "w1.csv" and "w2.csv" into .processed/ with it: never ingested.
    with _project(tmp_path, "glob") as project:
        for i, name in enumerate(("w*.csv", "w1.csv", "w2.csv")):
            _put(s3_env, f"landing/glob/{name}", i, rows=30)
        results = ingest_landing(project.settings, project.store)
        assert sorted((r.source.rsplit("/", 1)[1], r.status) for r in results) == [
            ("w*.csv", "accepted"),
            ("w1.csv", "accepted"),
            ("w2.csv", "accepted"),
        ]
        moved = sorted(p.rsplit("/", 1)[1].split("-", 1)[1] for p in s3_env.fs().find("landing/glob"))
        assert moved == ["w*.csv", "w1.csv", "w2.csv"]


@pytest.mark.parametrize(
    "broken",
    [
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"},  # nothing answers there
        {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},  # no credentials at all
    ],
    ids=["endpoint_down", "no_credentials"],
)
def test_client_failure_is_logged_and_the_pass_goes_on(
    s3_env: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    broken: dict[str, str | None],
) -> None:
    # botocore's own errors (not OSError) escaped the scheduler's pass: monitoring, retention and the
    # triggers of that tick did not run, every tick, until the store came back.
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    for key, value in broken.items():
        if value is None:
            monkeypatch.delenv(key)
        else:
            monkeypatch.setenv(key, value)
    with _project(tmp_path, "client") as project:
        assert Scheduler(project).ingest_new() == []
    out = capsys.readouterr().out
    assert "landing_unavailable" in out and "s3://landing/client/" in out
    assert s3_env.secret_key not in out


def test_missing_bucket_is_said_not_taken_for_an_empty_prefix(
    s3_env: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A misspelt bucket listed as an empty prefix: "nothing to ingest", every pass, for ever.
    settings = make_project_settings(
        tmp_path,
        data={"landing": "s3://no-such-bucket/in/"},
        triggers={"settle_seconds": 0, "watch_landing": True},
        monitoring={"schedule": None},
    )
    with open_project(settings) as project:
        with pytest.raises(
            OSError, match=r"data\.landing s3://no-such-bucket/in/: the bucket does not exist"
        ):
            ingest_landing(project.settings, project.store)
        assert Scheduler(project).ingest_new() == []
    assert "the bucket does not exist" in capsys.readouterr().out
    with _project(tmp_path / "empty", "nothing-here-yet") as project:  # an empty prefix is no error
        assert ingest_landing(project.settings, project.store) == []


def test_an_empty_prefix_needs_no_bucket_level_permission(
    s3_env: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A least-privilege policy (s3:ListBucket on the prefix only) refuses HeadBucket, and s3fs's
    exists() then answers False: the empty prefix must still be "nothing yet", not a missing bucket."""
    landing = ObjectLanding("s3://landing/scoped-empty/")
    monkeypatch.setattr(landing.fs, "exists", lambda path, **kw: False)  # HeadBucket refused
    assert landing.scan([".csv"]) == ([], None)
    missing = ObjectLanding("s3://no-such-bucket-either/in/")
    with pytest.raises(FileNotFoundError, match="the bucket does not exist"):
        missing.scan([".csv"])
