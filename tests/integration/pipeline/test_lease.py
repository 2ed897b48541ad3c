"""The retrain's fence: before it registers and before it moves the alias, a run proves it still
holds the retrain lease (one row updated where holder = itself), else it ends as ``abandoned``."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from evergreen.errors import LeaseLostError
from evergreen.pipeline import RetrainRequest, RetrainRunner
from evergreen.project import Project
from evergreen.registry import CHAMPION
from evergreen.store import Store
from evergreen.store.audit import list_actions
from evergreen.store.locks import LeaseLock, retrain_lock_name
from evergreen.store.runs import get_run
from evergreen.store.tables import locks
from tests.support.serving import wait_until


def _steal(store: Store, name: str) -> None:
    """What a takeover does to the row once the lease ran out: another holder."""
    with store.begin() as conn:
        conn.execute(update(locks).where(locks.c.name == name).values(holder="other-host:1:thief"))


def test_a_taken_over_lease_fails_its_confirmation(store: Store) -> None:
    mine = LeaseLock(store, "retrain:x", lease_seconds=0.5).acquire()
    mine.confirm("registering")  # held: passes, and extends the lease
    mine._stop.set()  # the heartbeat stops (as when the database was unreachable for a while)
    other = LeaseLock(store, "retrain:x")

    def take() -> bool:
        try:
            other.acquire()
        except Exception:
            return False
        return True

    wait_until(take, "the expired lease to be taken over", timeout=60)
    with pytest.raises(LeaseLostError, match="taken over") as err:
        mine.confirm("moving the champion alias")
    assert err.value.details == {"holder": other.holder, "before": "moving the champion alias"}
    other.release()


def _runner_stealing_at(project: Project, step: str) -> RetrainRunner:
    name = retrain_lock_name(project.settings.project)

    def progress(event: str, data: dict[str, Any]) -> None:
        if event == "step" and data.get("step") == step:
            _steal(project.store, name)

    return RetrainRunner(project, progress=progress)


def test_lease_lost_before_registering_abandons_the_run(churn_project: Project) -> None:
    p = churn_project
    with pytest.raises(LeaseLostError, match="before registering the candidate"):
        _runner_stealing_at(p, "register").run(RetrainRequest(trigger="manual"))
    [run] = [r for r in _runs(p)]
    assert run["status"] == "abandoned" and "lease_lost" in run["error"]
    assert p.registry.list_versions() == []  # nothing registered


def test_lease_lost_before_the_alias_moves_leaves_the_champion(churn_project: Project) -> None:
    p = churn_project
    with pytest.raises(LeaseLostError, match="before moving the champion alias"):
        _runner_stealing_at(p, "promote").run(RetrainRequest(trigger="manual"))
    [run] = _runs(p)
    assert run["status"] == "abandoned"
    assert p.registry.version_by_alias(CHAMPION) is None
    assert [v.tags.get("evergreen.decision") for v in p.registry.list_versions()] == ["rejected"]
    assert list_actions(p.store, action="promote") == []


def _runs(p: Project) -> list[dict[str, Any]]:
    from evergreen.store.runs import list_runs

    return [get_run(p.store, r["id"]) for r in list_runs(p.store)]
