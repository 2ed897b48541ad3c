"""An object-store landing through fsspec, here ``file://`` (the same code path as ``s3://``; the real
S3 of SeaweedFS is in test_s3_landing.py): taken once by (key, version), moved aside within the
store, quarantined with a sidecar there, gated by a _SUCCESS marker; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from evergreen.data.landing import ingest_landing
from evergreen.data.remote_landing import ingest_objects, open_watch
from evergreen.store.tables import landing_objects
from tests.support.data import ENV, Project, churn


@pytest.fixture
def bucket(tmp_path: Path) -> Path:
    path = tmp_path / "bucket" / "in"
    path.mkdir(parents=True)
    return path


def _records(project: Project) -> list[tuple[str, str, str]]:
    with project.store.connect() as conn:
        rows = conn.execute(select(landing_objects).order_by(landing_objects.c.id)).all()
    return [(Path(r.source).name, r.status, r.moved_to and Path(r.moved_to).parent.name) for r in rows]


def test_file_is_ingested_recorded_and_moved_aside(
    make_project: Callable[..., Project], bucket: Path
) -> None:
    project = make_project(landing=f"file://{bucket}")
    churn().to_csv(bucket / "week01.csv", index=False)
    [res] = ingest_landing(project.settings, project.store, ENV)
    assert (res.status, res.rows, res.source) == ("accepted", 10, f"file://{bucket}/week01.csv")
    assert project.batch_rows()[0].source == f"file://{bucket}/week01.csv"
    assert sorted(p.name for p in bucket.iterdir()) == [".processed"]
    [moved] = (bucket / ".processed").iterdir()
    assert moved.name.endswith("-week01.csv")
    assert _records(project) == [("week01.csv", "accepted", ".processed")]
    assert not list((project.settings.state_dir / "incoming").iterdir())  # the download is gone
    assert ingest_landing(project.settings, project.store, ENV) == []


def test_a_local_file_is_moved_aside_by_a_rename_keeping_its_mode(
    make_project: Callable[..., Project], bucket: Path
) -> None:
    """Landed data may hold PII: a 0600 file must not become a 0644 copy in .processed/ or
    .quarantine/, and a large refused file is renamed, not copied byte by byte."""
    project = make_project(landing=f"file://{bucket}", max_file_mb=0.001)
    churn().to_csv(bucket / "ok.csv", index=False)
    churn(n=200).to_csv(bucket / "big.csv", index=False)  # over 0.001 MB: refused unread
    inodes = {}
    for name in ("ok.csv", "big.csv"):
        os.chmod(bucket / name, 0o600)
        inodes[name] = (bucket / name).stat().st_ino
    results = ingest_landing(project.settings, project.store, ENV)
    assert sorted((r.status, r.reason) for r in results) == [
        ("accepted", None),
        ("quarantined", "file_too_large"),
    ]
    [ok] = (bucket / ".processed").iterdir()
    [big] = [p for p in (bucket / ".quarantine").iterdir() if p.suffix == ".csv"]
    for moved, name in ((ok, "ok.csv"), (big, "big.csv")):
        assert (moved.stat().st_mode & 0o777, moved.stat().st_ino) == (0o600, inodes[name])


def test_kept_file_is_never_taken_twice_until_it_changes(
    make_project: Callable[..., Project], bucket: Path
) -> None:
    project = make_project(landing=f"file://{bucket}", landing_after="keep")
    churn().to_csv(bucket / "week01.csv", index=False)
    assert [r.status for r in ingest_landing(project.settings, project.store, ENV)] == ["accepted"]
    assert ingest_landing(project.settings, project.store, ENV) == []
    assert (bucket / "week01.csv").exists()
    # A new version of the same key is a new file: taken (here different rows, so accepted).
    churn(start=100).to_csv(bucket / "week01.csv", index=False)
    os.utime(bucket / "week01.csv", (1_900_000_000, 1_900_000_000))
    assert [r.status for r in ingest_landing(project.settings, project.store, ENV)] == ["accepted"]
    assert [r[1] for r in _records(project)] == ["accepted", "accepted"]
    assert len(project.batch_rows()) == 2


def test_bad_file_is_quarantined_within_the_store_with_its_reason(
    make_project: Callable[..., Project], bucket: Path
) -> None:
    project = make_project(landing=f"file://{bucket}")
    churn().to_csv(bucket / "good.csv", index=False)
    ingest_landing(project.settings, project.store, ENV)
    churn(start=50).drop(columns=["churned"]).assign(tenure="abc").to_csv(bucket / "bad.csv", index=False)
    [res] = ingest_landing(project.settings, project.store, ENV)
    assert res.status == "quarantined"
    q = bucket / ".quarantine"
    [data] = [p for p in q.iterdir() if p.name.endswith("-bad.csv")]
    sidecar = json.loads((q / (data.name + ".reason.json")).read_text())
    assert sidecar["reason"] == res.reason
    assert sidecar["original"] == f"file://{bucket}/bad.csv"
    assert sidecar["quarantined_file"] == f"file://{data}"
    # Locally only the reason is kept (the bytes stay in the store, not duplicated on this host).
    local = list(project.settings.storage.quarantine_dir.iterdir())
    assert [p.name.endswith("-bad.csv.reason.json") for p in local] == [True]
    assert json.loads(local[0].read_text())["original"] == f"file://{bucket}/bad.csv"
    assert _records(project)[-1] == ("bad.csv", "quarantined", ".quarantine")


def test_too_large_object_is_refused_without_download(
    make_project: Callable[..., Project], bucket: Path
) -> None:
    project = make_project(landing=f"file://{bucket}", max_file_mb=0.0001)
    churn(n=100).to_csv(bucket / "big.csv", index=False)
    [res] = ingest_landing(project.settings, project.store, ENV)
    assert (res.status, res.reason) == ("quarantined", "file_too_large")
    assert not (project.settings.state_dir / "incoming").exists()


def test_marker_mode_waits_for_success_newer_than_the_file(
    make_project: Callable[..., Project], bucket: Path
) -> None:
    project = make_project(landing=f"file://{bucket}", landing_ready="marker")
    churn().to_csv(bucket / "part-0.csv", index=False)
    os.utime(bucket / "part-0.csv", (1000, 1000))
    assert ingest_landing(project.settings, project.store, ENV) == []
    (bucket / "_SUCCESS").touch()
    os.utime(bucket / "_SUCCESS", (2000, 2000))
    churn(start=20).to_csv(bucket / "part-1.csv", index=False)
    os.utime(bucket / "part-1.csv", (3000, 3000))  # written after the marker: not complete yet
    assert [r.source.rsplit("/", 1)[1] for r in ingest_landing(project.settings, project.store, ENV)] == [
        "part-0.csv"
    ]
    assert (bucket / "_SUCCESS").exists() and (bucket / "part-1.csv").exists()


def test_marker_does_not_cover_a_file_rewritten_after_it_in_the_same_second(
    make_project: Callable[..., Project], bucket: Path
) -> None:
    # S3 gives whole seconds (here set so on a file:// landing): part-0.csv rewritten after _SUCCESS,
    # within the same second, had the marker's very time and was taken as covered by it.
    project = make_project(landing=f"file://{bucket}", landing_ready="marker")
    watch = open_watch(project.settings)
    churn().to_csv(bucket / "part-0.csv", index=False)
    (bucket / "_SUCCESS").touch()
    for name in ("part-0.csv", "_SUCCESS"):
        os.utime(bucket / name, (1000, 1000))
    due, _ = watch.due(project.settings, settle_seconds=0)
    assert [o.name for o in due] == ["part-0.csv"]
    [first] = ingest_objects(project.settings, project.store, watch.landing, due, ENV)
    assert first.status == "accepted"
    churn(start=100, n=12).to_csv(bucket / "part-0.csv", index=False)  # the producer's next write
    os.utime(bucket / "part-0.csv", (1000, 1000))
    assert watch.due(project.settings, settle_seconds=0)[0] == []
    os.utime(bucket / "_SUCCESS", (1001, 1001))  # its own marker
    due, _ = watch.due(project.settings, settle_seconds=0)
    [second] = ingest_objects(project.settings, project.store, watch.landing, due, ENV)
    assert (second.status, second.rows) == ("accepted", 12)


def test_watch_settles_across_passes(make_project: Callable[..., Project], bucket: Path) -> None:
    project = make_project(landing=f"file://{bucket}")
    churn().to_csv(bucket / "a.csv", index=False)
    watch = open_watch(project.settings)
    due, wait = watch.due(project.settings, settle_seconds=3600)
    assert due == [] and wait is not None and 3599 < wait <= 3600
    due, _ = watch.due(project.settings, settle_seconds=0)
    assert [o.name for o in due] == ["a.csv"]


def test_local_directory_marker_mode(make_project: Callable[..., Project], tmp_path: Path) -> None:
    project = make_project(landing="landing", landing_ready="marker")
    landing = tmp_path / "landing"
    landing.mkdir()
    churn().to_csv(landing / "a.csv", index=False)
    assert ingest_landing(project.settings, project.store, ENV) == []
    (landing / "_SUCCESS").touch()
    assert [r.status for r in ingest_landing(project.settings, project.store, ENV)] == ["accepted"]


def test_object_rewritten_after_download_is_not_moved_aside_unread(
    make_project: Callable[..., Project], bucket: Path
) -> None:
    from evergreen.data.objectstore import ObjectLanding, RemoteObject

    class ProducerRewritesDuringIngest(ObjectLanding):
        def fetch(self, obj: RemoteObject, work_dir: Path, max_bytes: int | None = None) -> Path:
            path = super().fetch(obj, work_dir, max_bytes)
            churn(start=500).to_csv(bucket / obj.name, index=False)  # the producer's second write
            os.utime(bucket / obj.name, (1_900_000_000, 1_900_000_000))
            return path

    project = make_project(landing=f"file://{bucket}")
    churn().to_csv(bucket / "week01.csv", index=False)
    watch = open_watch(project.settings)
    due, _ = watch.due(project.settings, settle_seconds=0)
    landing = ProducerRewritesDuringIngest(watch.landing.url)
    [first] = ingest_objects(project.settings, project.store, landing, due, ENV)
    assert first.status == "accepted"
    assert (bucket / "week01.csv").exists()  # not moved: that version was never read
    assert _records(project) == [("week01.csv", "accepted", None)]
    [second] = ingest_landing(project.settings, project.store, ENV)  # the new version
    assert (second.status, second.rows) == ("accepted", 10)
    assert sorted(p.name for p in bucket.iterdir()) == [".processed"]


def test_pass_over_kept_objects_looks_up_the_records_once(
    make_project: Callable[..., Project], bucket: Path
) -> None:
    from sqlalchemy import event

    project = make_project(landing=f"file://{bucket}", landing_after="keep")
    for i in range(5):
        churn(start=20 * i).to_csv(bucket / f"week{i}.csv", index=False)
    assert len(ingest_landing(project.settings, project.store, ENV)) == 5
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(project.store.engine, "before_cursor_execute", count)
    try:
        assert ingest_landing(project.settings, project.store, ENV) == []
    finally:
        event.remove(project.store.engine, "before_cursor_execute", count)
    assert len([s for s in statements if "landing_objects" in s]) == 1  # not one per object


def test_object_gone_between_listing_and_download_does_not_stop_the_others(
    make_project: Callable[..., Project], bucket: Path
) -> None:
    project = make_project(landing=f"file://{bucket}")
    churn().to_csv(bucket / "a.csv", index=False)
    churn(start=50).to_csv(bucket / "b.csv", index=False)
    watch = open_watch(project.settings)
    due, _ = watch.due(project.settings, settle_seconds=0)
    assert [o.name for o in due] == ["a.csv", "b.csv"]
    (bucket / "a.csv").unlink()  # the producer took it back after the listing
    [res] = ingest_objects(project.settings, project.store, watch.landing, due, ENV)
    assert (res.status, res.source) == ("accepted", f"file://{bucket}/b.csv")
    assert _records(project) == [("b.csv", "accepted", ".processed")]  # a.csv: not taken, tried again
    assert list((project.settings.state_dir / "incoming").iterdir()) == []  # no partial download


def test_object_replaced_by_a_larger_one_after_the_listing_is_not_downloaded_whole(
    make_project: Callable[..., Project], bucket: Path
) -> None:
    project = make_project(landing=f"file://{bucket}", max_file_mb=0.01)  # 10,485 bytes
    churn(n=20).to_csv(bucket / "a.csv", index=False)
    watch = open_watch(project.settings)
    due, _ = watch.due(project.settings, settle_seconds=0)
    assert [o.name for o in due] == ["a.csv"]
    churn(n=3000).to_csv(bucket / "a.csv", index=False)  # replaced after the listing: over the limit
    assert (bucket / "a.csv").stat().st_size > 4 * 10_485
    assert ingest_objects(project.settings, project.store, watch.landing, due, ENV) == []
    assert _records(project) == []  # not taken: the next pass lists it again
    assert list((project.settings.state_dir / "incoming").iterdir()) == []  # nothing left on disk
    [res] = ingest_landing(project.settings, project.store, ENV)
    assert (res.status, res.reason) == ("quarantined", "file_too_large")  # by its new size, unread


def test_missing_filesystem_package_is_a_config_error(make_project: Callable[..., Project]) -> None:
    import importlib.util

    from evergreen.errors import ConfigError

    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here: gs:// has a filesystem")
    project = make_project(landing="gs://bucket/in/")
    with pytest.raises(ConfigError, match=r"data\.landing: no filesystem for gs://"):
        ingest_landing(project.settings, project.store, ENV)


def test_take_consumes_a_flag_once_and_only_that_name(bucket: Path) -> None:
    """The Airflow watcher's step (``<prefix>/_READY``): deleted when there, None when not."""
    from evergreen.data.objectstore import ObjectLanding

    landing = ObjectLanding(f"file://{bucket}/")
    (bucket / "week01.csv").write_text("a\n1\n")
    (bucket / "_READY.tmp").write_text("")
    (bucket / "_READY").mkdir()  # a folder of that name is no flag
    assert landing.take("_READY") is None
    (bucket / "_READY").rmdir()
    (bucket / "_READY").write_text("")
    assert landing.take("_READY") == f"file://{bucket}/_READY"
    assert landing.take("_READY") is None  # consumed: the producer's next flag fires again
    assert sorted(p.name for p in bucket.iterdir()) == ["_READY.tmp", "week01.csv"]


