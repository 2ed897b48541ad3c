"""``evergreen monitor`` as a user runs it: a real subprocess on a project made by ``evergreen init``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from evergreen.config import load_settings
from evergreen.examples import churn
from evergreen.project import open_project
from tests.support.cli import Runner
from tests.support.monitoring import log_predictions


def test_monitor_command(project_dir: Path, run_cli: Runner) -> None:
    res = run_cli("monitor")  # MLflow may log its own store creation first: look at the last line
    assert res.code == 2
    assert (
        res.stderr.strip().splitlines()[-1] == "error: no champion model yet: run `evergreen retrain` first"
    )
    assert run_cli("retrain").code == 0
    res = run_cli("monitor", "--window", "7d")
    assert res.code == 2 and "no champion predictions in the 7d window" in res.stderr

    project = open_project(load_settings(project_dir))
    now = datetime.now(UTC)
    # A handful of drifted rows: no verdict at all (monitoring.min_rows is 500), row still written.
    log_predictions(
        project, churn.make_batch(9, 5, drifted=True), end=now - timedelta(minutes=30), labelled=1.0, seed=5
    )
    project.store.engine.dispose()
    res = run_cli("monitor", "--json")
    assert res.code == 0, res.stderr
    few = res.json()
    assert (few["id"], few["drift_detected"], few["data_drift_score"]) == (1, None, None)
    assert few["details"]["status"] == "insufficient_data" and few["details"]["current_rows"] == 5
    assert {c["status"] for c in few["details"]["data_drift"]["columns"].values()} == {"insufficient_data"}
    assert few["details"]["performance"]["verdict"] == "insufficient_data"
    res = run_cli("monitor")
    assert res.code == 0, res.stderr
    assert "no verdict (fewer than 500 rows)" in res.stdout and "insufficient data" in res.stdout

    log_predictions(
        project, churn.make_batch(8, 600, drifted=True), end=now - timedelta(minutes=5), labelled=0.5
    )
    project.store.engine.dispose()

    res = run_cli("monitor")
    assert res.code == 0, res.stderr
    for text in (
        "monthly_fee",
        "prediction (output)",
        "data drift:",
        "performance (f1_macro)",
        "multivariate drift: domain classifier ROC AUC",
        "sigma",
        "drift detected: yes",
    ):
        assert text in res.stdout, text
    path = Path(res.stdout.split("report 3: ")[1].split()[0])
    assert path.is_file() and path.parent == project_dir / ".evergreen" / "reports"

    res = run_cli("monitor", "--window", "30d", "--json")
    assert res.code == 0, res.stderr
    data = res.json()
    assert data["id"] == 4 and data["details"]["window"]["name"] == "30d"
    assert data["details"]["current_rows"] == 605 and data["details"]["performance"]["labelled_rows"] > 250
    bands = data["details"]["performance"]["metric_bands"]["f1_macro"]
    assert bands["realised"]["lower"] < bands["realised"]["value"] < bands["realised"]["upper"]
    assert data["drift_detected"] is True  # fees rose 15% and the concept changed

    res = run_cli("monitor", "--window", "soon")
    assert res.code == 2 and "--window 'soon'" in res.stderr
