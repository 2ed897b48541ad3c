"""The one function that moves the ``champion`` alias: :func:`move_champion`.

A retrain's promote stage, and the human actions promote, approve and rollback all come here, so
every move does the same things in the same order: ``champion`` (and ``previous``) in MLflow, the
decision row and the audit row, the hint to running servers (PostgreSQL NOTIFY), the version's
decision tags. It sits beside the registry adapter (it needs the metadata store as well), below the
pipeline and the control layer that call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evergreen.project import Project
from evergreen.registry import TAG_PREFIX
from evergreen.store.audit import record_action
from evergreen.store.notify import notify_champion_changed
from evergreen.store.runs import record_decision

MAX_TAG = 5000  # MLflow's limit on a tag value


@dataclass(frozen=True)
class ChampionMove:
    version: str
    previous: str | None  # the champion before the move (now ``previous``), None for the first one

    @property
    def message(self) -> str:
        if self.previous:
            return f"champion is now v{self.version} (was v{self.previous})"
        return f"champion is now v{self.version}"


def move_champion(
    project: Project,
    version: str,
    *,
    actor: str,
    action: str,
    reason: str,
    run_id: str | None = None,
    record_decision_row: bool = True,
    decision_values: Mapping[str, Any] | None = None,
) -> ChampionMove:
    """Make ``version`` the champion; tag, notify, record and audit the move.

    ``record_decision_row``: False when the caller already recorded the full decision (a retrain
    records the policy's decision with both models' metrics before it promotes).
    ``decision_values``: more columns of the decision row (metrics, deltas, checks), e.g. the numbers
    an automatic rollback was decided on.
    """
    reg = project.registry
    old = reg.set_champion(version)
    if record_decision_row:
        record_decision(
            project.store,
            run_id,
            actor=actor,
            outcome=action,
            candidate_version=version,
            champion_version=old,
            justification=f"{action} by {actor}: {reason}",
            **dict(decision_values or {}),
        )
    record_action(
        project.store,
        actor=actor,
        action=action,
        target=f"version:{version}",
        reason=reason,
        before={"champion": old},
        after={"champion": version, "previous": old},
    )
    # Running servers swap now instead of at their next poll. Sent once the move is recorded: a
    # replica that hears it and swaps at once (a warm version takes milliseconds) must find the
    # audit row that opens the watch, or it would not keep the replaced champion as its shadow.
    notify_champion_changed(project.store, version)
    reg.tag_version(version, {TAG_PREFIX + "decision": "promoted", TAG_PREFIX + "reason": reason[:MAX_TAG]})
    return ChampionMove(version, old)