def test_name_that_is_not_utf8_is_quarantined_and_the_others_go_on(
    make_project: Callable[..., Project], bucket: Path
) -> None:
    # A file:// name is bytes: one that is not UTF-8 stopped every pass (the lookup of its record
    # could not encode it), the good file after it included.
    project = make_project(landing=f"file://{bucket}")
    churn().to_csv(bucket / "good.csv", index=False)
    Path(os.fsdecode(os.fsencode(bucket) + b"/bad\xff.csv")).write_bytes(b"a,b\n1,2\n")
    results = ingest_landing(project.settings, project.store, ENV)
    assert sorted((r.source, r.status, r.reason) for r in results) == [
        (f"file://{bucket}/bad\\xff.csv", "quarantined", "bad_file_name"),
        (f"file://{bucket}/good.csv", "accepted", None),
    ]
    assert ingest_landing(project.settings, project.store, ENV) == []
    assert sorted(r[1:] for r in _records(project)) == [
        ("accepted", ".processed"),
        ("quarantined", ".quarantine"),
    ]
    quarantined = os.listdir(os.fsencode(bucket / ".quarantine"))
    assert sorted(n.endswith(b"-bad\xff.csv") or n.endswith(b".reason.json") for n in quarantined) == [
        True,
        True,
    ]


