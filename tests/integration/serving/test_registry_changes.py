"""Serving when the MLflow registry is changed behind evergreen's back: the champion's version
deleted by hand (its alias goes with it), its files garbage-collected, the alias moved by hand onto
a version that cannot load. The loaded model keeps answering, and /ready, /metrics and
``evergreen status`` say what the registry names."""

from __future__ import annotations

from typing import Any

from evergreen import control
from evergreen.store.audit import list_actions
from tests.support.serving import RECORD, clone_version, live, missing_artifact_version, wait_until
from tests.support.serving import collected as _collected
from tests.support.serving import foreign_version as _foreign_version


def _metric(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(name + " "))


def test_a_champion_deleted_by_hand_keeps_serving_and_every_status_says_the_alias_is_gone(
    make_app: Any, trained_project: Any
) -> None:
    p = trained_project
    with live(make_app()) as srv, srv.client() as c:
        assert c.get("/ready").json()["champion_alias"] == "1"
        assert _metric(c.get("/metrics").text, "serving_champion_alias_missing") == (
            "serving_champion_alias_missing 0.0"
        )
        p.registry.client.delete_model_version(p.registry.model_name, "1")
        wait_until(lambda: srv.ctx.watcher.alias.version is None, "the alias to be seen gone")
        ready = c.get("/ready")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "ready",
            "model_version": "1",
            "prediction_log": "ok",
            "champion_alias": None,
            "warning": "the registry has no 'champion' alias (deleted by hand?): serving v1, loaded before",
        }
        answer = c.post("/predict", json={"record": RECORD})
        assert answer.status_code == 200 and answer.json()["model_version"] == "1"
        assert _metric(c.get("/metrics").text, "serving_champion_alias_missing") == (
            "serving_champion_alias_missing 1.0"
        )
    st = control.status(p)
    assert st["champion"] is None
    assert st["no_champion"] == (
        "the registry has no 'champion' alias; evergreen last made v1 the champion "
        "(deleted or moved by hand in MLflow?): promote a version or retrain"
    )


def test_a_champion_whose_files_were_collected_is_named_by_ready_with_the_reason(
    make_app: Any, trained_project: Any
) -> None:
    # soft-deleted run + `mlflow gc`: the alias still resolves, the files are gone.
    p = trained_project
    v2 = clone_version(p, "1", lambda d: None)
    _collected(p, "1")
    with live(make_app(), ready=False) as srv, srv.client() as c:
        wait_until(lambda: srv.ctx.watcher.alias.load_error, "the failed load to be noticed")
        ready = c.get("/ready")
        assert ready.status_code == 503
        error = ready.json()["error"]
        assert error["code"] == "not_ready" and error["details"]["champion_alias"] == "1"
        assert error["message"] == (
            "no champion model is loaded: the 'champion' alias names v1, which could not be loaded "
            "(why: the swap_failed row of the audit trail)"
        )
        assert c.post("/predict", json={"record": RECORD}).status_code == 503

        control.promote(p, v2, actor="cli:ann")
        srv.wait_ready(v2)
        # Its artifact directory deleted, then the alias moved to it by hand (MLflow's UI): the
        # server keeps v2 and says why.
        gone = missing_artifact_version(p, v2)
        p.registry.client.set_registered_model_alias(p.registry.model_name, "champion", gone)
        wait_until(lambda: srv.ctx.watcher.alias.load_error, "the failed load to be noticed")
        ready = c.get("/ready")
        assert ready.status_code == 200 and ready.json()["model_version"] == v2
        assert ready.json()["champion_alias"] == gone
        assert ready.json()["warning"] == (
            f"the 'champion' alias names v{gone}, which could not be loaded "
            f"(why: the swap_failed row of the audit trail); serving v{v2}, loaded before"
        )
        # the why, for those who may read it: the audit trail (not /ready, open to anyone)
        failed = [a for a in list_actions(p.store, action="swap_failed") if a["target"] == f"version:{gone}"]
        assert failed and failed[0]["reason"].startswith(f"v{gone}: model artifact unavailable: ")
        assert c.post("/predict", json={"record": RECORD}).json()["model_version"] == v2


def test_an_alias_moved_by_hand_onto_a_version_evergreen_did_not_make_is_refused_and_said(
    make_app: Any, trained_project: Any
) -> None:
    # The same files as v1, registered by another tool: no evergreen tags, so nothing checks them.
    p = trained_project
    foreign = _foreign_version(p, "1")
    with live(make_app()) as srv, srv.client() as c:
        p.registry.client.set_registered_model_alias(p.registry.model_name, "champion", foreign)
        wait_until(lambda: srv.ctx.watcher.alias.load_error, "the refused load to be noticed")
        ready = c.get("/ready").json()
        assert ready["model_version"] == "1" and ready["champion_alias"] == foreign
        assert ready["warning"] == (
            f"the 'champion' alias names v{foreign}, which could not be loaded "
            "(why: the swap_failed row of the audit trail); serving v1, loaded before"
        )
        answer = c.post("/predict", json={"record": RECORD})
        assert answer.status_code == 200 and answer.json()["model_version"] == "1"
    [failed] = list_actions(p.store, action="swap_failed")
    assert failed["target"] == f"version:{foreign}"
    assert "only versions registered by evergreen are loaded" in failed["reason"]
