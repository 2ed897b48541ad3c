"""The run page's model: every metric side by side, deltas signed by the metric's direction, gates."""

from __future__ import annotations

from evergreen.dashboard.views.runs import MetricRow, comparison, duration, metric_rows, run_row

DECISION = {
    "outcome": "rejected",
    "metric": "f1_macro",
    "candidate_version": "3",
    "champion_version": "2",
    "candidate_metrics": {"f1_macro": 0.80, "log_loss": 0.40, "accuracy": 0.85, "per_class": {"a": 1}},
    "champion_metrics": {"f1_macro": 0.78, "log_loss": 0.45, "accuracy": 0.85, "roc_auc": 0.9},
    "ci_low": -0.01,
    "ci_high": 0.05,
    "checks": [
        {"name": "min_improvement", "passed": True, "detail": "+0.02 >= 0.02", "numbers": {"delta": 0.02}},
        {"name": "significance", "passed": False, "detail": "CI includes 0", "numbers": {}},
        {"name": "slices", "passed": True, "detail": "worst plan=basic", "numbers": {"slices_compared": 3}},
        # Not a gate: the record of which holdout rows decided (policy.BASIS_CHECK), always "passed".
        {"name": "evaluation_rows", "passed": True, "detail": "Judged on 485 rows", "numbers": {"rows": 485}},
    ],
    "justification": "Rejected: the CI includes 0.",
    "actor": "system",
    "created_at": "2026-01-02T03:04:05+00:00",
}


def test_metric_rows_selection_first_then_by_name_with_direction() -> None:
    rows = metric_rows(DECISION["candidate_metrics"], DECISION["champion_metrics"], "f1_macro")
    assert rows == (
        MetricRow("f1_macro", 0.80, 0.78, 0.02, True, True),
        MetricRow("accuracy", 0.85, 0.85, 0.0, None, False),
        MetricRow("log_loss", 0.40, 0.45, -0.05, True, False),  # lower is better: a drop is better
        MetricRow("roc_auc", None, 0.9, None, None, False),
    )


def test_comparison_splits_the_slice_gate_and_reads_the_ci() -> None:
    c = comparison(DECISION)
    assert [g.name for g in c.gates] == ["min_improvement", "significance"]
    assert [g.passed for g in c.gates] == [True, False]
    assert c.slices is not None and c.slices.numbers == {"slices_compared": 3}
    assert (c.ci_low, c.ci_high, c.ci_excludes_zero) == (-0.01, 0.05, False)
    assert (c.candidate_version, c.champion_version, c.outcome) == ("3", "2", "rejected")
    empty = comparison({"outcome": "rollback", "justification": "rollback by x"})
    assert empty.rows == () and empty.ci_excludes_zero is None and empty.slices is None


def test_run_row_duration_from_iso_times() -> None:
    assert duration("2026-01-01T00:00:00+00:00", "2026-01-01T00:01:02.5+00:00") == 62.5
    assert duration("2026-01-01T00:00:00+00:00", None) is None
    row = run_row(
        {"id": "r1", "trigger": "drift", "status": "running", "started_at": "2026-01-01T00:00:00+00:00"}
    )
    assert (row.id, row.trigger, row.duration_seconds, row.reason, row.candidate_version) == (
        "r1",
        "drift",
        None,
        "",
        None,
    )
