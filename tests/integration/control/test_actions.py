"""The human actions of ``control`` as a careless client calls them: refused cleanly, nothing lost,
an audit row exactly when something changed."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evergreen import control
from evergreen.errors import BadInputError, ConflictError
from evergreen.pipeline import RetrainRequest, RetrainRunner
from evergreen.store.audit import list_actions
from evergreen.store.runs import list_runs
from tests.support.control import OPERATOR, control_app, pending_candidate


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
    for empty in ("", "  "):  # `evergreen rollback --to "$V"` with V unset: was a rollback to previous
        with pytest.raises(BadInputError, match=r"^rollback to: an empty version"):
            control.rollback(p, to=empty, actor="cli:ann")
    assert p.registry.aliases() == {"champion": "2", "previous": "1"} and _moves(p) == []
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
    # Every view of the stored overrides says which is ignored, and why (status listed it as in force).
    stale = "thresholds key triggers.new_data.min_rows: must be a number, not 'lots'"
    for shown in (out["overrides"], control.get_thresholds(p)["overrides"], control.status(p)["overrides"]):
        assert shown["triggers.new_data.min_rows"]["ignored"].startswith(stale), shown
        assert shown["triggers.drift.share"]["ignored"] is None


def _moves(project: Any) -> list[tuple[str, str]]:
    acts = ("promote", "rollback", "approve", "reject")
    by_hand = [a for a in list_actions(project.store) if a["actor"] != "system"]  # not the fixture's run
    return [(a["action"], a["actor"]) for a in by_hand if a["action"] in acts]


def test_an_action_while_another_holds_the_models_is_a_409_that_changes_nothing(trained_project: Any) -> None:
    from evergreen.errors import LockHeldError
    from evergreen.store.locks import LeaseLock, models_lock_name

    p = trained_project
    run_id = pending_candidate(p)  # v2 waits; v1 is the champion
    with LeaseLock(p.store, models_lock_name("churn")):  # e.g. another operator's approve, mid-way
        for act in (
            lambda: control.approve(p, run_id, actor="cli:bob"),
            lambda: control.reject(p, run_id, actor="cli:bob", reason="no"),
            lambda: control.promote(p, "2", actor="cli:bob"),
            lambda: control.rollback(p, to="2", actor="cli:bob"),
        ):
            with pytest.raises(LockHeldError, match="another action on the models"):
                act()
        with TestClient(control_app(p)) as c:  # the API says so with a 409, not a 5xx
            for path, body in ((f"/api/runs/{run_id}/approve", {}), ("/api/rollback", {"to": "2"})):
                r = c.post(path, json=body, headers=OPERATOR)
                assert r.status_code == 409 and r.json()["error"]["code"] == "lock_held", r.text
    assert p.registry.aliases() == {"champion": "1"} and _moves(p) == []
    assert list_runs(p.store, status="pending_approval")[0]["id"] == run_id
    control.approve(p, run_id, actor="cli:ann")  # the lock is free again
    assert _moves(p) == [("approve", "cli:ann")]


def test_approvals_and_a_reject_at_once_act_exactly_once(trained_project: Any) -> None:
    import threading

    from evergreen.errors import EvergreenError
    from evergreen.store.runs import get_run

    p = trained_project
    run_id = pending_candidate(p)
    calls = [lambda i=i: control.approve(p, run_id, actor=f"api:a{i}") for i in range(3)]
    calls.append(lambda: control.reject(p, run_id, actor="api:r", reason="no"))
    start, results = threading.Barrier(len(calls)), []

    def call(act: Any) -> None:
        start.wait()  # a double click, two operators: all at the same moment
        try:
            results.append(act().action)
        except EvergreenError as exc:  # anything else (MLflow's own error: a 500) fails the test
            results.append(exc.code)

    threads = [threading.Thread(target=call, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [r for r in results if r in ("approve", "reject")]
    assert len(done) == 1 and set(results) - {done[0]} <= {"conflict", "lock_held"}, results
    [(action, _)] = _moves(p)
    run = get_run(p.store, run_id)
    if action == "approve":
        assert run["status"] == "promoted" and p.registry.aliases() == {"champion": "2", "previous": "1"}
    else:
        assert run["status"] == "rejected" and p.registry.aliases() == {"champion": "1"}
    outcome = {"approve": "approve", "reject": "rejected"}[action]  # as each records its decision
    assert [d["outcome"] for d in run["decisions"]] == ["pending_approval", outcome]


def test_a_pending_candidate_promoted_by_hand_is_not_rejected_and_approving_settles_it(
    trained_project: Any,
) -> None:
    from evergreen.store.runs import get_run

    p = trained_project
    run_id = pending_candidate(p)
    control.promote(p, "2", actor="cli:ann", reason="could not wait")
    # Rejecting it now would tag the serving champion "rejected" (it did).
    with pytest.raises(ConflictError, match=r"^v2 of run \w+ is the champion now"):
        control.reject(p, run_id, actor="cli:bob", reason="no")
    assert p.registry.get_version("2").tags["evergreen.decision"] == "promoted"
    # Approving it settles the run; it was rescored against itself: a 409 under the file's thresholds
    # (the run pending for ever), or under these a second "move" of v2 onto itself, audited.
    result = control.approve(p, run_id, actor="cli:bob", reason="ok")
    assert (result.version, result.previous) == ("2", "1")
    assert p.registry.aliases() == {"champion": "2", "previous": "1"}
    assert get_run(p.store, run_id)["status"] == "promoted"
    assert _moves(p) == [("approve", "cli:bob"), ("promote", "cli:ann")]
    with pytest.raises(ConflictError, match="not pending_approval"):
        control.approve(p, run_id, actor="cli:bob")


def test_a_retrain_asked_for_with_an_unknown_trigger_is_refused_before_anything_runs(
    churn_project: Any,
) -> None:
    with pytest.raises(BadInputError) as exc:
        control.request_retrain(churn_project, actor="api:ada", trigger="nightly", wait=True)
    assert exc.value.message == (
        "trigger 'nightly': use one of manual, performance, drift, new_data, schedule"
    )
    assert exc.value.details == {"field": "trigger"}
    assert list_runs(churn_project.store) == [] and list_actions(churn_project.store) == []


def test_a_second_rollback_does_not_put_the_rolled_back_model_back(trained_project: Any) -> None:
    # v2 rolled back to v1 leaves 'previous' on v2: a retried or double-submitted rollback promoted
    # the bad model again.
    p = trained_project
    control.set_thresholds(
        p, {"promotion.min_improvement": -1.0, "promotion.significance": None}, actor="t", reason="any wins"
    )
    assert RetrainRunner(p).run(RetrainRequest(force=True)).status == "promoted"  # v2 champion
    control.rollback(p, actor="cli:ann", reason="v2 misbehaves")
    assert p.registry.aliases() == {"champion": "1", "previous": "2"}
    audit = len(list_actions(p.store))
    with pytest.raises(ConflictError, match=r"^'previous' is v2, which was rolled back from"):
        control.rollback(p, actor="cli:ann", reason="again")
    assert p.registry.aliases() == {"champion": "1", "previous": "2"} and len(list_actions(p.store)) == audit
    assert control.rollback(p, to="2", actor="cli:ann", reason="v2 was fine after all").version == "2"


def test_a_secret_pasted_into_a_reason_reaches_no_mlflow_tag(trained_project: Any) -> None:
    # The audit and decision rows were redacted; the versions' evergreen.reason tags (shown by
    # GET /api/models) kept the password and the token.
    p = trained_project
    control.set_thresholds(
        p, {"promotion.min_improvement": -1.0, "promotion.significance": None}, actor="t", reason="any wins"
    )
    assert RetrainRunner(p).run(RetrainRequest(force=True)).status == "promoted"  # v2 champion
    pasted = "see https://bob:hunter22@db/x?token=abcdef123 before"
    control.rollback(p, actor="cli:ann", reason=pasted)
    tags = [p.registry.get_version(v).tags["evergreen.reason"] for v in ("1", "2")]
    assert tags == ["see https://bob:***@db/x?token=*** before"] * 2


@pytest.mark.parametrize("version", ["99999999999999999999", "-3", "0"])
def test_a_version_no_model_can_have_is_not_found(trained_project: Any, version: str) -> None:
    # 20 digits were "MLflow registry unavailable" (503, exit 1): the store failed on the number.
    from evergreen.errors import NotFoundError

    with pytest.raises(NotFoundError, match=f"model version {version} of churn not found"):
        control.promote(trained_project, version, actor="cli:ann")
    with pytest.raises(NotFoundError):
        control.rollback(trained_project, to=version, actor="cli:ann")


def test_a_change_of_the_thresholds_while_another_is_made_is_refused(churn_project: Any) -> None:
    # Four PUTs at once each recorded the value before all of them as their "before".
    from evergreen.errors import LockHeldError
    from evergreen.store.locks import LeaseLock, settings_lock_name

    p = churn_project
    other = LeaseLock(p.store, settings_lock_name(p.settings.project)).acquire()
    try:
        with pytest.raises(LockHeldError, match="another change of the thresholds is in progress"):
            control.set_thresholds(p, {"promotion.min_improvement": 0.03}, actor="api:a")
    finally:
        other.release()
    assert list_actions(p.store, action="thresholds_changed") == []
    control.set_thresholds(p, {"promotion.min_improvement": 0.03}, actor="api:a")
    control.set_thresholds(p, {"promotion.min_improvement": 0.04}, actor="api:b")
    rows = list_actions(p.store, action="thresholds_changed")  # newest first
    assert [(r["before"], r["after"]) for r in rows] == [
        ({"promotion.min_improvement": 0.03}, {"promotion.min_improvement": 0.04}),
        ({"promotion.min_improvement": 0.01}, {"promotion.min_improvement": 0.03}),
    ]
    assert LeaseLock(p.store, settings_lock_name(p.settings.project)).current() is None


def test_rejecting_with_a_reason_over_mlflows_tag_limit_tags_the_version_it_still_has(
    trained_project: Any,
) -> None:
    """MLflow refuses a tag value over its limit with INVALID_PARAMETER_VALUE, before looking the
    version up: it was read as "no such version", and the run settled as "v2 no longer exists" while
    v2 kept its pending tag."""
    p = trained_project
    run_id = pending_candidate(p)
    result = control.reject(p, run_id, actor="cli:ann", reason="r" * 120_000)
    assert result.message == f"run {run_id} (v2) rejected"
    tags = p.registry.get_version("2").tags
    assert tags["evergreen.decision"] == "rejected" and tags["evergreen.reason"] == "r" * 5000


def test_approving_after_the_champion_moved_fetches_the_candidate_once(
    trained_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The servability check loads the candidate; the rescore against the new champion scores that
    same model instead of fetching and unpickling it a second time under the models lease."""
    from evergreen.store.runs import get_run

    p = trained_project
    run_id = pending_candidate(p)  # v2 waits, judged against v1
    later = RetrainRunner(p).run(RetrainRequest(force=True))  # v3 waits too
    control.promote(p, str(later.candidate_version), actor="cli:ann")  # the champion moved: a rescore
    candidate = str(get_run(p.store, run_id)["candidate_version"])
    loads: list[str] = []
    real = p.registry.load_model

    def counted(version: str, *args: Any, **kwargs: Any) -> Any:
        loads.append(str(version))
        return real(version, *args, **kwargs)

    monkeypatch.setattr(p.registry, "load_model", counted)  # the real load, counted
    with contextlib.suppress(ConflictError):  # it may be no better than v3: the loads are counted
        control.approve(p, run_id, actor="cli:ann")
    assert sorted(loads) == sorted([candidate, str(later.candidate_version)]), loads
