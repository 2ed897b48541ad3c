"""Run-time thresholds: read the values in force, change or reset them (validated, persisted, audited)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evergreen.errors import LockHeldError
from evergreen.overrides import (
    OVERRIDABLE,
    apply_overrides,
    check_key,
    get_value,
    resolve_overrides,
    set_value,
    stored_overrides,
)
from evergreen.project import Project
from evergreen.store.audit import record_action
from evergreen.store.locks import LeaseLock, settings_lock_name
from evergreen.store.overrides import load_overrides, replace_overrides


def get_thresholds(project: Project) -> dict[str, Any]:
    """``values``: every overridable key as in force (file + overrides); ``overrides``: the stored rows."""
    effective, overrides = stored_overrides(project)
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
    so a section's own cross-field checks (e.g. level order) hold. A kept override that no longer
    validates (``evergreen.yaml`` changed since) is skipped, as :func:`apply_overrides` skips it,
    instead of failing every change of another key. Keys whose override would not change (the same
    value again, a reset of a key without one) are left alone: nothing changed, nothing audited.
    Returns :func:`get_thresholds`.
    """
    for key in reset:
        check_key(key)
    # Read, compare and write one change at a time: four PUTs at once each recorded the value
    # before all of them as their "before", and one recorded a change it had not made.
    try:
        lock = LeaseLock(project.store, settings_lock_name(project.settings.project)).acquire()
    except LockHeldError as exc:
        raise LockHeldError(
            "another change of the thresholds is in progress: look at them again when it is done",
            details=exc.details,
        ) from None
    try:
        return _set_thresholds(project, values, reset, actor=actor, reason=reason)
    finally:
        lock.release()


def _set_thresholds(
    project: Project,
    values: Mapping[str, Any],
    reset: Sequence[str],
    *,
    actor: str,
    reason: str | None,
) -> dict[str, Any]:
    settings, store = project.settings, project.store
    existing = load_overrides(store)
    current = apply_overrides(settings, existing)
    kept = {k: row for k, row in existing.items() if k not in reset and k not in values}
    candidate, _ = resolve_overrides(settings, kept)  # the ignored ones are not in force now either
    for key, value in values.items():
        candidate = set_value(candidate, key, value)
    new_values = {k: get_value(candidate, k) for k in values}
    changed = sorted(
        {k for k, v in new_values.items() if k not in existing or existing[k]["value"] != v}
        | {k for k in reset if k in existing and k not in values}
    )
    if not changed:
        return get_thresholds(project)
    replace_overrides(
        store,
        remove=changed,
        values={k: v for k, v in new_values.items() if k in changed},
        actor=actor,
    )
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
