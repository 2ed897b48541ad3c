"""Registered versions as the Models page shows them (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from evergreen.registry_read import TAG_PREFIX, VersionInfo


@dataclass(frozen=True)
class VersionRow:
    version: str
    aliases: tuple[str, ...]
    decision: str
    reason: str
    dataset_version: str
    trigger: str
    run_id: str
    created_at: str  # ISO-8601 UTC
    size_mb: float | None

    @property
    def is_champion(self) -> bool:
        return "champion" in self.aliases


def created_iso(created_at: float) -> str:
    """MLflow's creation timestamp (milliseconds since the epoch) as ISO-8601 UTC."""
    seconds = created_at / 1000.0 if created_at > 1e11 else created_at
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def version_row(v: VersionInfo) -> VersionRow:
    tag = v.tags.get
    size = tag(TAG_PREFIX + "model_size_mb")
    try:
        size_mb = float(size) if size is not None else None
    except ValueError:
        size_mb = None
    return VersionRow(
        version=v.version,
        aliases=tuple(sorted(v.aliases)),
        decision=tag(TAG_PREFIX + "decision", ""),
        reason=tag(TAG_PREFIX + "reason", ""),
        dataset_version=tag(TAG_PREFIX + "dataset_version", ""),
        trigger=tag(TAG_PREFIX + "trigger", ""),
        run_id=tag(TAG_PREFIX + "run_id", ""),
        created_at=created_iso(v.created_at),
        size_mb=size_mb,
    )


def version_rows(
    versions: Iterable[VersionInfo], *, alias: str | None = None, decision: str | None = None
) -> list[VersionRow]:
    """Newest first, filtered by alias and decision."""
    rows = [version_row(v) for v in versions]
    if alias:
        rows = [r for r in rows if alias in r.aliases]
    if decision:
        rows = [r for r in rows if r.decision == decision]
    return sorted(rows, key=lambda r: int(r.version) if r.version.isdigit() else 0, reverse=True)
