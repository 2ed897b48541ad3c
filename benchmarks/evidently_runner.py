"""Evidently 0.7's DataDriftPreset reduced to plain per-column numbers.

Runs ONLY in .venv-evidently (evidently>=0.7,<0.8, pandas<3; see requirements-evidently.lock).
Used by benchmarks/drift.py (as a subprocess) and tests/unit/monitoring/make_golden.py.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

# Evidently reports an auto-chosen method by display name, an explicit one by its registry name.
DISPLAY_TO_METHOD = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
    "Kullback-Leibler divergence": "kl_div",
    "Hellinger distance": "hellinger",
}


def evidently_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    methods: dict[str, str] | None = None,
    thresholds: dict[str, float] | None = None,
    drift_share: float = 0.5,
) -> dict[str, Any]:
    """{"columns": {name: {method, score, threshold, drifted}}, "share", "dataset_drift"}."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    preset = DataDriftPreset(
        drift_share=drift_share, per_column_method=methods or None, per_column_threshold=thresholds or None
    )
    snapshot = Report([preset], include_tests=True).run(reference_data=reference, current_data=current)
    data = snapshot.dict()
    columns: dict[str, dict[str, Any]] = {}
    share = None
    for metric in data["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            method = DISPLAY_TO_METHOD.get(config["method"], config["method"])
            columns[config["column"]] = {
                "method": method,
                "score": float(metric["value"]),
                "threshold": float(config["threshold"]),
            }
        elif config["type"].endswith(":DriftedColumnsCount"):
            share = float(metric["value"]["share"])
    for test in data["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith(":ValueDrift"):
            # A failed ValueDrift test is Evidently's "drift detected" for that column.
            columns[params["column"]]["drifted"] = test["status"] == "FAIL"
    if share is None:
        raise RuntimeError("Evidently returned no DriftedColumnsCount")
    return {"columns": columns, "share": share, "dataset_drift": share >= drift_share}
