"""Fixtures for the data unit tests: settings built from a dict, files written into tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evergreen.config import Settings, settings_from_dict

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    """``make_settings(task="binary", target="y", **data_keys)`` → Settings rooted at tmp_path."""

    def build(task: str = "binary", target: str = "y", **data: Any) -> Settings:
        # "storage": {} avoids the shared default StorageConfig (paths resolved against the first root).
        raw = {"project": "p", "task": task, "data": {"target": target, **data}, "storage": {}}
        return settings_from_dict(raw, root=tmp_path, env={})

    return build
