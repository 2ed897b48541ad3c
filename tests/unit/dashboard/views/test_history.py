"""History rows: the step of the loop, a link to the thing acted on, the change in one line."""

from __future__ import annotations

from datetime import UTC, date, datetime

from evergreen.dashboard.views.history import change_of, day_bounds, link_of, story_row


def test_story_row_of_a_rollback() -> None:
    row = story_row(
        {
            "at": "2026-01-01T00:00:00+00:00",
            "actor": "dashboard:otto",
            "action": "rollback",
            "target": "version:1",
            "reason": "v2 misbehaves",
            "before": {"champion": "2"},
            "after": {"champion": "1", "previous": "2"},
        }
    )
    assert (row.stage, row.link, row.reason) == ("champion", "/models?page=1#v1", "v2 misbehaves")
    assert row.change == 'champion: "2" -> "1"; previous: null -> "2"'


def test_links_and_changes() -> None:
    assert link_of("alert:3") == "/alerts?alert=3#alert-3" and link_of("run:ab") == "/runs/ab"
    assert link_of("retrain") is None and link_of(None) is None and link_of("weird:1") is None
    assert change_of(None, None) == "" and change_of(None, {"a": 1}) == 'null -> {"a": 1}'
    assert change_of({"status": "open"}, {"status": "open"}) == ""
    assert story_row({"action": "something_new"}).stage == "other"


def test_day_bounds_cover_whole_days() -> None:
    start, end = day_bounds(date(2026, 1, 1), date(2026, 1, 1))
    assert start == datetime(2026, 1, 1, tzinfo=UTC) and end == datetime(2026, 1, 2, tzinfo=UTC)
    assert day_bounds(None, None) == (None, None)
    # A URL's ?until=9999-12-31 has no next midnight: no upper bound, not an OverflowError (a 500).
    assert day_bounds(date.max, date.max) == (datetime(9999, 12, 31, tzinfo=UTC), None)