def test_long_object_url_is_recorded(make_project: Callable[..., Project], tmp_path: Path) -> None:
    # An S3 key may be 1024 bytes, its URL longer (and moved aside, longer still): the record's
    # 1024-character columns refused it on PostgreSQL after the batch was stored, so the pass failed
    # there every time, the object was downloaded again each pass and the objects after it waited.
    deep = tmp_path.joinpath(*(c * 200 for c in "bcdef"))
    deep.mkdir(parents=True)
    project = make_project(landing=f"file://{deep}")
    name = "w" * 100 + ".csv"
    churn().to_csv(deep / name, index=False)
    churn(start=50).to_csv(deep / ("x" + name), index=False)
    results = ingest_landing(project.settings, project.store, ENV)
    assert [(r.status, len(r.source) > 1024) for r in results] == [("accepted", True)] * 2
    assert [r[1:] for r in _records(project)] == [("accepted", ".processed")] * 2


def test_two_passes_interleaved_take_each_object_once(
    make_project: Callable[..., Project], bucket: Path
) -> None:
    # Two processes on one landing (a scheduler and an `evergreen ingest`): both listed a.csv and
    # b.csv. While the first downloads a.csv, the second runs a whole pass; the second recorded b.csv
    # first, and the first's record of it failed with an IntegrityError, ending its pass (a.csv was
    # also ingested twice). Claimed before it is read, each object goes to one of them only.
    from evergreen.data.objectstore import ObjectLanding, RemoteObject

    first, second = make_project(landing=f"file://{bucket}"), make_project(landing=f"file://{bucket}")
    churn().to_csv(bucket / "a.csv", index=False)
    churn(start=50).to_csv(bucket / "b.csv", index=False)
    watch_1, watch_2 = open_watch(first.settings), open_watch(second.settings)
    due_1, _ = watch_1.due(first.settings, settle_seconds=0)
    due_2, _ = watch_2.due(second.settings, settle_seconds=0)
    assert [o.name for o in due_1] == [o.name for o in due_2] == ["a.csv", "b.csv"]
    seconds: list[list[str]] = []

    class SecondPassMeanwhile(ObjectLanding):
        def fetch(self, obj: RemoteObject, work_dir: Path, max_bytes: int | None = None) -> Path:
            path = super().fetch(obj, work_dir, max_bytes)
            if not seconds:  # the other process's whole pass, over what it listed
                got = ingest_objects(second.settings, second.store, watch_2.landing, due_2, ENV)
                seconds.append([r.source.rsplit("/", 1)[1] for r in got])
            return path

    got_1 = ingest_objects(first.settings, first.store, SecondPassMeanwhile(watch_1.landing.url), due_1, ENV)
    assert [(r.source.rsplit("/", 1)[1], r.status) for r in got_1] == [("a.csv", "accepted")]
    assert seconds == [["b.csv"]]
    assert sorted(r[:2] for r in _records(first)) == [("a.csv", "accepted"), ("b.csv", "accepted")]
    assert [b.status for b in first.batch_rows()] == ["accepted", "accepted"]  # no duplicate batch
    assert sorted(p.name.split("-", 1)[1] for p in (bucket / ".processed").iterdir()) == ["a.csv", "b.csv"]
    second.store.engine.dispose()


