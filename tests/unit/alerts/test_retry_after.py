"""``Retry-After`` as seconds: whole seconds or an HTTP date (RFC 9110 §10.2.3), else None."""

from __future__ import annotations

from datetime import UTC, datetime

from evergreen.alerts.channels import retry_after_seconds

NOW = datetime(2026, 12, 3, 9, 0, 0, tzinfo=UTC)


def test_seconds_and_http_dates_are_read_anything_else_is_none() -> None:
    assert retry_after_seconds("1", NOW) == 1.0 and retry_after_seconds(" 30 ", NOW) == 30.0
    assert retry_after_seconds("Thu, 03 Dec 2026 09:00:45 GMT", NOW) == 45.0
    assert retry_after_seconds("Thu, 03 Dec 2026 08:00:00 GMT", NOW) == 0.0  # already past
    for bad in (None, "", "-1", "1.5", "soon", "\uff11", "Thu, 03 Dec 2026 09:00:45"):
        assert retry_after_seconds(bad, NOW) is None, bad


def test_a_retry_after_of_thousands_of_digits_is_for_ever_not_an_error() -> None:
    # int() refuses 5000 digits and float() overflows at 400: the delivery's error named neither.
    for digits in (16, 400, 5000):
        assert retry_after_seconds("9" * digits, NOW) == float("inf")
    assert retry_after_seconds("9" * 15, NOW) == 999999999999999.0
