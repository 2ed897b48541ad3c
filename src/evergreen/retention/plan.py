"""What retention keeps and deletes (pure): facts about versions and files in, a plan out.

A model version is kept when any of these holds, and the plan says which:

- an alias points at it (``champion``, ``previous``, any other): deleting a version silently deletes
  its aliases in MLflow, so an aliased version is never a candidate;
- it waits for approval;
- it is one of the newest ``keep_versions``;
- it is younger than ``min_version_age_days``;
- the prediction log references it inside ``predictions_days`` (its rows must stay explainable).

Everything else is deleted, oldest first. Prediction and feedback rows older than
``predictions_days`` are deleted, and processed landing and quarantine files older than
``processed_days``. The age limits are about when a version was *created*: a champion older than
every limit is kept by its alias, never by its age, so a long-serving champion is never at risk
(the bucket-lifecycle rule evergreen replaces deleted exactly that one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evergreen.config import RetentionConfig


@dataclass(frozen=True)
class RetentionPolicy:
    keep_versions: int = 10
    min_version_age_days: float = 30.0
    predictions_days: float = 90.0
    processed_days: float = 7.0

    def __post_init__(self) -> None:
        if self.keep_versions < 0:
            raise ValueError("keep_versions must be >= 0")
        for name in ("min_version_age_days", "predictions_days", "processed_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")


def policy_from(config: RetentionConfig) -> RetentionPolicy:
    return RetentionPolicy(
        config.keep_versions, config.min_version_age_days, config.predictions_days, config.processed_days
    )


@dataclass(frozen=True)
class VersionFacts:
    version: str
    created_at: datetime
    aliases: tuple[str, ...] = ()
    pending: bool = False  # a run waits for approval of this version
    last_predicted_at: datetime | None = None  # newest prediction-log row naming this version


@dataclass(frozen=True)
class VersionDecision:
    version: str
    delete: bool
    kept_because: tuple[str, ...]  # empty when deleted


@dataclass(frozen=True)
class RetentionPlan:
    versions: tuple[VersionDecision, ...]  # every version, oldest first
    rows_before: datetime  # prediction and feedback rows older than this go
    files: tuple[str, ...]  # processed landing and quarantine files that go

    @property
    def delete_versions(self) -> tuple[str, ...]:
        """Versions to delete, oldest first (the order the deletions run in)."""
        return tuple(v.version for v in self.versions if v.delete)


def _number(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (0, version)


def plan_versions(
    versions: Iterable[VersionFacts], policy: RetentionPolicy, now: datetime
) -> tuple[VersionDecision, ...]:
    ordered = sorted(versions, key=lambda v: _number(v.version))
    newest = (
        {v.version for v in ordered[len(ordered) - policy.keep_versions :]} if policy.keep_versions else set()
    )
    young_after = now - timedelta(days=policy.min_version_age_days)
    predicted_after = now - timedelta(days=policy.predictions_days)
    out = []
    for v in ordered:
        reasons = [f"alias {a}" for a in sorted(v.aliases)]
        if v.pending:
            reasons.append("waiting for approval")
        if v.version in newest:
            reasons.append(f"one of the newest {policy.keep_versions}")
        if v.created_at > young_after:
            reasons.append(f"younger than {policy.min_version_age_days:g} days")
        if v.last_predicted_at is not None and v.last_predicted_at >= predicted_after:
            reasons.append(f"in the prediction log of the last {policy.predictions_days:g} days")
        out.append(VersionDecision(v.version, not reasons, tuple(reasons)))
    return tuple(out)


def plan_retention(
    versions: Iterable[VersionFacts],
    files: Iterable[tuple[Path | str, float]],
    policy: RetentionPolicy,
    now: datetime,
) -> RetentionPlan:
    """``files``: (path or object URL, mtime) of processed landing and quarantine files; the age rule
    is ingest's own."""
    from evergreen.data.quarantine import expired

    return RetentionPlan(
        versions=plan_versions(versions, policy, now),
        rows_before=now - timedelta(days=policy.predictions_days),
        files=tuple(sorted(str(p) for p in expired(files, now, policy.processed_days))),
    )
