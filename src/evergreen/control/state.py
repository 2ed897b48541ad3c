"""What ``evergreen status`` shows: the champion, the data, the last runs, the run-time thresholds."""

from __future__ import annotations

from typing import Any

from evergreen.overrides import stored_overrides
from evergreen.project import Project
from evergreen.registry_read import CHAMPION, PREVIOUS
from evergreen.store.audit import champion_alias_gone, last_champion_set
from evergreen.store.runs import list_runs
from evergreen.store.status import batch_counts


def status(project: Project) -> dict[str, Any]:
    reg = project.registry_reader  # no MLflow import: `evergreen status` starts fast
    aliases = reg.aliases()
    champ = None
    no_champion = None
    if CHAMPION in aliases:
        info = reg.get_version(aliases[CHAMPION])
        champ = {"version": info.version, "dataset_version": info.dataset_version, "tags": info.tags}
    elif last := last_champion_set(project.store):
        # Not "none yet": deleting the champion's version in MLflow deletes its alias with it (or
        # the alias was removed by hand). Servers keep the model they loaded; a retrain finds none.
        no_champion = f"{champion_alias_gone(CHAMPION, last)}: promote a version or retrain"
    return {
        "project": project.settings.project,
        "task": project.settings.task,
        "champion": champ,
        "no_champion": no_champion,
        "previous": aliases.get(PREVIOUS),
        "batches": batch_counts(project.store),
        "pending_approval": [r["id"] for r in list_runs(project.store, limit=50, status="pending_approval")],
        "runs": list_runs(project.store, limit=10),
        # run-time thresholds (PUT /api/settings/thresholds), each saying whether it is ignored
        "overrides": stored_overrides(project)[1],
    }
