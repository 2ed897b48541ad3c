"""Run-time thresholds: read the values in force, change or reset them (validated, persisted, audited)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evergreen.overrides import OVERRIDABLE, apply_overrides, check_key, get_value, set_value
from evergreen.project import Project
from evergreen.store.audit import record_action
from evergreen.store.overrides import load_overrides, replace_overrides


def get_thresholds(project: Project) -> dict[str, Any]:
    """``values``: every overridable key as in force (file + overrides); ``overrides``: the stored rows."""
    overrides = load_overrides(project.store)
    effective = apply_overrides(project.settings, overrides)
    return {"values": {k: get_value(effective, k) for k in OVERRIDABLE}, "overrides": overrides}


def set_thresholds(
    project: Project,
    values: Mapping[str, Any],
    reset: Sequence[str] = (),
    *,
    actor: str,
    reason: str | None = None,
) -> dict[str, Any]:
    """Set ``values`` and put ``reset`` keys back to the file's value, all or nothing; audited.

    Every change is validated against the result as a whole (file + kept overrides + new values),
    so a section's own cross-field checks (e.g. level order) hold. Returns :func:`get_thresholds`.
    """
    for key in reset:
        check_key(key)
    settings, store = project.settings, project.store
    existing = load_overrides(store)
    current = apply_overrides(settings, existing)
    candidate = settings
    for key, row in existing.items():
        if key not in reset and key not in values:
            candidate = set_value(candidate, key, row["value"])
    for key, value in values.items():
        candidate = set_value(candidate, key, value)
    changed = sorted(set(values) | set(reset))
    replace_overrides(store, remove=changed, values={k: get_value(candidate, k) for k in values}, actor=actor)
    record_action(
        store,
        actor=actor,
        action="thresholds_changed",
        target="settings:thresholds",
        reason=reason,
        before={k: get_value(current, k) for k in changed},
        after={k: get_value(candidate, k) for k in changed},
    )
    return get_thresholds(project)
