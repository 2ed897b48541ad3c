"""The alert entry point: facts → rules → lifecycle rows → deliveries (queued, off this path).

``AlertService(project).raise_alerts(facts)`` is what the scheduler or a pipeline calls after a
monitoring pass or a run; ``evaluate()`` gathers every fact from the store first. Neither raises
because a channel is down: delivery happens on the dispatcher's thread.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from evergreen.alerts import repository as repo
from evergreen.alerts.channels import Channel, build_channels
from evergreen.alerts.dispatch import Dispatcher, RetryPolicy
from evergreen.alerts.facts import Facts
from evergreen.alerts.lifecycle import ACKNOWLEDGED, RESOLVED, ExistingAlert, can_transition, send_event
from evergreen.alerts.messages import AlertMessage
from evergreen.alerts.rules import AlertCandidate, RuleConfig, evaluate, leaving
from evergreen.config import Settings
from evergreen.errors import ConflictError
from evergreen.logs import get_logger
from evergreen.project import Project
from evergreen.store.audit import record_action
from evergreen.store.engine import utcnow

log = get_logger("evergreen.alerts")
SYSTEM = "system"


@dataclass(frozen=True)
class AlertChange:
    alert_id: int
    fingerprint: str
    change: str  # opened | updated | resolved
    event: str | None  # what was sent (None: nothing)
    level: str


# Addresses a server binds to but nobody can open in a browser: "every interface".
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})


def dashboard_url(s: Settings) -> str:
    """The base of every alert's dashboard link: alerts.dashboard_url, else where the server listens.

    A wildcard bind (0.0.0.0, ::) is not an address a reader can open, so the link names this
    machine instead (its host name, no DNS lookup on the alert path); an IPv6 literal is bracketed,
    or ``http://::1:8000`` would read "::1:8000" as the host.
    """
    if s.alerts.dashboard_url:
        return s.alerts.dashboard_url
    host = s.serving.host
    if host in _WILDCARD_HOSTS:
        host = socket.gethostname()
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{s.serving.port}"


def _changed_meanwhile(alert_id: int, target: str) -> ConflictError:
    # Another process (the CLI beside a server, a second replica) acted on it between our read and
    # our write: its action stands, ours is refused as if it had come second.
    return ConflictError(
        f"alert {alert_id} changed meanwhile: it cannot be {target}", details={"alert_id": alert_id}
    )


class AlertService:
    def __init__(self, project: Project, dispatcher: Dispatcher | None = None) -> None:
        self.project = project
        self.store = project.store
        a = project.settings.alerts
        self.channels: tuple[Channel, ...] = build_channels(a.channels)
        self.dispatcher = dispatcher or Dispatcher(
            self._record, RetryPolicy(a.retry_count, a.retry_backoff_seconds, a.retry_backoff_max_seconds)
        )
        self._lock = threading.Lock()  # one evaluation at a time per service: no duplicate alerts
        # Alerts submitted by this process whose first delivery is not recorded yet (id → level): not
        # submitted twice meanwhile. In memory on purpose: after a crash the next process sends them.
        self._inflight: dict[int, str] = {}
        self._lock_inflight = threading.Lock()  # the dispatcher's thread clears entries

    def settings(self) -> Settings:
        # Alert levels changed at run time (PUT /api/settings/thresholds) apply from the next evaluation.
        from evergreen.overrides import effective_settings

        return effective_settings(self.project)

    # ---- evaluation --------------------------------------------------------------------------
    def evaluate(self, now: datetime | None = None) -> list[AlertChange]:
        return self.raise_alerts(repo.gather_facts(self.store), now)

    def raise_alerts(self, facts: Facts, now: datetime | None = None) -> list[AlertChange]:
        s = self.settings()
        result = evaluate(facts, RuleConfig.from_settings(s))
        now = now or utcnow()
        repeat = timedelta(minutes=s.alerts.repeat_interval_minutes)
        changes: list[AlertChange] = []
        with self._lock:
            live = repo.live_alerts(self.store)
            for cand in result.active:
                changes.append(self._upsert(live.get(cand.fingerprint), cand, now, repeat, s))
            active = {c.fingerprint for c in result.active}
            for fp, existing in live.items():
                if fp in active:
                    continue
                if fp in result.cleared or existing.kind in result.cleared_kinds:
                    changes.append(self._resolve(existing, SYSTEM, "cause cleared", now, s))
        return changes

    def _upsert(
        self,
        existing: ExistingAlert | None,
        cand: AlertCandidate,
        now: datetime,
        repeat: timedelta,
        s: Settings,
    ) -> AlertChange:
        event = send_event(existing, cand, now, repeat)
        if existing is None:
            new_id = repo.insert_alert(self.store, cand, now)
            if new_id is None:  # another process opened it this instant: its row, its message
                return self._lost_race(cand, now)
            alert_id = new_id
            record_action(
                self.store,
                actor=SYSTEM,
                action="alert_opened",
                target=f"alert:{alert_id}",
                reason=cand.title,
                after={"level": cand.level, "fingerprint": cand.fingerprint},
            )
        else:
            alert_id = existing.id
            repo.update_alert(self.store, existing, cand, now)
            if event == "escalated":
                record_action(
                    self.store,
                    actor=SYSTEM,
                    action="alert_escalated",
                    target=f"alert:{alert_id}",
                    reason=cand.title,
                    before={"level": existing.level},
                    after={"level": cand.level},
                )
        if event in ("opened", "escalated") and self._inflight.get(alert_id) == cand.level:
            event = None  # this process's message for it is queued and not delivered yet
        if event is not None:
            self._send(alert_id, event, cand.level, s)
        return AlertChange(
            alert_id, cand.fingerprint, "opened" if existing is None else "updated", event, cand.level
        )

    def _lost_race(self, cand: AlertCandidate, now: datetime) -> AlertChange:
        winner = repo.live_alerts(self.store).get(cand.fingerprint)
        if winner is None:  # opened and resolved again in between: nothing left to update
            return AlertChange(0, cand.fingerprint, "updated", None, cand.level)
        repo.update_alert(self.store, winner, cand, now)
        return AlertChange(winner.id, cand.fingerprint, "updated", None, cand.level)

    def _resolve(
        self,
        existing: ExistingAlert,
        actor: str,
        reason: str,
        now: datetime,
        s: Settings,
        *,
        by_hand: bool = False,
    ) -> AlertChange:
        # By hand: only from the status the person saw (the system resolves whatever it is now).
        only_from = existing.status if by_hand else None
        if (
            not repo.set_status(self.store, existing.id, RESOLVED, actor, now, only_from=only_from)
            and by_hand
        ):
            raise _changed_meanwhile(existing.id, RESOLVED)
        record_action(
            self.store,
            actor=actor,
            action="alert_resolved",
            target=f"alert:{existing.id}",
            reason=reason,
            before={"status": existing.status},
            after={"status": RESOLVED},
        )
        # The resolution goes to the channels that heard of the alert (at its highest sent level).
        self._send(existing.id, "resolved", existing.sent_level, s)
        return AlertChange(existing.id, existing.fingerprint, "resolved", "resolved", existing.level)

    def _send(self, alert_id: int, event: str, level: str | None, s: Settings) -> None:
        row = repo.get_alert(self.store, alert_id)
        msg = AlertMessage(
            project=s.project,
            event=event,
            alert_id=alert_id,
            fingerprint=row["fingerprint"],
            kind=row["kind"],
            level=row["level"],
            status=row["status"],
            title=row["title"],
            opened_at=row["opened_at"],
            updated_at=row["updated_at"],
            dashboard_url=dashboard_url(s),
            details=row["details"] or {},
        )
        # What leaves the process passes the PII scrub and the project's redactor (rules.leaving).
        title, details = leaving(msg.title, msg.details, self.project.redactor)
        msg = replace(msg, title=title, details=details)
        # Not marked sent here: the delivery record marks it (_record), so a process that dies before
        # the dispatcher's first attempt leaves the alert unsent and the next evaluation sends it.
        if event != "resolved" and level is not None:
            with self._lock_inflight:
                self._inflight[alert_id] = level
        for channel in self.channels:
            if channel.accepts(level):
                self.dispatcher.submit(msg, channel)

    def _record(
        self, msg: AlertMessage, channel: Channel, attempt: int, status: str, error: str | None
    ) -> None:
        if attempt == 1 and msg.event != "resolved" and self._marks_sent(channel, msg.level):
            # The first attempt on a real channel (or on the log when it is the only one) is the
            # delivery record that makes the alert "sent"; retries from here are the dispatcher's.
            # At the evaluation's time (the row's updated_at), which the repeat interval counts from.
            try:
                repo.mark_sent(self.store, msg.alert_id, msg.level, datetime.fromisoformat(msg.updated_at))
            finally:
                # No longer in flight, marked or not: when the mark failed (the database is what is
                # down), the alert is still unsent and the next evaluation sends it again.
                with self._lock_inflight:
                    self._inflight.pop(msg.alert_id, None)
        repo.record_delivery(
            self.store,
            alert_id=msg.alert_id,
            channel=channel.name,
            channel_type=channel.type,
            event=msg.event,
            level=msg.level,
            attempt=attempt,
            status=status,
            error=error,
        )

    def _marks_sent(self, channel: Channel, level: str) -> bool:
        if channel.type != "log":
            return True
        return not any(c.type != "log" and c.accepts(level) for c in self.channels)

    # ---- by hand -----------------------------------------------------------------------------
    def acknowledge(self, alert_id: int, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        return self._transition(alert_id, ACKNOWLEDGED, actor, reason)

    def resolve(self, alert_id: int, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        return self._transition(alert_id, RESOLVED, actor, reason)

    def _transition(self, alert_id: int, target: str, actor: str, reason: str | None) -> dict[str, Any]:
        with self._lock:
            row = repo.get_alert(self.store, alert_id)
            if not can_transition(row["status"], target):
                raise ConflictError(
                    f"alert {alert_id} is {row['status']}: it cannot be {target}",
                    details={"status": row["status"]},
                )
            now = utcnow()
            if target == RESOLVED:
                self._resolve(
                    repo.existing(row),
                    actor,
                    reason or "resolved by hand",
                    now,
                    self.settings(),
                    by_hand=True,
                )
            else:
                if not repo.set_status(self.store, alert_id, target, actor, now, only_from=row["status"]):
                    raise _changed_meanwhile(alert_id, target)
                record_action(
                    self.store,
                    actor=actor,
                    action="alert_acknowledged",
                    target=f"alert:{alert_id}",
                    reason=reason,
                    before={"status": row["status"]},
                    after={"status": target},
                )
            return repo.get_alert(self.store, alert_id)

    def flush(self, timeout: float | None = 30.0) -> bool:
        return self.dispatcher.flush(timeout)

    def close(self, timeout: float | None = 10.0) -> bool:
        """Give queued deliveries a bounded chance to go out (a short-lived process is about to exit)."""
        done = self.dispatcher.close(timeout)
        if not done:
            log.warning(
                "alert_deliveries_dropped",
                project=self.project.settings.project,
                pending=self.dispatcher.pending,
            )
        return done
