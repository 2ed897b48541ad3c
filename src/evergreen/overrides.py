"""Run-time threshold overrides (``PUT /api/settings/thresholds``), persisted in ``settings_overrides``.

Only promotion, trigger and alert thresholds can be overridden; each value is validated by the same
pydantic model as ``evergreen.yaml``. :func:`apply_overrides` is called at the start of every retrain
and alert evaluation, so a change applies from the next decision without a restart.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, insert, select

from evergreen.config import Settings
from evergreen.errors import BadInputError
from evergreen.logs import get_logger
from evergreen.project import Project
from evergreen.store.audit import iso_utc, record_action
from evergreen.store.engine import Store, utcnow
from evergreen.store.tables import settings_overrides

log = get_logger(__name__)

OVERRIDABLE: tuple[str, ...] = (
    "promotion.min_metrics",
    "promotion.min_improvement",
    "promotion.significance",
    "promotion.max_slice_regression",
    "promotion.require_approval",
    "triggers.new_data.min_rows",
    "triggers.drift.share",
    "triggers.performance.min",
    "triggers.cooldown_minutes",
    "alerts.levels",
    "alerts.score_levels",
    "alerts.repeat_interval_minutes",
)


def _set(model: BaseModel, parts: list[str], value: Any) -> BaseModel:
    name = parts[0]
    if len(parts) == 1:
        # Re-validate the whole section: its own cross-field checks (e.g. level order) must hold.
        data = {k: getattr(model, k) for k in type(model).model_fields}
        data[name] = value
        return type(model).model_validate(data)
    return model.model_copy(update={name: _set(getattr(model, name), parts[1:], value)})


def get_value(settings: Settings, key: str) -> Any:
    node: Any = settings
    for part in key.split("."):
        node = getattr(node, part)
    if isinstance(node, BaseModel):
        return node.model_dump(mode="json")
    return list(node) if isinstance(node, tuple) else node


def set_value(settings: Settings, key: str, value: Any) -> Settings:
    """``settings`` with ``key`` set to ``value``; :class:`BadInputError` naming the key if invalid."""
    if key not in OVERRIDABLE:
        raise BadInputError(
            f"thresholds key {key}: cannot be changed at run time (allowed: {', '.join(OVERRIDABLE)})",
            details={"key": key},
        )
    try:
        out = _set(settings, key.split("."), value)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise BadInputError(f"thresholds key {key}: {err['msg']}", details={"key": key}) from None
    assert isinstance(out, Settings)
    return out


def load_overrides(store: Store) -> dict[str, dict[str, Any]]:
    t = settings_overrides
    with store.connect() as conn:
        rows = conn.execute(select(t).where(t.c.project == store.project).order_by(t.c.id)).mappings().all()
    return {
        r["key"]: {
            "value": r["value"],
            "actor": r["actor"],
            "updated_at": iso_utc(r["updated_at"]),
        }
        for r in rows
    }


def apply_overrides(settings: Settings, store: Store) -> Settings:
    """``settings`` with the stored overrides applied; one that no longer validates is skipped."""
    for key, row in load_overrides(store).items():
        try:
            settings = set_value(settings, key, row["value"])
        except BadInputError as exc:  # e.g. evergreen.yaml changed since: the file wins, loudly
            log.warning("override_ignored", key=key, error=exc.message)
    return settings


def thresholds(settings: Settings, store: Store) -> dict[str, Any]:
    """Effective values (file + overrides) and the overrides themselves."""
    effective = apply_overrides(settings, store)
    return {"values": {k: get_value(effective, k) for k in OVERRIDABLE}, "overrides": load_overrides(store)}


def update_thresholds(
    settings: Settings,
    store: Store,
    values: dict[str, Any],
    reset: list[str],
    *,
    actor: str,
    reason: str | None = None,
) -> dict[str, Any]:
    """Validate every change against the effective settings, then persist them all and audit."""
    current = apply_overrides(settings, store)
    for key in reset:
        if key not in OVERRIDABLE:
            raise BadInputError(f"thresholds key {key}: cannot be changed at run time", details={"key": key})
    candidate = settings
    existing = load_overrides(store)
    for key, row in existing.items():  # the result must validate as a whole: file + kept + new
        if key not in reset and key not in values:
            candidate = set_value(candidate, key, row["value"])
    for key, value in values.items():
        candidate = set_value(candidate, key, value)
    changed = sorted(set(values) | set(reset))
    before = {k: get_value(current, k) for k in changed}
    after = {k: get_value(candidate, k) for k in changed}
    t = settings_overrides
    now = utcnow()
    with store.begin() as conn:
        if changed:
            conn.execute(delete(t).where(t.c.project == store.project, t.c.key.in_(changed)))
        for key in values:
            conn.execute(
                insert(t).values(
                    project=store.project,
                    key=key,
                    value=get_value(candidate, key),
                    actor=actor,
                    updated_at=now,
                )
            )
    record_action(
        store,
        actor=actor,
        action="thresholds_changed",
        target="settings:thresholds",
        reason=reason,
        before=before,
        after=after,
    )
    return thresholds(settings, store)


def with_overrides(project: Project) -> Project:
    """The same project (same store, same MLflow client) with its overrides applied to the settings."""
    out = dataclasses.replace(project, settings=apply_overrides(project.settings, project.store))
    if "registry" in project.__dict__:  # keep the cached client: creating one is slow
        out.__dict__["registry"] = project.__dict__["registry"]
    return out
