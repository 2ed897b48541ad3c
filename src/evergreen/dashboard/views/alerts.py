"""Alerts as the Alerts page shows them: the evidence (the numbers that raised it) made readable (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_ITEMS = 40


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def evidence(details: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """``details`` flattened to ``(dotted.key, text)`` pairs, two levels deep, at most MAX_ITEMS.

    Details that are not an object (a row edited by hand) are one row, ``details``."""
    if details is not None and not isinstance(details, Mapping):
        return [("details", _show(details))]
    out: list[tuple[str, str]] = []
    for key in sorted(details or {}):
        value = (details or {})[key]
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and depth < 1:
            out.extend(evidence(value, f"{name}.", depth + 1))
        else:
            out.append((name, _show(value)))
    return out[:MAX_ITEMS]
