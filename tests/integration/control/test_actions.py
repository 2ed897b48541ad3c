"""The human actions of ``control`` as a careless client calls them: refused cleanly, nothing lost,
an audit row exactly when something changed."""

from __future__ import annotations

from typing import Any

import pytest

from evergreen import control
from evergreen.errors import ConflictError
from evergreen.pipeline import RetrainRequest, RetrainRunner
from evergreen.store.audit import list_actions
from evergreen.store.runs import list_runs


def _decisions(project: Any) -> int:
    from sqlalchemy import func, select

    from evergreen.store.tables import decisions

    with project.store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(decisions)).scalar_one())


def test_rollback_to_the_champion_under_any_spelling_is_refused_and_changes_nothing(
    trained_project: Any,
) -> None:
    p = trained_project
    audit, decided = len(list_actions(p.store)), _decisions(p)
    for spelling in ("1", "01", " 1", "001"):
        with pytest.raises(ConflictError, match=r"^v1 is already the champion$"):
            control.rollback(p, to=spelling, actor="cli:ann", reason="oops")
    assert p.registry.aliases() == {"champion": "1"}  # no 'previous' pointing at the champion itself
    assert p.registry.get_version("1").tags["evergreen.decision"] == "promoted"  # not rolled_back
    assert len(list_actions(p.store)) == audit and _decisions(p) == decided


def test_rollback_and_promote_name_the_version_as_mlflow_spells_it(trained_project: Any) -> None:
    p = trained_project
    control.set_thresholds(
        p, {"promotion.min_improvement": -1.0, "promotion.significance": None}, actor="t", reason="any wins"
    )
    assert RetrainRunner(p).run(RetrainRequest(force=True)).status == "promoted"  # v2 champion
    result = control.rollback(p, to="01", actor="cli:ann", reason="v2 misbehaves")
    assert (result.version, result.previous) == ("1", "2")
    assert p.registry.aliases() == {"champion": "1", "previous": "2"}
    [row] = list_actions(p.store, action="rollback")
    assert (row["target"], row["after"]) == ("version:1", {"champion": "1", "previous": "2"})
    with pytest.raises(ConflictError, match=r"^v1 is already the champion$"):
        control.promote(p, " 1", actor="cli:ann")
    assert [r["status"] for r in list_runs(p.store)] == ["promoted", "promoted"]
