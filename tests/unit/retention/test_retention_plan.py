"""The retention plan: which versions and files go, with exact reasons (pure, no MLflow)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evergreen.retention.plan import (
    RetentionPolicy,
    VersionFacts,
    plan_retention,
    plan_versions,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = RetentionPolicy(keep_versions=2, min_version_age_days=30, predictions_days=90, processed_days=7)


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def v(version: str, age_days: float, **kw: object) -> VersionFacts:
    return VersionFacts(version, days_ago(age_days), **kw)  # type: ignore[arg-type]


def decisions(*versions: VersionFacts, policy: RetentionPolicy = POLICY) -> dict[str, tuple[str, ...] | None]:
    """version → the reasons it is kept, or None when it is deleted."""
    return {d.version: None if d.delete else d.kept_because for d in plan_versions(versions, policy, NOW)}


def test_a_champion_older_than_every_limit_is_kept_by_its_alias() -> None:
    got = decisions(
        v("1", 400, aliases=("champion",)),
        v("2", 300, aliases=("previous",)),
        v("3", 200),
        v("4", 100),
        v("5", 90),
        v("6", 60),
    )
    assert got == {
        "1": ("alias champion",),
        "2": ("alias previous",),
        "3": None,
        "4": None,
        "5": ("one of the newest 2",),
        "6": ("one of the newest 2",),
    }


def test_every_reason_is_named_and_ages_are_exact_at_the_boundary() -> None:
    got = decisions(
        v("1", 31, pending=True),
        v("2", 30),  # exactly min_version_age_days old: no longer young
        v("3", 29.99),
        v("4", 200, last_predicted_at=days_ago(90)),  # exactly predictions_days: still inside
        v("5", 200, last_predicted_at=days_ago(90.01)),
        v("6", 400, aliases=("challenger", "champion")),
        v("7", 1),
        v("8", 0),
    )
    assert got == {
        "1": ("waiting for approval",),
        "2": None,
        "3": ("younger than 30 days",),
        "4": ("in the prediction log of the last 90 days",),
        "5": None,
        "6": ("alias challenger", "alias champion"),
        "7": ("one of the newest 2", "younger than 30 days"),
        "8": ("one of the newest 2", "younger than 30 days"),
    }


def test_versions_are_ordered_by_number_not_text_and_deleted_oldest_first() -> None:
    versions = [v(str(n), 100) for n in (10, 2, 9, 1, 11)]
    plan = plan_retention(versions, [], POLICY, NOW)
    assert [d.version for d in plan.versions] == ["1", "2", "9", "10", "11"]
    assert plan.delete_versions == ("1", "2", "9")


def test_keep_versions_zero_keeps_only_what_another_rule_protects() -> None:
    policy = RetentionPolicy(keep_versions=0, min_version_age_days=0, predictions_days=0, processed_days=0)
    got = decisions(v("1", 5, aliases=("champion",)), v("2", 1), v("3", 0), policy=policy)
    assert got == {"1": ("alias champion",), "2": None, "3": None}


def test_rows_and_files_past_their_limits() -> None:
    def entry(path: str, age_days: float) -> tuple[Path, float]:
        return Path(path), days_ago(age_days).timestamp()

    files = [
        entry("landing/.processed/a.csv", 8),
        entry("landing/.processed/b.csv", 7),  # exactly 7 days: kept
        entry("quarantine/x.csv", 30),
        entry("quarantine/x.csv.reason.json", 30),
        entry("quarantine/y.csv", 1),
    ]
    plan = plan_retention([], files, POLICY, NOW)
    assert plan.rows_before == days_ago(90)
    assert plan.files == ("landing/.processed/a.csv", "quarantine/x.csv", "quarantine/x.csv.reason.json")
    assert plan.versions == () and plan.delete_versions == ()


@pytest.mark.parametrize(
    "field", ["keep_versions", "min_version_age_days", "predictions_days", "processed_days"]
)
def test_negative_limits_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RetentionPolicy(**{field: -1})


def test_the_policy_comes_from_the_retention_section_of_the_config(tmp_path: object) -> None:
    from evergreen.config import RetentionConfig, settings_from_dict
    from evergreen.retention.plan import policy_from

    assert policy_from(RetentionConfig()) == RetentionPolicy(10, 30.0, 90.0, 7.0)
    raw = {"project": "p", "task": "binary", "data": {"target": "y"}, "retention": {"keep_versions": 3}}
    assert policy_from(settings_from_dict(raw, tmp_path, env={}).retention).keep_versions == 3  # type: ignore[arg-type]
    with pytest.raises(Exception, match=r"retention\.keep_versions"):
        settings_from_dict({**raw, "retention": {"keep_versions": -1}}, tmp_path, env={})  # type: ignore[arg-type]
