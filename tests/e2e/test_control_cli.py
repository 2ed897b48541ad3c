"""Approve, reject and rollback from the CLI, then ``evergreen alerts``: all in the audit with actor
and reason, each action raising or clearing its alert."""

from __future__ import annotations

from pathlib import Path

from evergreen.config import load_settings
from evergreen.store import open_store
from evergreen.store.audit import list_actions
from tests.support.cli import Runner, set_config


def test_human_actions_by_cli_are_audited_and_alerted(project_dir: Path, run_cli: Runner) -> None:
    assert run_cli("retrain", "--json").json()["status"] == "promoted"
    # Every candidate now wins the value gates but waits for a person.
    set_config(project_dir, "promotion", require_approval=True, min_improvement=-1.0, significance=None)
    first = run_cli("retrain", "--force", "--json").json()
    assert first["status"] == "pending_approval"
    alerts = run_cli("alerts", "--check", "--json").json()
    assert [a["kind"] for a in alerts] == ["pending_approval", "champion_changed"]

    res = run_cli("reject", first["run_id"], "--reason", "not on a friday", "--actor", "cli:ann")
    assert res.code == 0, res.stderr
    second = run_cli("retrain", "--force", "--json").json()
    res = run_cli("approve", second["run_id"], "--reason", "checked the slices", "--actor", "cli:ann")
    assert res.code == 0 and f"champion is now v{second['candidate_version']}" in res.stdout
    res = run_cli("rollback", "--reason", "complaints from sales", "--actor", "cli:bob")
    assert res.code == 0 and "champion is now v1" in res.stdout

    alerts = run_cli("alerts", "--check", "--json").json()  # the waiting candidate's alert cleared
    assert [(a["kind"], a["level"]) for a in alerts] == [("champion_changed", "info")]
    every = run_cli("alerts", "--all", "--json").json()
    # Each waiting candidate had its alert as its retrain ended (the second one's used to wait for
    # the next check, which came only after the approval), cleared by the reject and the approval.
    assert [(a["kind"], a["status"], a["resolved_by"]) for a in every] == [
        ("pending_approval", "resolved", "system"),
        ("pending_approval", "resolved", "system"),
        ("champion_changed", "open", None),
    ]
    info = alerts[0]
    assert info["title"].startswith(f"cli:bob rolled back to v1 (was v{second['candidate_version']})")
    acked = run_cli("alerts", "--ack", str(info["id"]), "--reason", "known", "--json").json()
    assert acked["status"] == "acknowledged"
    assert run_cli("alerts", "--ack", "999").code == 2  # unknown alert: bad input, one line

    store = open_store(load_settings(project_dir).storage.database_url, "churn")
    audit = [
        (a["actor"], a["action"], a["target"], a["reason"])
        for a in list_actions(store, limit=200)
        if a["action"] in ("reject", "approve", "rollback", "alert_acknowledged")
    ]
    assert audit[:4] == [
        (audit[0][0], "alert_acknowledged", f"alert:{info['id']}", "known"),
        ("cli:bob", "rollback", "version:1", "complaints from sales"),
        ("cli:ann", "approve", f"version:{second['candidate_version']}", "checked the slices"),
        ("cli:ann", "reject", f"run:{first['run_id']}", "not on a friday"),
    ]
    assert audit[0][0].startswith("cli:")


def test_status_shows_run_time_thresholds(project_dir: Path, run_cli: Runner) -> None:
    from evergreen.control import set_thresholds
    from evergreen.project import open_project

    project = open_project(load_settings(project_dir))
    set_thresholds(project, {"promotion.min_improvement": 0.07}, [], actor="api:ops", reason="q4")
    res = run_cli("status")
    assert res.code == 0, res.stderr
    assert "run-time thresholds: promotion.min_improvement=0.07 (by api:ops)" in res.stdout
    assert run_cli("status", "--json").json()["overrides"]["promotion.min_improvement"]["value"] == 0.07
