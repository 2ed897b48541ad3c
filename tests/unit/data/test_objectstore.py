"""The object-store landing's pure parts: when a listed object is complete, what a listing entry
says about it, and URLs shown without secrets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from evergreen.config import settings_from_dict
from evergreen.data.objectstore import RemoteObject, Sighting, describe, display_url, local_name, ready


def obj(name: str, version: str = "e1", modified: float | None = 100.0) -> RemoteObject:
    return RemoteObject(f"bucket/in/{name}", name, version, 10, modified)


def test_settle_takes_a_version_seen_unchanged_for_settle_seconds() -> None:
    a, b = obj("a.csv"), obj("b.csv")
    got, wait, seen = ready([a], None, "settle", {}, now=50.0, settle_seconds=2.0)
    assert (got, wait, seen) == ([], 2.0, {a.key: Sighting("e1", 50.0)})
    got, wait, seen = ready([a, b], None, "settle", seen, now=51.5, settle_seconds=2.0)
    assert (got, wait) == ([], 2.0)  # b just appeared: the longest wait
    assert seen == {a.key: Sighting("e1", 50.0), b.key: Sighting("e1", 51.5)}
    got, wait, seen = ready([a, b], None, "settle", seen, now=52.0, settle_seconds=2.0)
    assert (got, wait) == ([a], 1.5)


def test_settle_starts_again_when_the_version_changes() -> None:
    seen = {"bucket/in/a.csv": Sighting("e1", 0.0)}
    rewritten = obj("a.csv", version="e2")
    got, wait, seen = ready([rewritten], None, "settle", seen, now=10.0, settle_seconds=3.0)
    assert (got, wait, seen) == ([], 3.0, {rewritten.key: Sighting("e2", 10.0)})


def test_settle_forgets_keys_no_longer_listed() -> None:
    seen = {"bucket/in/gone.csv": Sighting("e1", 0.0)}
    assert ready([], None, "settle", seen, now=1.0, settle_seconds=1.0) == ([], None, {})


def test_zero_settle_takes_everything_at_once() -> None:
    a = obj("a.csv")
    assert ready([a], None, "settle", {}, now=5.0, settle_seconds=0.0)[:2] == ([a], None)


def test_marker_takes_files_no_newer_than_it() -> None:
    old, same, new = (
        obj("old.csv", modified=90.0),
        obj("same.csv", modified=100.0),
        obj("new.csv", modified=101.0),
    )
    marker = obj("_SUCCESS", modified=100.0)
    assert ready([old, same, new], None, "marker", {}, 0.0, 0.0)[:2] == ([], None)
    assert ready([old, same, new], marker, "marker", {}, 0.0, 99.0)[:2] == ([old, same], None)


def test_marker_does_not_cover_a_version_first_listed_after_it() -> None:
    # S3 times are whole seconds: a file rewritten after _SUCCESS within the same second has the
    # marker's time, and "no newer than the marker" took it as complete. A version listed only after
    # the marker was first listed was written after the marker, whatever its time says.
    marker = obj("_SUCCESS", version="d41d8", modified=100.0)
    part, rewritten = obj("part-0.csv", version="e1"), obj("part-0.csv", version="e2")
    got, _, seen = ready([part], marker, "marker", {}, now=1.0, settle_seconds=0.0)
    assert got == [part]  # listed with the marker: the benefit of the doubt, as before
    got, _, seen = ready([rewritten], marker, "marker", seen, now=2.0, settle_seconds=0.0)
    assert got == []
    got, _, seen = ready([rewritten], marker, "marker", seen, now=3.0, settle_seconds=0.0)
    assert got == []  # still waiting for a marker of its own
    # The producer's next marker: an empty _SUCCESS has the same ETag, a new time.
    again = obj("_SUCCESS", version="d41d8", modified=101.0)
    got, _, seen = ready([rewritten], again, "marker", seen, now=4.0, settle_seconds=0.0)
    assert got == [rewritten]
    late = obj("part-1.csv", version="e3", modified=90.0)  # older by its time, listed after the marker
    assert ready([rewritten, late], again, "marker", seen, now=5.0, settle_seconds=0.0)[0] == [rewritten]


def test_marker_without_timestamps_takes_every_file() -> None:
    a = obj("a.csv", modified=None)
    assert ready([a], obj("_SUCCESS", modified=None), "marker", {}, 0.0, 0.0)[0] == [a]


def test_describe_s3_entry_uses_the_etag() -> None:
    info = {
        "name": "landing/in/a.csv",
        "size": 8,
        "type": "file",
        "ETag": '"344fd2323dd33d5c058b7cf27de029e8"',
        "LastModified": datetime(2026, 12, 1, 15, 37, 12, tzinfo=UTC),
    }
    got = describe(info)
    assert got == RemoteObject(
        "landing/in/a.csv", "a.csv", "344fd2323dd33d5c058b7cf27de029e8", 8, 1796139432.0
    )


def test_describe_prefers_the_version_id_of_a_versioned_bucket() -> None:
    info = {"name": "b/a.csv", "size": 1, "ETag": '"x"', "VersionId": "v7", "LastModified": None}
    assert describe(info).version == "v7"


def test_describe_gcs_generation_and_iso_time() -> None:
    info = {
        "name": "b/in/a.csv",
        "size": 3,
        "generation": "1700000000123456",
        "updated": "2026-12-01T00:00:00Z",
    }
    got = describe(info)
    assert (got.version, got.modified) == ("1700000000123456", 1796083200.0)


def test_describe_local_file_by_size_and_mtime() -> None:
    got = describe({"name": "/tmp/in/a.csv", "size": 12, "mtime": 1.5, "type": "file"})
    assert (got.name, got.version, got.modified) == ("a.csv", "12:1.5", 1.5)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("s3://bucket/in/", "s3://bucket/in/"),
        ("s3://AKIA:s3cr3t@bucket/in/", "s3://bucket/in/"),
        ("s3://AKIA:s3cr3t/wJalr+K7MD@bucket/in/", "s3://bucket/in/"),  # a '/' in the secret
        ("s3://bucket/in@x/", "s3://bucket/in@x/"),  # an '@' in a key is no user-info
        ("file:///srv/landing/", "file:///srv/landing/"),
    ],
)
def test_display_url_drops_user_info(url: str, shown: str) -> None:
    assert display_url(url) == shown


@pytest.mark.parametrize(
    ("value", "url", "directory"),
    [
        ("s3://bucket/in", "s3://bucket/in/", None),
        ("gs://bucket/in/", "gs://bucket/in/", None),
        ("file:///srv/landing", "file:///srv/landing/", None),
        ("landing", None, Path("/proj/landing")),
        ("/abs/landing", None, Path("/abs/landing")),
    ],
)
def test_landing_is_a_directory_or_a_url(value: str, url: str | None, directory: Path | None) -> None:
    raw = {"project": "p", "task": "binary", "data": {"target": "y", "landing": value}}
    data = settings_from_dict(raw, Path("/proj"), {}).data
    assert (data.landing_url, data.landing_dir) == (url, directory)
    assert (data.landing_ready, data.landing_after) == ("settle", "move")


def test_landing_ready_must_be_settle_or_marker() -> None:
    from evergreen.errors import ConfigError

    raw = {"project": "p", "task": "binary", "data": {"target": "y", "landing_ready": "soon"}}
    with pytest.raises(ConfigError, match="landing_ready"):
        settings_from_dict(raw, Path("/proj"), {})


@pytest.mark.parametrize(
    "value",
    [
        "s3://AKIA:s3cr3t@bucket/in/",
        "s3://s3cr3t@bucket/in",
        "gs://user:s3cr3t@bucket/in/",
        # An AWS secret key often holds a '/': the authority then ends inside it, no '@' in sight, and
        # the whole URL (secret included) was accepted and shown as-is in logs and rows.
        "s3://AKIA:s3cr3t/wJalrXUtnFEMI+K7MDENG@bucket/in/",
    ],
)
def test_landing_url_with_credentials_is_refused_without_echoing_them(value: str) -> None:
    from evergreen.errors import ConfigError

    raw = {"project": "p", "task": "binary", "data": {"target": "y", "landing": value}}
    with pytest.raises(ConfigError, match=r"data\.landing.*credentials") as caught:
        settings_from_dict(raw, Path("/proj"), {})
    assert "s3cr3t" not in str(caught.value) and "s3cr3t" not in repr(caught.value.details)


@pytest.mark.parametrize(
    "value",
    ["http://example.com/in/", "memory://in/", "ftp://host/in/", "nosuchfs://b/in/", "http://minio:9000/b/"],
)
def test_landing_url_scheme_outside_the_object_stores_is_refused(value: str) -> None:
    from evergreen.errors import ConfigError

    raw = {"project": "p", "task": "binary", "data": {"target": "y", "landing": value}}
    with pytest.raises(ConfigError, match=r"data\.landing.*scheme .*:// is not one of"):
        settings_from_dict(raw, Path("/proj"), {})


@pytest.mark.parametrize("value", ["s3:/bucket/in/", "s3:bucket/in", "GS:/bucket/in", "file:/srv/landing"])
def test_landing_url_without_its_slashes_is_refused_not_taken_for_a_directory(value: str) -> None:
    # It was a local directory named "s3:" (the scheduler made it), watched while files landed elsewhere.
    from evergreen.errors import ConfigError

    raw = {"project": "p", "task": "binary", "data": {"target": "y", "landing": value}}
    with pytest.raises(ConfigError, match=r"data\.landing.*needs '//' after"):
        settings_from_dict(raw, Path("/proj"), {})


def test_local_name_bounds_bytes_and_keeps_the_suffix() -> None:
    assert local_name("week01.csv") == "week01.csv"
    cut = local_name("é" * 150 + ".parquet")  # 308 bytes: two-byte characters, never split
    assert cut.endswith(".parquet") and len(cut.encode()) <= 200
    assert cut == "é" * 96 + ".parquet"


def test_unchanged_tells_a_rewritten_or_removed_object() -> None:
    from evergreen.data.objectstore import ObjectLanding

    landing = ObjectLanding("memory://evergreen-unchanged-test/in/")
    landing.fs.pipe_file(f"{landing.root}/a.csv", b"a\n1\n")
    try:
        [obj], _ = landing.scan([".csv"])
        assert landing.unchanged(obj)
        landing.fs.pipe_file(obj.key, b"a\n1\n2\n")  # rewritten: another size, the same name
        assert not landing.unchanged(obj)
        landing.fs.rm_file(obj.key)
        assert not landing.unchanged(obj)
    finally:
        if landing.fs.exists(landing.root):
            landing.fs.rm(landing.root, recursive=True)


def test_copy_stops_past_the_limit() -> None:
    import io

    from evergreen.data.objectstore import _copy_at_most  # what fetch streams through

    out = io.BytesIO()
    _copy_at_most(io.BytesIO(b"x" * 10), out, 10, "file:///a.csv")  # exactly the limit: whole
    assert out.getvalue() == b"x" * 10
    with pytest.raises(OSError, match=r"larger than data\.max_file_mb since it was listed"):
        _copy_at_most(io.BytesIO(b"x" * 11), io.BytesIO(), 10, "file:///a.csv")


def test_a_listing_failure_names_the_setting_and_the_url_without_user_info() -> None:
    from evergreen.data.objectstore import ObjectLanding, StoreClientError

    landing = ObjectLanding("file:///srv/in/")
    landing.shown = "s3://bucket/in/"  # as display_url shows s3://KEY:SECRET@bucket/in/
    denied = landing.unavailable(PermissionError("Forbidden"))
    assert (type(denied), str(denied)) == (PermissionError, "data.landing s3://bucket/in/: Forbidden")
    bare = landing.unavailable(StoreClientError())
    assert (type(bare), str(bare)) == (StoreClientError, "data.landing s3://bucket/in/: StoreClientError")
    named = FileNotFoundError("data.landing s3://bucket/in/: the bucket does not exist")
    assert landing.unavailable(named) is named
    # The number survives (fsspec raises PermissionError(EACCES, ...) for a 403), and the text is
    # the reason without "[Errno 13]" or the path (a key with the secret in an s3:// URL)
    numbered = landing.unavailable(PermissionError(13, "Access Denied", "s3://KEY:SECRET@bucket/in/"))
    assert (numbered.errno, str(numbered)) == (13, "data.landing s3://bucket/in/: Access Denied")
