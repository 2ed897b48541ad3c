"""The settings in force: ``evergreen.yaml`` + environment + run-time threshold overrides.

Only promotion, trigger and alert thresholds can be overridden (``PUT /api/settings/thresholds``);
each value is validated by the same pydantic model as ``evergreen.yaml``. The rows live in
``settings_overrides`` (:mod:`evergreen.store.overrides`). :func:`effective_settings` is the one
function every decision reads through (the runner, the orchestrator stages, the scheduler's trigger
evaluation, approve, the alert service), at the moment it decides, so a change applies from the
next decision without a restart.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from evergreen.config import Settings, metrics_problem
from evergreen.errors import SHOWN_CHARS, BadInputError, shown
from evergreen.logs import get_logger
from evergreen.project import Project
from evergreen.store.overrides import load_overrides

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


_DOTTED_NAME = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+){0,9}")


def check_key(key: str, allowed: Sequence[str] = OVERRIDABLE) -> None:
    """:class:`BadInputError` naming ``key`` unless it may be changed at run time (is in ``allowed``)."""
    if key not in allowed:
        # The writer's text (a form field's name): a short dotted name as it is, anything else quoted
        # back and cut (a 5000-character dotted name came back whole).
        named = key if len(key) <= SHOWN_CHARS and _DOTTED_NAME.fullmatch(key) else shown(key)
        raise BadInputError(
            f"thresholds key {named}: cannot be changed at run time (allowed: {', '.join(allowed)})",
            details={"key": key[:SHOWN_CHARS]},
        )


# Larger integers do not survive every JSON column (SQLite reads 1e23 back as a float, which the
# key's model then refuses): the interoperable range of RFC 7493 (I-JSON).
MAX_JSON_INT = 2**53 - 1


def _unstorable(value: Any) -> str | None:
    """Why ``value`` cannot be kept as a threshold in a JSON column (None: it can).

    NaN and the infinities are not JSON (PostgreSQL refuses them: a 500 instead of a 422). The
    settings' float fields refuse them already (``allow_inf_nan=False``); this stays as the store's
    own guard, for any value a later field type lets through, anywhere inside the value.
    """
    stack = [value]
    while stack:  # iterative: a deeply nested value must not overflow the interpreter's stack
        v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            return "must be a finite number (not NaN or an infinity)"
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_JSON_INT:
            return f"number too large (at most {MAX_JSON_INT} in absolute value)"
        if isinstance(v, Mapping):
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            stack.extend(v)
    return None


def get_value(settings: Settings, key: str) -> Any:
    node: Any = settings
    for part in key.split("."):
        node = getattr(node, part)
    if isinstance(node, BaseModel):
        return node.model_dump(mode="json")
    return list(node) if isinstance(node, tuple) else node


def _plain(annotation: Any) -> Any:
    """``annotation`` without ``Annotated[...]`` and ``| None``."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        annotation = _plain(rest[0]) if len(rest) == 1 else annotation
    return annotation


def _declared(key: str) -> Any:
    """The type ``key`` is declared with in :class:`Settings` (None when it cannot say)."""
    model: Any = Settings
    annotation: Any = None
    for part in key.split("."):
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        annotation = _plain(model.model_fields[part].annotation)
        model = annotation
    return annotation


def _wants(annotation: Any) -> str | None:
    if annotation is bool:
        return "true or false"
    if annotation in (int, float):
        return "a number"
    return None


def _is(kind: str, value: Any) -> bool:
    if kind == "true or false":
        return isinstance(value, bool)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_problem(key: str, value: Any) -> str | None:
    """The settings' models read JSON laxly: ``true`` became 1.0 for a number, ``"yes"`` or ``1``
    true for a flag, ``"12"`` the number 12. A key declared a number or a flag (or a mapping of
    numbers, such as ``min_metrics``) takes a JSON number or true/false, or null where allowed."""
    declared = _declared(key)
    if get_origin(declared) is dict and isinstance(value, Mapping):
        kind = _wants(_plain(get_args(declared)[1]))
        bad = [v for v in value.values() if kind is not None and v is not None and not _is(kind, v)]
        return None if not bad or kind is None else f"each value must be {kind}, not {shown(bad[0])}"
    kind = _wants(declared)
    if kind is not None and value is not None and not _is(kind, value):
        return f"must be {kind}, not {shown(value)}"
    return None


def set_value(settings: Settings, key: str, value: Any) -> Settings:
    """``settings`` with ``key`` set to ``value``; :class:`BadInputError` naming the key if invalid."""
    check_key(key)
    problem = _type_problem(key, value)
    if problem is not None:
        raise BadInputError(f"thresholds key {key}: {problem}", details={"key": key})
    try:
        out = _set(settings, key.split("."), value)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise BadInputError(f"thresholds key {key}: {err['msg']}", details={"key": key}) from None
    assert isinstance(out, Settings)
    # Checked as validated, which is what is stored (a guard behind the fields' own refusal of
    # "nan", "inf", "1e999" and NaN sent as a number).
    problem = _unstorable(get_value(out, key))
    if problem is not None:
        raise BadInputError(f"thresholds key {key}: {problem}", details={"key": key})
    # The section alone checked the names; whether they are metrics of this project's task is the
    # whole settings' check, which a section copy does not run.
    problem = metrics_problem(out)
    if problem is not None:
        raise BadInputError(f"thresholds key {key}: {problem}", details={"key": key})
    return out


def resolve_overrides(
    settings: Settings, overrides: Mapping[str, Mapping[str, Any]]
) -> tuple[Settings, dict[str, str]]:
    """(``settings`` with the valid ``overrides`` applied, key → why each other one is ignored)."""
    ignored = {}
    for key, row in overrides.items():
        try:
            settings = set_value(settings, key, row["value"])
        except BadInputError as exc:  # e.g. evergreen.yaml changed since: the file wins
            ignored[key] = exc.message
    return settings, ignored


def apply_overrides(settings: Settings, overrides: Mapping[str, Mapping[str, Any]]) -> Settings:
    """``settings`` with ``overrides`` (key → row with ``value``) applied; an invalid one is skipped
    with a warning."""
    settings, ignored = resolve_overrides(settings, overrides)
    for key, why in ignored.items():
        log.warning("override_ignored", key=key, error=why)
    return settings


def effective_settings(project: Project) -> Settings:
    """The settings in force now: the project's (file + environment) with the stored overrides."""
    return apply_overrides(project.settings, load_overrides(project.store))


def stored_overrides(project: Project) -> tuple[Settings, dict[str, dict[str, Any]]]:
    """(the settings in force, the stored override rows), each row with ``ignored``: why it is not in
    force (``evergreen.yaml`` changed since and the value no longer validates), else None."""
    rows = load_overrides(project.store)
    effective, ignored = resolve_overrides(project.settings, rows)
    return effective, {k: {**row, "ignored": ignored.get(k)} for k, row in rows.items()}


def with_overrides(project: Project) -> Project:
    """The same project (same store, same MLflow client) with :func:`effective_settings`."""
    out = dataclasses.replace(project, settings=effective_settings(project))
    for cached in ("registry", "registry_reader"):  # keep the cached clients: creating one is slow
        if cached in project.__dict__:
            out.__dict__[cached] = project.__dict__[cached]
    # One owner: services made through the copy (the alert service) are closed with the project.
    out._services, out._guard = project._services, project._guard
    return out
