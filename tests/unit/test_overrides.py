"""Run-time overrides on settings, pure: what may change, how a value is checked, what applies."""

from __future__ import annotations

from pathlib import Path

import pytest

from evergreen.errors import BadInputError
from evergreen.overrides import apply_overrides, get_value, set_value
from tests.support.project import make_project_settings


def test_overrides_apply_on_top_of_the_file_and_a_stale_one_is_skipped(tmp_path: Path) -> None:
    settings = make_project_settings(tmp_path)
    assert get_value(settings, "triggers.drift.share") == 0.3
    rows = {
        "triggers.drift.share": {"value": 0.15},
        "promotion.min_improvement": {"value": -0.5},
        "alerts.levels": {"value": {"warning": 0.5, "alert": 0.1, "critical": 0.9}},  # out of order
    }
    out = apply_overrides(settings, rows)
    assert get_value(out, "triggers.drift.share") == 0.15
    assert get_value(out, "promotion.min_improvement") == -0.5
    assert get_value(out, "alerts.levels") == get_value(settings, "alerts.levels")
    assert get_value(settings, "triggers.drift.share") == 0.3  # the file's settings are untouched


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("storage.database_url", "sqlite://", "thresholds key storage.database_url: cannot be changed"),
        ("triggers.drift.share", "a lot", "thresholds key triggers.drift.share: "),
        # A name no model is scored on, and one of another task (the project is binary): the gate
        # would fail every candidate from the next retrain on.
        ("promotion.min_metrics", {"f1-macro": 0.5}, "thresholds key promotion.min_metrics: .*'f1-macro'"),
        ("promotion.min_metrics", {"rmse": 0.5}, "thresholds key promotion.min_metrics: .*a binary model"),
        # Bounds of the file's keys hold at run time too (DESIGN §5: PUT /api/settings/thresholds).
        (
            "triggers.cooldown_minutes",
            -5,
            "thresholds key triggers.cooldown_minutes: .*greater than or equal to 0",
        ),
        (
            "triggers.new_data.min_rows",
            0,
            "thresholds key triggers.new_data.min_rows: .*greater than or equal to 1",
        ),
        # Accepted once, they overflowed the scheduler's and `alerts --check`'s date arithmetic.
        (
            "triggers.cooldown_minutes",
            1e308,
            "thresholds key triggers.cooldown_minutes: .*less than or equal",
        ),
        ("alerts.repeat_interval_minutes", 1e308, "thresholds key alerts.repeat_interval_minutes: "),
    ],
)
def test_a_bad_override_names_its_key(tmp_path: Path, key: str, value: object, message: str) -> None:
    with pytest.raises(BadInputError, match=message) as err:
        set_value(make_project_settings(tmp_path), key, value)
    assert err.value.details == {"key": key}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("promotion.min_improvement", float("nan"), "Input should be a finite number"),
        ("promotion.min_improvement", float("inf"), "Input should be a finite number"),
        ("promotion.min_metrics", {"accuracy": float("-inf")}, "Input should be a finite number"),
        ("alerts.levels", {"warning": float("nan"), "alert": 0.2, "critical": 0.3}, "Input should be"),
        ("triggers.new_data.min_rows", 10**23, "number too large"),
        # Text a float field read as NaN or an infinity (it was stored, then skipped at every read):
        # refused as text now, before the number it would make.
        ("promotion.min_improvement", "nan", "must be a number, not 'nan'"),
        ("promotion.min_improvement", "9" * 400, "must be a number, not '999"),
        ("promotion.min_metrics", {"accuracy": "-inf"}, "each value must be a number, not '-inf'"),
    ],
)
def test_a_value_no_json_column_keeps_is_refused_naming_the_key(
    tmp_path: Path, key: str, value: object, message: str
) -> None:
    # NaN passed the section's model and reached PostgreSQL's json column (a 500); 10**23 was stored
    # and read back from SQLite as 1e23, which then failed every later change of any key.
    with pytest.raises(BadInputError, match=f"^thresholds key {key}: {message}") as err:
        set_value(make_project_settings(tmp_path), key, value)
    assert err.value.details == {"key": key}


def test_the_largest_storable_integer_is_kept(tmp_path: Path) -> None:
    out = set_value(make_project_settings(tmp_path), "triggers.new_data.min_rows", 2**53 - 1)
    assert get_value(out, "triggers.new_data.min_rows") == 2**53 - 1


def test_a_huge_metric_name_is_refused_without_being_echoed_whole(tmp_path: Path) -> None:
    # The 422 body and the log line name the key and show the start of the name, not 100 000 chars.
    name = "f1_" + "x" * 100_000
    with pytest.raises(BadInputError, match=r"^thresholds key promotion\.min_metrics: ") as err:
        set_value(make_project_settings(tmp_path), "promotion.min_metrics", {name: 0.5})
    assert "'f1_xxxx" in err.value.message and len(err.value.message) < 600
    assert err.value.details == {"key": "promotion.min_metrics"}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        # Each was coerced and applied to the next decision: true as 1.0, "yes" and 1 as true, "12" as 12.
        ("promotion.min_improvement", True, "must be a number, not True"),
        ("promotion.min_improvement", "0.5", "must be a number, not '0.5'"),
        ("promotion.require_approval", "yes", "must be true or false, not 'yes'"),
        ("promotion.require_approval", 1, "must be true or false, not 1"),
        ("triggers.new_data.min_rows", "12", "must be a number, not '12'"),
        ("promotion.min_metrics", {"accuracy": True}, "each value must be a number, not True"),
        ("promotion.max_slice_regression", -0.5, "greater than or equal to 0"),
        ("promotion.min_metrics", {"accuracy": 2}, "accuracy 2 is outside the values a model can score"),
    ],
)
def test_a_value_of_another_json_type_is_refused_not_coerced(
    tmp_path: Path, key: str, value: object, message: str
) -> None:
    with pytest.raises(BadInputError, match=f"^thresholds key {key}: .*{message}") as err:
        set_value(make_project_settings(tmp_path), key, value)
    assert err.value.details == {"key": key}


def test_numbers_flags_and_nulls_of_the_right_type_are_taken(tmp_path: Path) -> None:
    settings = make_project_settings(tmp_path)
    for key, value in [
        ("promotion.min_improvement", 1),  # an integer for a float field is a number
        ("promotion.require_approval", True),
        ("promotion.significance", None),
        ("promotion.min_metrics", {"accuracy": 0.8}),
        ("triggers.new_data.min_rows", 12),
    ]:
        assert get_value(set_value(settings, key, value), key) == value