def test_a_pass_that_writes_its_record_second_does_not_fail(
    make_project: Callable[..., Project], bucket: Path
) -> None:
    # The same two passes, the second one run whole just before the first writes to landing_objects
    # (its record, or now its claim): the first's INSERT met the second's row and raised an
    # IntegrityError out of its pass. Now the object is the second's, and the first goes on.
    from sqlalchemy import event

    first = make_project(landing=f"file://{bucket}", landing_after="keep")
    second = make_project(landing=f"file://{bucket}", landing_after="keep")
    churn().to_csv(bucket / "a.csv", index=False)
    churn(start=50).to_csv(bucket / "b.csv", index=False)
    watch_1, watch_2 = open_watch(first.settings), open_watch(second.settings)
    due_1, _ = watch_1.due(first.settings, settle_seconds=0)
    due_2, _ = watch_2.due(second.settings, settle_seconds=0)
    seconds: list[list[tuple[str, str]]] = []

    def second_pass_first(conn: object, cursor: object, statement: str, *args: object) -> None:
        if not seconds and statement.startswith("INSERT INTO landing_objects"):
            got = ingest_objects(second.settings, second.store, watch_2.landing, due_2, ENV)
            seconds.append([(r.source.rsplit("/", 1)[1], r.status) for r in got])

    event.listen(first.store.engine, "before_cursor_execute", second_pass_first)
    try:
        got_1 = ingest_objects(first.settings, first.store, watch_1.landing, due_1, ENV)
    finally:
        event.remove(first.store.engine, "before_cursor_execute", second_pass_first)
    assert seconds == [[("a.csv", "accepted"), ("b.csv", "accepted")]]
    assert got_1 == []
    assert sorted(r[:2] for r in _records(first)) == [("a.csv", "accepted"), ("b.csv", "accepted")]
    assert [b.status for b in first.batch_rows()] == ["accepted", "accepted"]
    second.store.engine.dispose()


