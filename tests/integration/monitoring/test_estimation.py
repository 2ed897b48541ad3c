"""CBPE on a real champion: the estimate tracks the realised value under a real covariate shift.

The champion (logistic regression on 2 x 4000 churn rows, ~2000 holdout rows to calibrate on) is
served three windows of the same regime whose customers are re-weighted by tenure (long-tenure
customers churn less and are easier), and one window of the drifted regime where the concept itself
changed. Covariate shift moves the realised accuracy by several points and the estimate moves with
it; a concept change is invisible to any label-free estimate, and the realised value catches it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evergreen.examples import churn
from evergreen.monitoring.job import run_monitoring
from evergreen.monitoring.reference import build_reference
from tests.support.monitoring import log_predictions, train_project

DAY0 = datetime(2026, 4, 1, tzinfo=UTC)


def _shifted(frame: pd.DataFrame, weights: np.ndarray, rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(frame), rows, replace=False, p=weights / weights.sum())
    return frame.iloc[np.sort(idx)].reset_index(drop=True)


def test_estimated_performance_tracks_realised_under_covariate_shift(tmp_path: Path) -> None:
    project: Any = train_project(
        tmp_path / "big", rows=4000, training={"candidates": ["logistic_regression"]}
    )
    ref = build_reference(project)
    assert ref.holdout_rows > 1900
    pool = pd.concat(
        [churn.make_batch(i, 2000, drifted=False, seed=99) for i in (7, 8, 9)], ignore_index=True
    )
    windows = {
        "same": np.ones(len(pool)),
        "long_tenure": np.exp(0.05 * pool["tenure"].to_numpy()),
        "short_tenure": np.exp(-0.08 * pool["tenure"].to_numpy()),
    }
    got = {}
    for day, (name, weights) in enumerate(windows.items()):
        end = DAY0 + timedelta(days=day)
        log_predictions(
            project,
            _shifted(pool, weights, 1500, seed=day),
            end=end,
            spacing=timedelta(seconds=30),
            seed=10 + day,
        )
        report = run_monitoring(project, "24h", now=end, reference=ref)
        got[name] = (
            report.realised_metrics["accuracy"],
            report.estimated_metrics["accuracy"],
            report.sigmas["estimated"]["accuracy"],
            report,
        )

    print({k: [round(x, 4) for x in v[:3]] for k, v in got.items()})
    for name, (real, est, std, _) in got.items():
        assert abs(est - real) <= 3 * std, (name, real, est, std)  # NannyML sampling error, about 0.011 here
    # The shifts are real: tenure drifts, and the realised accuracy moves by more than 4 points...
    assert (
        got["long_tenure"][3].data_drift["tenure"].drifted
        and got["short_tenure"][3].data_drift["tenure"].drifted
    )
    assert not got["same"][3].data_drift["tenure"].drifted
    assert got["long_tenure"][0] - got["same"][0] > 0.04 and got["same"][0] - got["short_tenure"][0] > 0.01
    # ...and the estimate moves the same way.
    assert got["long_tenure"][1] > got["same"][1] > got["short_tenure"][1]

    # A change of concept (price now drives churn): the estimate stays near the holdout value, the
    # realised value collapses, and the report flags the drop on the realised value.
    end = DAY0 + timedelta(days=5)
    log_predictions(
        project, churn.make_batch(6, 1500, drifted=True), end=end, spacing=timedelta(seconds=30), seed=20
    )
    concept = run_monitoring(project, "24h", now=end, reference=ref)
    perf = concept.performance
    print("concept", perf.baseline, perf.realised, perf.estimated)
    assert (
        perf.source == "realised"
        and perf.degraded
        and perf.realised is not None
        and perf.estimated is not None
    )
    assert perf.baseline is not None and perf.baseline - perf.realised > 0.1
    assert abs(perf.estimated - perf.baseline) < 0.05
    assert concept.drift_detected
