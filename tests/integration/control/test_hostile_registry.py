"""The human actions on the models when the MLflow registry was changed behind evergreen's back:
a version whose files were garbage-collected, one evergreen did not make, one deleted by hand.
Each is refused naming the version, and the aliases and the audit trail stay as they were."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from evergreen import control
from evergreen.errors import NotFoundError, UnservableVersionError
from evergreen.store.audit import list_actions
from tests.support.control import OPERATOR, control_app
from tests.support.serving import clone_version
from tests.support.serving import collected as _collected
from tests.support.serving import foreign_version as _foreign_version


def test_a_rollback_to_a_version_whose_files_were_collected_is_refused_naming_it(
    trained_project: Any,
) -> None:
    # `mlflow gc` after soft-deleting v1's run removed its files while 'previous' still named it: the
    # rollback moved the champion onto a model no server can load (each replica kept its old model,
    # the registry said v1).
    p = trained_project
    v2 = clone_version(p, "1", lambda d: None)
    control.promote(p, v2, actor="cli:ann")
    _collected(p, "1")
    aliases, audit = p.registry.aliases(), len(list_actions(p.store))
    with pytest.raises(UnservableVersionError, match=r"^v1 cannot be served, .*could not be loaded") as err:
        control.rollback(p, actor="cli:ann", reason="v2 misbehaves")
    # What failed, not only where MLflow looked (its message puts that on a second line).
    assert "could not be loaded: MlflowException: No such artifact: 'model.skops' (" in err.value.message
    with pytest.raises(UnservableVersionError):
        control.rollback(p, actor="cli:ann", reason="v2 misbehaves")
    assert (err.value.http_status, err.value.exit_code) == (422, 2)
    assert err.value.details["version"] == "1"
    with pytest.raises(UnservableVersionError, match=r"^v1 cannot be served"):
        control.rollback(p, to="1", actor="cli:ann")
    with pytest.raises(UnservableVersionError, match=r"^v1 cannot be served"):
        control.promote(p, "1", actor="cli:ann")
    assert p.registry.aliases() == aliases == {"champion": v2, "previous": "1"}
    assert len(list_actions(p.store)) == audit
    assert p.registry.get_version(v2).tags["evergreen.decision"] != "rolled_back"


def test_the_control_api_refuses_a_version_evergreen_did_not_make_with_a_422(trained_project: Any) -> None:
    p = trained_project
    foreign = _foreign_version(p, "1")
    audit = len(list_actions(p.store))
    with TestClient(control_app(p)) as c:
        headers = OPERATOR
        r = c.post("/api/rollback", json={"to": foreign, "reason": "x"}, headers=headers)
        assert r.status_code == 422, r.text
        body = r.json()["error"]
        assert body["code"] == "version_unservable" and body["details"]["version"] == foreign
        assert f"v{foreign} cannot be served" in body["message"]
        assert "only versions registered by evergreen are loaded" in body["message"]
    assert p.registry.aliases() == {"champion": "1"}
    assert len(list_actions(p.store)) == audit


def test_a_rollback_to_a_version_deleted_by_hand_or_never_made_is_a_404_changing_nothing(
    trained_project: Any,
) -> None:
    p = trained_project
    v2 = clone_version(p, "1", lambda d: None)
    v3 = clone_version(p, "1", lambda d: None)
    control.promote(p, v3, actor="cli:ann")
    p.registry.client.delete_model_version(p.registry.model_name, v2)
    aliases, audit = p.registry.aliases(), len(list_actions(p.store))
    for gone in (v2, "7"):
        with pytest.raises(NotFoundError, match=f"^model version {gone} of churn not found"):
            control.rollback(p, to=gone, actor="cli:ann")
    with TestClient(control_app(p)) as c:
        r = c.post("/api/rollback", json={"to": v2}, headers=OPERATOR)
        assert (
            r.status_code == 404 and f"model version {v2} of churn not found" in r.json()["error"]["message"]
        )
    assert p.registry.aliases() == aliases and len(list_actions(p.store)) == audit


def test_approving_a_candidate_whose_files_were_collected_is_refused_and_it_stays_pending(
    trained_project: Any,
) -> None:
    from evergreen.store.runs import get_run
    from tests.support.control import pending_candidate

    p = trained_project
    run_id = pending_candidate(p)
    _collected(p, "2")
    audit = len(list_actions(p.store))
    with pytest.raises(UnservableVersionError, match=r"^v2 cannot be served, so the champion was not moved"):
        control.approve(p, run_id, actor="cli:ann")
    assert p.registry.aliases() == {"champion": "1"}
    assert get_run(p.store, run_id)["status"] == "pending_approval"  # a person can still reject it
    assert len(list_actions(p.store)) == audit
    assert control.reject(p, run_id, actor="cli:ann", reason="its files are gone").action == "reject"


def test_a_store_this_host_cannot_reach_is_a_503_not_the_versions_fault(
    trained_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version's files in an object store that does not answer from here (down, no route, no
    credentials) is no proof that the version cannot be served: the action is refused as the
    retryable 503 it was (registry_error family), not a 422 blaming the version, and nothing moves."""
    from evergreen.errors import ChampionUnavailableError
    from tests.support.net import free_port

    p = trained_project
    reg = p.registry
    tags = reg.get_version("1").tags
    remote = str(
        reg.client.create_model_version(reg.model_name, source="s3://models/m/1", run_id=None).version
    )
    for key, value in tags.items():  # made by evergreen as far as its tags tell
        reg.client.set_model_version_tag(reg.model_name, remote, key, value)
    # nothing listens; the address carries a password, as a tracking server's URI may
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", f"http://ops:S3cretPw@127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    aliases, audit = reg.aliases(), len(list_actions(p.store))
    with pytest.raises(ChampionUnavailableError) as err:
        control.promote(p, remote, actor="cli:ann")
    assert not isinstance(err.value, UnservableVersionError)
    assert (err.value.http_status, err.value.code) == (503, "champion_unavailable")
    assert reg.aliases() == aliases and len(list_actions(p.store)) == audit
    assert "ops:***@127.0.0.1" in err.value.message and "S3cretPw" not in err.value.message
