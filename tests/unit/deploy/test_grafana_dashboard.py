"""deploy/grafana: the dashboard's structure, and every query parsed by Prometheus's own parser."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.tools import DEPLOY, system_tool

GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "evergreen.json"
# What Grafana puts in place of its variables before a query reaches Prometheus.
VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$project": "churn",
    "$window": "7d",
}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def expressions() -> list[str]:
    """Every PromQL expression of the dashboard (panel targets, variables, annotations), resolved."""
    d = dashboard()
    exprs = [t["expr"] for p in panels() for t in p["targets"]]
    exprs += [a["expr"] for a in d["annotations"]["list"] if "expr" in a]
    out = []
    for e in exprs:
        for var, value in VARIABLES.items():
            e = e.replace(var, value)
        out.append(e)
    return out


def test_panel_ids_are_unique_and_every_panel_fits_the_24_column_grid() -> None:
    all_panels = dashboard()["panels"]
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in all_panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, p["title"]
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not area & cells, f"{p['title']} overlaps another panel"
        cells |= area


def test_the_datasource_is_a_variable_everywhere() -> None:
    d = dashboard()
    var = next(v for v in d["templating"]["list"] if v["name"] == "datasource")
    assert (var["type"], var["query"]) == ("datasource", "prometheus")
    sources = [p["datasource"] for p in panels()] + [t["datasource"] for p in panels() for t in p["targets"]]
    sources += [v["datasource"] for v in d["templating"]["list"] if "datasource" in v]
    assert sources and all(s == {"type": "prometheus", "uid": "${datasource}"} for s in sources)
    assert all(s == {"type": "prometheus", "uid": "${datasource}"} for s in _every("datasource", d))


def _every(key: str, node: Any) -> list[Any]:
    """Every value of ``key`` anywhere in the JSON (so a panel added later cannot name a data source)."""
    if isinstance(node, dict):
        here = [node[key]] if key in node else []
        return here + [v for child in node.values() for v in _every(key, child)]
    if isinstance(node, list):
        return [v for child in node for v in _every(key, child)]
    return []


def test_the_dashboard_shows_what_the_issue_asks_for() -> None:
    text = " ".join(expressions())
    for metric in (
        "serving_requests_total",
        "serving_request_duration_seconds_bucket",
        "serving_batch_size_bucket",
        "serving_swaps_total",
        "evergreen_champion_version",
        "evergreen_decisions_total",
        "evergreen_drift_share_threshold",
        "evergreen_column_drift_score",
        "evergreen_column_drift_threshold",
        "evergreen_drift_score_level_threshold",
        "evergreen_performance",
        "evergreen_alerts",
    ):
        assert metric in text, metric
    assert any("RUNBOOK.md" in link["url"] for link in dashboard()["links"])


def test_every_query_parses(tmp_path: Path) -> None:
    """promtool has no parse-only command, but `check rules` parses each rule's expression: every
    query becomes a recording rule of a throw-away file."""
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(expressions())
    ]}]}  # fmt: skip
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    res = subprocess.run(
        [system_tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{len(expressions())} rules found" in res.stdout


def test_provisioning_points_grafana_at_the_dashboards_and_prometheus() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    assert ds["datasources"][0]["type"] == "prometheus"
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    prov = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "evergreen.yaml").read_text())
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{prov['providers'][0]['options']['path']}:ro" in mounts
