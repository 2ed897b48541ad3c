"""What ``evergreen status`` and ``GET /api/models`` summarise."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from evergreen.overrides import load_overrides
from evergreen.project import Project
from evergreen.registry import CHAMPION, PREVIOUS
from evergreen.store.runs import list_runs
from evergreen.store.tables import batches


def batch_counts(project: Project) -> dict[str, int]:
    q = (
        select(batches.c.status, func.count(), func.coalesce(func.sum(batches.c.rows), 0))
        .where(batches.c.project == project.settings.project)
        .group_by(batches.c.status)
    )
    counts = {"accepted": 0, "quarantined": 0, "duplicate": 0, "rows": 0}
    with project.store.connect() as conn:
        for status, n, rows in conn.execute(q).all():
            counts[status] = int(n)
            if status == "accepted":
                counts["rows"] = int(rows)
    return counts


def project_status(project: Project) -> dict[str, Any]:
    reg = project.registry
    aliases = reg.aliases()
    champ = None
    if CHAMPION in aliases:
        info = reg.get_version(aliases[CHAMPION])
        champ = {"version": info.version, "dataset_version": info.dataset_version, "tags": info.tags}
    runs = list_runs(project.store, limit=10)
    return {
        "project": project.settings.project,
        "task": project.settings.task,
        "champion": champ,
        "previous": aliases.get(PREVIOUS),
        "batches": batch_counts(project),
        "pending_approval": [r["id"] for r in list_runs(project.store, limit=50, status="pending_approval")],
        "runs": runs,
        "overrides": load_overrides(project.store),  # run-time thresholds (PUT /api/settings/thresholds)
    }
