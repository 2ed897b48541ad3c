"""Settings rows and the form's edits: JSON values, unchanged fields ignored, resets, bad JSON named."""

from __future__ import annotations

import re

import pytest

from evergreen.dashboard.views.settings import parse_changes, threshold_rows
from evergreen.errors import BadInputError

KEYS = ("promotion.min_improvement", "promotion.require_approval", "alerts.levels")
CURRENT = {
    "promotion.min_improvement": "0.02",
    "promotion.require_approval": "false",
    "alerts.levels": '{"a": 1}',
}


def test_rows_show_file_override_and_value_in_force() -> None:
    rows = threshold_rows(
        KEYS[:2],
        {"promotion.min_improvement": 0.02, "promotion.require_approval": False},
        {"promotion.min_improvement": 0.05, "promotion.require_approval": False},
        {
            "promotion.min_improvement": {"value": 0.05, "actor": "dashboard:ada", "updated_at": "t"},
            "promotion.require_approval": {"value": "x", "actor": "old", "updated_at": "t", "ignored": "why"},
        },
    )
    assert [(r.key, r.file_value, r.override, r.in_force, r.actor, r.ignored) for r in rows] == [
        ("promotion.min_improvement", "0.02", "0.05", "0.05", "dashboard:ada", ""),
        ("promotion.require_approval", "false", '"x"', "false", "old", "why"),
    ]


def test_only_changed_fields_and_resets() -> None:
    form = {
        "value:promotion.min_improvement": " 0.02 ",  # as shown: no change
        "value:promotion.require_approval": "true",
        "value:alerts.levels": '{"a":1}',  # same JSON, other spacing: no change
    }
    assert parse_changes(form, KEYS, CURRENT) == ({"promotion.require_approval": True}, [])
    # The same numbers written another way are no change (before: saved and audited as one).
    form = {"value:promotion.min_improvement": "2e-2", "value:alerts.levels": '{"a": 1.0}'}
    assert parse_changes(form, KEYS, CURRENT) == ({}, [])
    form = {"value:promotion.require_approval": "0", "value:alerts.levels": '{"a": true}'}  # not the same
    assert parse_changes(form, KEYS, CURRENT) == (
        {"promotion.require_approval": 0, "alerts.levels": {"a": True}},
        [],
    )
    form = {"value:promotion.min_improvement": "0.5", "reset:promotion.min_improvement": "yes"}
    assert parse_changes(form, KEYS, CURRENT) == ({}, ["promotion.min_improvement"])


@pytest.mark.parametrize(
    ("field", "named"),
    [
        ("value:promotion.min_improvment", "promotion.min_improvment"),  # a dotted name as it is
        ("reset:training.seed", "training.seed"),
        ("value:", "''"),  # anything else quoted back: no line break gets into the message
        ("value:a\nb", "'a\\nb'"),
        ("value:" + "k" * 5000, "'" + "k" * 80 + "'…"),  # a huge field name comes back cut
    ],
)
def test_a_field_of_a_key_that_cannot_change_is_refused_naming_it(field: str, named: str) -> None:
    key = field.partition(":")[2]
    with pytest.raises(
        BadInputError, match=rf"^thresholds key {re.escape(named)}: cannot be changed at run time"
    ) as exc:
        parse_changes({"value:promotion.min_improvement": "0.5", field: "1"}, KEYS, CURRENT)
    assert exc.value.details == {"key": key[:80]} and len(exc.value.message) < 500
    # other fields of the form (the reason, the CSRF token) are not thresholds
    assert parse_changes({"reason": "x", "value:alerts.levels": '{"a": 1}'}, KEYS, CURRENT) == ({}, [])


def test_text_that_is_not_json_names_the_key() -> None:
    with pytest.raises(BadInputError, match=r"thresholds key alerts.levels: 'lots' is not a JSON value"):
        parse_changes({"value:alerts.levels": "lots"}, KEYS, CURRENT)


@pytest.mark.parametrize(
    "text",
    ["NaN", "-Infinity", "1e400", '{"a": [1, NaN]}', "1" * 5000, '{"a":' * 3000 + "1" + "}" * 3000],
)
def test_values_no_threshold_holds_are_refused_not_a_server_error(text: str) -> None:
    # Non-finite numbers, integers over the 4300-digit limit, and nesting past the recursion limit.
    with pytest.raises(BadInputError, match=r"thresholds key alerts.levels: .* is not a JSON value"):
        parse_changes({"value:alerts.levels": text}, KEYS, CURRENT)
