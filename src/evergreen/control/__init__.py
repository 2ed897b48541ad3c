"""Every human action, once: the CLI, the control API and the dashboard call these and nothing else.

- models (:mod:`.models`): :func:`promote`, :func:`rollback`, :func:`approve`, :func:`reject`
- retrain (:mod:`.retrain`): :func:`request_retrain` (queue for the scheduler, or run)
- alerts (:mod:`.alerts`): :func:`acknowledge_alert`, :func:`resolve_alert`, :func:`note_alert`,
  :func:`after_action`
- thresholds (:mod:`.thresholds`): :func:`get_thresholds`, :func:`set_thresholds`
- state (:mod:`.state`): :func:`status`

Every action is audited; those that change the models let the alerts follow (:func:`after_action`).
Names are resolved on first use, so ``from evergreen.control import status`` does not import the
retrain pipeline (scikit-learn, pandas) that :func:`request_retrain` needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evergreen.control.alerts import acknowledge_alert, after_action, note_alert, resolve_alert
    from evergreen.control.models import ActionResult, approve, promote, reject, rescore, rollback
    from evergreen.control.retrain import RetrainTicket, check_trigger, request_retrain
    from evergreen.control.state import status
    from evergreen.control.thresholds import get_thresholds, set_thresholds

_WHERE = {
    "acknowledge_alert": "alerts",
    "after_action": "alerts",
    "resolve_alert": "alerts",
    "note_alert": "alerts",
    "ActionResult": "models",
    "approve": "models",
    "promote": "models",
    "reject": "models",
    "rescore": "models",
    "rollback": "models",
    "RetrainTicket": "retrain",
    "check_trigger": "retrain",
    "request_retrain": "retrain",
    "status": "state",
    "get_thresholds": "thresholds",
    "set_thresholds": "thresholds",
}
__all__ = [
    "ActionResult",
    "RetrainTicket",
    "acknowledge_alert",
    "after_action",
    "approve",
    "check_trigger",
    "get_thresholds",
    "note_alert",
    "promote",
    "reject",
    "request_retrain",
    "rescore",
    "resolve_alert",
    "rollback",
    "set_thresholds",
    "status",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
