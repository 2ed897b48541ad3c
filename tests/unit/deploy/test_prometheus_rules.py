"""deploy/prometheus: the config and the alert rules checked by promtool, and the rules' unit tests."""

from __future__ import annotations

import subprocess

import yaml

from tests.support.tools import DEPLOY, system_tool

PROM = DEPLOY / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [system_tool("promtool"), *args], cwd=PROM, capture_output=True, text=True, timeout=120
    )


def test_rules_and_config_pass_promtool_check() -> None:
    res = promtool("check", "rules", "rules.yml")
    assert res.returncode == 0, res.stdout + res.stderr
    res = promtool("check", "config", "prometheus.yml")
    assert res.returncode == 0, res.stdout + res.stderr


def test_rule_unit_tests_pass() -> None:
    res = promtool("test", "rules", "rules_test.yml")
    assert res.returncode == 0, res.stdout + res.stderr


def test_every_alert_the_issue_names_has_a_rule_with_a_test_and_a_runbook() -> None:
    rules = [r for g in yaml.safe_load((PROM / "rules.yml").read_text())["groups"] for r in g["rules"]]
    names = {r["alert"] for r in rules}
    assert {
        "EvergreenChampionNotLoaded",
        "EvergreenServingErrors",
        "EvergreenPredictionLogDegraded",
        "EvergreenDataDrift",
        "EvergreenPerformanceDegraded",
        "EvergreenRetrainFailing",
        "EvergreenSchedulerDown",
    } <= names
    tests = yaml.safe_load((PROM / "rules_test.yml").read_text())["tests"]
    tested = {t["alertname"] for case in tests for t in case["alert_rule_test"] if t["exp_alerts"]}
    assert tested == names  # every rule is seen firing at least once
    docs = (DEPLOY.parent / "docs" / "RUNBOOK.md").read_text().lower()
    for r in rules:
        url = r["annotations"]["runbook_url"]
        assert r["labels"]["severity"] in ("warning", "critical")
        if "#" in url:
            assert f"## {url.split('#')[1].replace('-', ' ')}" in docs, url


def test_a_broken_rule_fails_the_check(tmp_path: object) -> None:
    """The check can fail: a rule with a syntax error is refused."""
    from pathlib import Path

    bad = Path(str(tmp_path)) / "bad.yml"
    bad.write_text("groups: [{name: g, rules: [{alert: A, expr: 'sum(rate(x[5m])'}]}]\n")
    res = subprocess.run(
        [system_tool("promtool"), "check", "rules", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert res.returncode != 0
