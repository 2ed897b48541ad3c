"""The Models page's rows: alias badges, decision and provenance tags, newest first, filters."""

from __future__ import annotations

from evergreen.dashboard.views.models import created_iso, version_rows
from evergreen.registry_read import VersionInfo


def _v(n: str, aliases: tuple[str, ...], decision: str, created: float) -> VersionInfo:
    tags = {
        "evergreen.decision": decision,
        "evergreen.dataset_version": f"ds{n}",
        "evergreen.trigger": "manual",
        "evergreen.run_id": f"run{n}",
    }
    return VersionInfo(n, None, created, tags, aliases, "s3://x")


VERSIONS = [
    _v("2", ("previous",), "promoted", 1_700_000_000_000.0),
    _v("10", ("champion",), "promoted", 1_700_000_360_000.0),
    _v("3", (), "rejected", 1_700_000_100_000.0),
]


def test_rows_newest_first_numerically_with_tags() -> None:
    rows = version_rows(VERSIONS)
    assert [r.version for r in rows] == ["10", "3", "2"]
    top = rows[0]
    assert (top.aliases, top.is_champion, top.decision, top.dataset_version, top.run_id) == (
        ("champion",),
        True,
        "promoted",
        "ds10",
        "run10",
    )
    assert top.created_at == "2023-11-14T22:19:20+00:00" and top.size_mb is None


def test_filters_by_alias_and_decision() -> None:
    assert [r.version for r in version_rows(VERSIONS, alias="previous")] == ["2"]
    assert [r.version for r in version_rows(VERSIONS, decision="rejected")] == ["3"]
    assert version_rows(VERSIONS, alias="champion", decision="rejected") == []


def test_created_at_in_milliseconds_or_seconds() -> None:
    assert created_iso(1_700_000_000_000.0) == created_iso(1_700_000_000.0) == "2023-11-14T22:13:20+00:00"
