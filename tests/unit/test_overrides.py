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
    ],
)
def test_a_bad_override_names_its_key(tmp_path: Path, key: str, value: object, message: str) -> None:
    with pytest.raises(BadInputError, match=message) as err:
        set_value(make_project_settings(tmp_path), key, value)
    assert err.value.details == {"key": key}
