"""The one function that moves the ``champion`` alias: :func:`move_champion`.

A retrain's promote stage, and the human actions promote, approve and rollback all come here, so
every move does the same things in the same order: ``champion`` (and ``previous``) in MLflow, the
decision row and the audit row, the hint to running servers (PostgreSQL NOTIFY), the version's
decision tags. It sits beside the registry adapter (it needs the metadata store as well), below the
pipeline and the control layer that call it.

Whoever checks the champion and then moves it holds the project's models lease
(:func:`acquire_models_lease`) in between: a person's promote, approve or rollback and a retrain's
promote stage exclude each other, across processes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evergreen.errors import LockHeldError, ModelsBusyError, RunStoppedError
from evergreen.project import Project
from evergreen.registry import MAX_TAG as MAX_TAG  # its home is the registry, which cuts
from evergreen.registry import TAG_PREFIX
from evergreen.store.audit import record_action
from evergreen.store.locks import LeaseLock, models_lock_name
from evergreen.store.notify import notify_champion_changed
from evergreen.store.runs import record_decision

LEASE_RETRY_SECONDS = 0.2  # how often a waiting caller tries the models lease again
# How long evergreen's own acts on the models (a retrain's promote, retention's deletion of a
# version) wait for the lease: a person's promote, approve or rollback is short.
AUTOMATED_WAIT_SECONDS = 60.0


def acquire_models_lease(
    project: Project, *, wait_seconds: float = 0.0, stop: threading.Event | None = None
) -> LeaseLock:
    """The project's models lease (``models:<project>``), acquired; the caller releases it.

    ``wait_seconds`` 0 (a person's action): :class:`LockHeldError` at once, the person looks again.
    More (a retrain about to promote): tried again until then, for a person's action is short; still
    held then, :class:`ModelsBusyError` (not ``LockHeldError``, which the scheduler reads as "another
    retrain runs": this run's own work would be dropped instead of retried).
    ``stop`` (the scheduler's SIGTERM flag) set while waiting: :class:`RunStoppedError` at once,
    instead of sitting out the wait (nothing has moved yet).
    """
    lock = LeaseLock(project.store, models_lock_name(project.settings.project))
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return lock.acquire()
        except LockHeldError as exc:
            if time.monotonic() >= deadline:
                if wait_seconds <= 0:
                    raise
                raise ModelsBusyError(
                    f"the models lease stayed held for {wait_seconds:g} s: {exc.message}", details=exc.details
                ) from None
            if stop is None:
                time.sleep(LEASE_RETRY_SECONDS)
            elif stop.wait(LEASE_RETRY_SECONDS):
                raise RunStoppedError(
                    "the process was asked to stop while the run waited for the models lease"
                ) from None


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
    reg.tag_version(version, {TAG_PREFIX + "decision": "promoted", TAG_PREFIX + "reason": reason})
    return ChampionMove(version, old)