def test_claim_left_by_a_dead_pass_is_taken_over_once_stale(
    make_project: Callable[..., Project], bucket: Path
) -> None:
    # A pass that died between its claim and its record (killed, the host lost) left the object
    # claimed: a fresh claim is another process at work, an old one is taken over.
    from datetime import timedelta

    from sqlalchemy import insert

    from evergreen.data.catalog import CLAIM_STALE_AFTER
    from evergreen.store.engine import utcnow
    from evergreen.store.tables import landing_source_digest

    project = make_project(landing=f"file://{bucket}")
    churn().to_csv(bucket / "a.csv", index=False)
    [obj], _ = open_watch(project.settings).due(project.settings, settle_seconds=0)
    source = f"file://{bucket}/a.csv"
    with project.store.begin() as conn:
        conn.execute(
            insert(landing_objects).values(
                project="p",
                source=source,
                source_digest=landing_source_digest(source),
                version=obj.version,
                status="claimed",
                recorded_at=utcnow() - timedelta(seconds=10),
            )
        )
    assert ingest_landing(project.settings, project.store, ENV) == []  # someone is at it
    with project.store.begin() as conn:
        conn.execute(landing_objects.update().values(recorded_at=utcnow() - CLAIM_STALE_AFTER * 2))
    [res] = ingest_landing(project.settings, project.store, ENV)
    assert res.status == "accepted"
    assert _records(project) == [("a.csv", "accepted", ".processed")]


def test_object_url_longer_than_an_index_entry_is_recorded(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    # A file:// URL over about 2.7 KB: PostgreSQL's btree entries hold at most 2704 bytes, and the
    # unique index held the whole (project, source, version), so the record was refused after the
    # batch was stored, every pass. Random names: PostgreSQL compresses a repetitive key first.
    import random

    rng = random.Random(7)
    parts = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=250)) for _ in range(13)]
    deep = tmp_path.joinpath(*parts)
    deep.mkdir(parents=True)
    project = make_project(landing=f"file://{deep}", landing_after="keep")
    churn().to_csv(deep / "a.csv", index=False)
    [res] = ingest_landing(project.settings, project.store, ENV)
    assert (res.status, len(res.source.encode()) > 3200) == ("accepted", True)
    assert _records(project) == [("a.csv", "accepted", None)]
    assert ingest_landing(project.settings, project.store, ENV) == []  # found by its digest
