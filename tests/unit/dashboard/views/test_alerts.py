"""An alert's evidence, flattened for reading."""

from __future__ import annotations

from evergreen.dashboard.views.alerts import evidence


def test_evidence_flattens_one_level_and_formats_numbers() -> None:
    details = {"value": 0.55801, "window": "7d", "band": [0.48, 0.63], "report": {"id": 3, "deep": {"x": 1}}}
    assert evidence(details) == [
        ("band", "[0.48, 0.63]"),
        ("report.deep", '{"x": 1}'),
        ("report.id", "3"),
        ("value", "0.5580"),
        ("window", "7d"),
    ]
    assert evidence(None) == []


def test_details_that_are_not_an_object_are_shown_as_one_row_not_a_500() -> None:
    """A row edited by hand: ``details`` a list or text (the alerts page was a 500)."""
    assert evidence([1, "two"]) == [("details", '[1, "two"]')]
    assert evidence("see the run") == [("details", "see the run")]
    assert evidence(7.0) == [("details", "7.0000")]
