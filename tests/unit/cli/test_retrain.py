"""``evergreen retrain --as-of``: what a date may be."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evergreen.cli.retrain import parse_as_of
from evergreen.errors import BadInputError


def test_a_date_is_utc_unless_it_says_otherwise() -> None:
    assert parse_as_of("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_as_of("2026-03-01T05:00:00+05:00") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_as_of(None) is None


def test_a_date_the_window_cannot_reach_back_from_is_bad_input() -> None:
    # 0001-01-01 was OverflowError in the window's arithmetic (exit 1, no option named)
    with pytest.raises(BadInputError, match=r"^--as-of '0001-01-01': must be 1000-05-05 or later$"):
        parse_as_of("0001-01-01")
    assert parse_as_of("1000-05-05") == datetime(1000, 5, 5, tzinfo=UTC)
