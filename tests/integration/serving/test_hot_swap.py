"""Hot swap under load: promotions and broken versions, no failed request, versions consistent."""

from __future__ import annotations

import threading
from typing import Any

from evergreen.alerts import raise_alerts
from evergreen.control import promote
from evergreen.store.audit import list_actions
from tests.support.serving import (
    RECORD,
    clone_version,
    count_predictions,
    incompatible_schema_version,
    live,
    missing_artifact_version,
    settings_with,
    tampered_version,
    wait_until,
    warmup_failing_version,
)


class Load:
    """One client thread sending requests one after another, remembering each answer in order."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.results: list[tuple[int, str | None]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            r = self.client.post("/predict", json={"record": RECORD})
            self.results.append((r.status_code, r.json().get("model_version")))

    def versions_seen(self) -> list[str | None]:
        return [v for _, v in self.results]


def _failures(srv: Any) -> float:
    return float(srv.ctx.metrics.swap_failures.labels("champion")._value.get())


def test_swaps_under_load_keep_every_request_and_follow_the_alias(
    make_app: Any, trained_project: Any
) -> None:
    p = trained_project
    v2 = clone_version(p, "1", lambda d: None)
    broken = [
        missing_artifact_version(p, "1"),
        warmup_failing_version(p, "1"),
        incompatible_schema_version(p, "1"),
        tampered_version(p, "1"),
    ]
    with live(make_app()) as srv, srv.client() as c:
        load = Load(srv.client())
        load.thread.start()
        wait_until(lambda: len(load.results) > 5, "requests before the swap")

        promote(p, v2, actor="test")
        srv.wait_ready(v2)
        mark = len(load.results)
        wait_until(lambda: len(load.results) > mark + 5, "requests after the swap")
        # Once a response came from v2, no later response of this client came from v1.
        seen = load.versions_seen()
        first_v2 = seen.index(v2)
        assert set(seen[first_v2:]) == {v2} and set(seen[:first_v2]) == {"1"}

        for n, bad in enumerate(broken, 1):
            p.registry.set_champion(bad)
            wait_until(lambda n=n: _failures(srv) >= n, f"failure {n} to be noticed")
            assert c.get("/ready").json()["model_version"] == v2  # the old model keeps serving
        # A refused version raises an alert (the rule reads the swap_failed audit rows).
        opened = {ch.fingerprint for ch in raise_alerts(p) if ch.change == "opened"}
        promote(p, "1", actor="test")
        srv.wait_ready("1")
        mark = len(load.results)
        wait_until(lambda: len(load.results) > mark + 5, "requests after the last swap")
        load.stop.set()
        load.thread.join(30)
        metrics = c.get("/metrics").text

    assert {s for s, _ in load.results} == {200}, "a request failed during the swaps"
    assert load.versions_seen()[-1] == "1"
    assert "serving_swaps_total 3.0" in metrics  # v1 at start, v2, back to v1
    failed = list_actions(p.store, action="swap_failed")
    assert {a["target"] for a in failed} == {f"version:{v}" for v in broken}
    reasons = " | ".join(a["reason"] for a in failed)
    assert "artifact unavailable" in reasons and "warm-up prediction failed" in reasons
    assert "incompatible schema: new required field 'brand_new_field'" in reasons
    assert f"model version {broken[-1]} of churn: the artifact's sha256" in reasons
    assert "changed after registration" in reasons
    assert f"swap_failed:champion:{broken[-1]}" in opened
    # Every request logged once (the promotions also opened a watch: the replaced champion's shadow
    # rows are extra, role "shadow").
    assert count_predictions(p.store, role="champion") == len(load.results)


def test_notify_swaps_at_once_with_postgresql(trained_project: Any, postgres_url: str) -> None:
    # The poll interval is an hour: only the NOTIFY sent by promote() can make this swap happen.
    from evergreen.project import open_project
    from evergreen.serving.app import create_app

    settings = settings_with(
        trained_project, reload_interval_seconds=3600, storage={"database_url": postgres_url}
    )
    project = open_project(settings)
    v2 = clone_version(trained_project, "1", lambda d: None)
    app = create_app(settings, project)
    try:
        with live(app) as srv, srv.client() as c:
            wait_until(lambda: app.state.listener.listening.is_set(), "LISTEN to be active")
            promote(project, v2, actor="test")
            srv.wait_ready(v2)
            assert c.post("/predict", json={"record": RECORD}).json()["model_version"] == v2
        assert srv.ctx.watcher.checks >= 2  # the start-up poll, then the notified one
    finally:
        project.store.engine.dispose()


def test_shadow_version_is_scored_and_logged_beside_the_champion(make_app: Any, trained_project: Any) -> None:
    from sqlalchemy import select

    from evergreen.store.tables import predictions

    p = trained_project
    v2 = clone_version(p, "1", lambda d: None)
    with live(make_app(shadow=True, shadow_version=v2)) as srv, srv.client() as c:
        wait_until(lambda: srv.ctx.holder.shadow is not None, "the shadow model")
        assert c.get("/version").json()["shadow_version"] == v2
        ids = c.post("/predict", json={"records": [RECORD, {**RECORD, "plan": "basic"}]}).json()[
            "prediction_ids"
        ]
        assert c.post("/predict", json={"record": RECORD}).json()["model_version"] == "1"
    with p.store.connect() as conn:
        rows = conn.execute(
            select(
                predictions.c.role, predictions.c.model_version, predictions.c.shadow_of, predictions.c.record
            )
        ).all()
    shadow = [r for r in rows if r.role == "shadow"]
    assert len(shadow) == 3 and {r.model_version for r in shadow} == {v2}
    assert set(ids) <= {r.shadow_of for r in shadow}
    champion = {r.record["plan"] for r in rows if r.role == "champion"}
    assert champion == {r.record["plan"] for r in shadow}


def test_shadow_made_champion_swaps_in_without_a_new_load(make_app: Any, trained_project: Any) -> None:
    # A rollback during the watch period makes the shadow (the replaced champion) champion again:
    # the model already in memory is used, not downloaded and loaded a second time.
    p = trained_project
    v2 = clone_version(p, "1", lambda d: None)
    with live(make_app(shadow=True, shadow_version=v2)) as srv:
        shadow = wait_until(lambda: srv.ctx.holder.shadow, "the shadow model")
        promote(p, v2, actor="test")
        wait_until(lambda: srv.ctx.holder.version == v2, "the swap to the shadow's version")
        assert srv.ctx.holder.current is shadow
        assert _failures(srv) == 0
