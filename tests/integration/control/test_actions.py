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


def _audited(project: Any) -> list[tuple[Any, Any, Any]]:
    rows = list_actions(project.store, action="thresholds_changed")
    return [(r["actor"], r["before"], r["after"]) for r in reversed(rows)]


def test_thresholds_audited_only_when_an_override_changes(churn_project: Any) -> None:
    p = churn_project
    control.set_thresholds(p, {}, actor="api:ada")  # nothing at all
    control.set_thresholds(p, {}, ["promotion.significance"], actor="api:ada")  # reset: none to reset
    assert _audited(p) == []
    control.set_thresholds(p, {"promotion.min_improvement": 0.05}, actor="api:ada")
    control.set_thresholds(p, {"promotion.min_improvement": 0.05}, actor="api:bob")  # the same again
    out = control.set_thresholds(
        p, {"promotion.min_improvement": 0.05, "triggers.drift.share": 0.2}, actor="api:cy"
    )
    assert _audited(p) == [
        ("api:ada", {"promotion.min_improvement": 0.01}, {"promotion.min_improvement": 0.05}),
        ("api:cy", {"triggers.drift.share": 0.3}, {"triggers.drift.share": 0.2}),
    ]
    # The unchanged override keeps who set it and when.
    assert out["overrides"]["promotion.min_improvement"]["actor"] == "api:ada"
    control.set_thresholds(p, {}, ["promotion.min_improvement"], actor="api:dee")
    assert _audited(p)[-1] == (
        "api:dee",
        {"promotion.min_improvement": 0.05},
        {"promotion.min_improvement": 0.01},
    )
    assert set(control.get_thresholds(p)["overrides"]) == {"triggers.drift.share"}


def test_a_stale_override_does_not_block_changing_another_key(churn_project: Any) -> None:
    from evergreen.store.overrides import replace_overrides

    p = churn_project
    # Valid once; evergreen.yaml (or the model) changed since: it is no longer in force.
    replace_overrides(p.store, remove=[], values={"triggers.new_data.min_rows": "lots"}, actor="old")
    out = control.set_thresholds(p, {"triggers.drift.share": 0.2}, actor="api:ada")
    assert out["values"]["triggers.drift.share"] == 0.2
    assert out["values"]["triggers.new_data.min_rows"] == 1000  # the file's value, as before
    assert _audited(p) == [("api:ada", {"triggers.drift.share": 0.3}, {"triggers.drift.share": 0.2})]
