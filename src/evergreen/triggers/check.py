"""An orchestrator's trigger gate: after ingest, does any trigger fire (manual, performance, drift,
new data)? If so, the run order for the retrain's stages; if not, why not.

The orchestrator owns the cron, so ``triggers.schedule`` is not evaluated here. Thresholds are the
ones in force (file + run-time overrides), read at the moment of the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from evergreen.overrides import effective_settings
from evergreen.pipeline.refs import RunOrder
from evergreen.pipeline.tasks import open_config
from evergreen.project import Project
from evergreen.store.engine import utcnow
from evergreen.triggers.evaluate import Evaluation, evaluate
from evergreen.triggers.execute import retrain_request
from evergreen.triggers.state import gather_state


@dataclass(frozen=True)
class NoTrigger:
    """Nothing fires now: the run is skipped before it opens."""

    kind: ClassVar[str] = "no_trigger"
    reason: str
    suppressed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "reason": self.reason, "suppressed": list(self.suppressed)}


def check(config_path: str, now: datetime | None = None) -> RunOrder | NoTrigger:
    at = now or utcnow()
    with open_config(config_path) as project:
        return order_from(evaluate_project(project, at))


def evaluate_project(project: Project, at: datetime, watching_since: datetime | None = None) -> Evaluation:
    """The triggers of an open project at ``at``, with the thresholds in force; the cron schedule is
    left to whoever drives the loop (an orchestrator; ``evergreen demo``, which replays weeks)."""
    cfg = effective_settings(project).triggers.model_copy(update={"schedule": None})
    return evaluate(gather_state(project, watching_since or at), cfg, at)


def order_from(ev: Evaluation) -> RunOrder | NoTrigger:
    """One run order for what fired, or why nothing runs."""
    if not ev.firings:
        why = "cooldown until " + ev.cooldown_until.isoformat() if ev.suppressed and ev.cooldown_until else ""
        return NoTrigger(why or "no trigger fired", tuple(f.kind for f in ev.suppressed))
    req = retrain_request(ev.firings)
    return RunOrder(
        trigger=req.trigger,
        reason=req.reason,
        actor=req.actor,
        force=req.force,
        request_ids=tuple(f.request_id for f in ev.firings if f.request_id),
    )


def check_triggers(config_path: str, now: datetime | None = None) -> dict[str, Any]:
    """:func:`check` as a dict: a run order (``kind`` "order") or ``kind`` "no_trigger"."""
    return check(config_path, now).to_dict()


def fires(checked: dict[str, Any]) -> bool:
    return checked.get("kind") == RunOrder.kind
