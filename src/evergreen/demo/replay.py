"""The replay behind ``evergreen demo``: ten weeks of customers through a running ``evergreen serve``.

Weeks 1-2 are history: exported files land, are ingested (a broken export is quarantined) and the
first model is trained. From week 3 each week's customers are scored through ``POST /predict``,
their true outcome arrives through ``POST /feedback`` (the serving app turns it into a training
batch), then monitoring compares the week with the champion's reference, the alerts follow, and the
triggers decide whether to retrain. From week 6 behaviour changes: the drift and the drop in
performance raise alerts and trigger the retrain whose new champion the server swaps in while the
clients keep sending requests. Every step is the product's own code (``evergreen.control``, the
monitoring job, the alert service, the trigger check); only the pacing is the demo's.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from evergreen import control
from evergreen.alerts import raise_alerts
from evergreen.alerts.repository import get_alert
from evergreen.data.catalog import labelled_batches
from evergreen.data.landing import ingest_landing
from evergreen.demo.server import LocalServer
from evergreen.demo.traffic import Background, Traffic
from evergreen.errors import BadInputError, ConfigError, EvergreenError
from evergreen.examples import churn
from evergreen.monitoring.job import run_monitoring
from evergreen.monitoring.report import MonitoringReport
from evergreen.pipeline import RetrainOutcome
from evergreen.pipeline.refs import RunOrder
from evergreen.project import Project
from evergreen.serving.app import create_app
from evergreen.serving.feedback_batches import pending_feedback
from evergreen.store.engine import utcnow
from evergreen.triggers.check import evaluate_project, order_from

DRIFT_AT = 5  # week 6 (0-based index 5): behaviour changes
HISTORY = 2  # weeks that arrive as exported files before anything is served
DEFAULT_ROWS = 1500  # customers a week (`evergreen demo --rows`)
MIN_WINDOW_SECONDS = 4
Emit = Callable[[str], None]


def print_line(text: str) -> None:
    print(text, flush=True)


@dataclass
class DemoSummary:
    """What the replay did (the CLI prints it; tests read it)."""

    root: Path
    url: str | None = None
    predictions: int = 0
    feedback: int = 0
    requests: int = 0
    failed_requests: int = 0
    alerts: list[str] = field(default_factory=list)  # "level kind" of each alert opened
    retrains: list[tuple[str, str]] = field(default_factory=list)  # (trigger, status)
    swaps: list[tuple[str, str]] = field(default_factory=list)  # (from version, to version)


def _write(frame: pd.DataFrame, landing: Path, name: str, fmt: str) -> None:
    path = landing / f"{name}.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def client_records(frame: pd.DataFrame, target: str) -> list[dict[str, Any]]:
    """What a client sends to /predict: the customers without the outcome nor the e-mail address."""
    records: list[dict[str, Any]] = json.loads(
        frame.drop(columns=[target, "email"]).to_json(orient="records", date_format="iso")
    )
    return records


def outcome_text(o: RetrainOutcome) -> str:
    cand = o.candidate_metrics.get("f1_macro")
    champ = o.champion_metrics.get("f1_macro")
    parts = [f"{o.status}"]
    if o.candidate_version:
        parts.append(f"candidate v{o.candidate_version}" + (f" f1 {cand:.3f}" if cand is not None else ""))
    if o.champion_version and champ is not None:
        parts.append(f"vs champion v{o.champion_version} f1 {champ:.3f} on the same holdout")
    reason = o.reason
    if o.decision:
        failed = [c for c in o.decision["checks"] if not c["passed"]]
        reason = failed[0]["detail"] if failed else "all gates passed"
    return f"{', '.join(parts)} ({o.data_size or 0} rows, {o.dataset_version}): {reason}"


def report_text(r: MonitoringReport) -> str:
    if r.insufficient:
        return f"report {r.id}: {r.current_rows} rows, too few for a verdict"
    drifted = [c.column for c in r.data_drift.columns if c.drifted]
    share = r.data_drift_score or 0.0
    text = (
        f"report {r.id} vs champion v{r.model_version}: {share:.0%} of columns drifted"
        f" ({', '.join(drifted) or 'none'})"
    )
    if r.prediction_drift_detected:
        text += ", predictions drifted"
    p = r.performance
    if p.value is not None and p.baseline is not None:
        kind = "live" if p.source == "realised" else "estimated"
        text += f"; {kind} {p.metric} {p.value:.3f} vs {p.baseline:.3f} on its holdout: {p.verdict}"
    return text


class Replay:
    def __init__(self, project: Project, root: Path, emit: Emit) -> None:
        self.project, self.root, self.emit = project, root, emit
        self.settings = project.settings
        self.started = time.monotonic()
        self.watching_since = utcnow()
        self.summary = DemoSummary(root)
        self.week = 0
        self.seen_batch = 0
        self.traffic: Traffic | None = None
        self.window_seconds: int | None = None

    def event(self, kind: str, text: str) -> None:
        when = time.monotonic() - self.started
        self.emit(f"{when:6.1f}s  week {self.week:>2}  {kind:<9} {text}")

    # ---- history: files, first model ----------------------------------------------------------
    def history(self, rows: int) -> None:
        landing = self.settings.data.landing_dir
        if landing is None:
            raise ConfigError("data.landing: the demo replays files into a local directory, not a URL")
        landing.mkdir(parents=True, exist_ok=True)
        for i, fmt in zip(range(HISTORY), ("csv", "parquet"), strict=False):
            _write(churn.make_batch(i, rows, drifted=False), landing, f"customers-week{i + 1:02d}", fmt)
        _write(churn.bad_batch(HISTORY - 1), landing, f"customers-week{HISTORY:02d}-broken-export", "csv")
        self.week = HISTORY
        for r in ingest_landing(self.settings, self.project.store):
            name = Path(r.source).name
            accepted = f"{name}: {r.status}, {r.rows} rows (batch {r.batch_id})"
            self.event("ingest", f"quarantined {r.message}" if r.quarantined else accepted)
            self.seen_batch = max(self.seen_batch, r.batch_id or 0)
        first = self.retrain(
            RunOrder(trigger="manual", reason="first model, on the history", actor="demo"),
            as_of=churn.batch_end(HISTORY - 1),
            fired="manual",
        )
        # Nothing to serve without it: the server would wait its 60 s for a champion and say only that.
        if first.status == "rejected":  # the gates: too little data for a model that passes them
            raise BadInputError(
                f"--rows {rows}: too few customers a week for a first model that passes the promotion "
                f"gates (the default is {DEFAULT_ROWS}): {outcome_text(first)}"
            )
        if first.status != "promoted":  # failed (MLflow or the database away), abandoned
            raise EvergreenError(f"the demo's first model was not made: {outcome_text(first)}")
        self.alerts()

    def retrain(self, order: RunOrder, as_of: datetime, fired: str) -> RetrainOutcome:
        ticket = control.request_retrain(
            self.project,
            actor=order.actor or "system",
            reason=order.reason,
            trigger=order.trigger,
            force=order.force,
            as_of=as_of,  # the replayed week's end: the data window is in the stream's time
            wait=True,
        )
        outcome = ticket.outcome
        if outcome is None:  # only a queued request has none, and the demo's project has no scheduler
            raise EvergreenError(f"the demo's retrain did not run: {ticket.message}")
        self.summary.retrains.append((fired, outcome.status))
        self.event("retrain", f"({fired}) {outcome_text(outcome)}")
        return outcome

    # ---- one served week ------------------------------------------------------------------------
    def serve_week(self, index: int, rows: int) -> None:
        assert self.traffic is not None
        self.week = index + 1
        target = self.settings.data.target
        frame = churn.make_batch(index, rows, drifted=index >= DRIFT_AT)
        records = client_records(frame, target)
        window_start = utcnow()
        scored = self.traffic.predict(records)
        ok = [s for s in scored if s.prediction_id]
        versions = Counter(s.version for s in ok)
        churn_rate = sum(s.prediction == "yes" for s in ok) / max(len(ok), 1)
        self.summary.predictions += len(ok)
        served = ", ".join(f"v{v}: {n}" for v, n in sorted(versions.items()))
        self.event(
            "predict",
            f"{len(ok)} customers scored through POST /predict ({served}); "
            f"{churn_rate:.0%} predicted to churn",
        )
        labels = [(s.prediction_id, y) for s, y in zip(scored, frame[target], strict=True) if s.prediction_id]
        accepted = self.traffic.feedback(labels)
        self.summary.feedback += accepted
        actual = (frame[target] == "yes").mean()
        self.event(
            "feedback", f"{accepted} true outcomes through POST /feedback; {actual:.0%} actually churned"
        )
        self.feedback_batch()
        report = run_monitoring(self.project, *self.window(window_start))
        self.event("monitor", report_text(report))
        self.alerts()
        ev = evaluate_project(self.project, utcnow(), watching_since=self.watching_since)
        order = order_from(ev)
        if not isinstance(order, RunOrder):
            self.event("triggers", f"no retrain: {order.reason}")
            return
        fired = " + ".join(f.kind for f in ev.firings)
        self.event("triggers", f"fired ({fired}): {order.reason}")
        # The clients keep sending requests while the retrain runs and the server swaps models.
        with self.traffic.steady(records[:200]) as load:
            outcome = self.retrain(order, as_of=churn.batch_end(index), fired=fired)
            self.alerts()
            if outcome.status == "promoted" and outcome.candidate_version:
                load.wait_for(outcome.candidate_version)
        self.swap(outcome, load)

    def window(self, start: datetime) -> tuple[str, datetime]:
        """The monitoring window of a week that began at ``start``: its traffic and nothing else.

        Replayed weeks last seconds, so the window is in seconds, and the same length every week
        (set by the first one), since the alerts know a condition by its window: the report ends
        exactly that long after the week began. A week slower than that gets a longer window.
        """
        took = (utcnow() - start).total_seconds()
        if self.window_seconds is None:
            self.window_seconds = max(MIN_WINDOW_SECONDS, math.ceil(took * 1.5))
        if took > self.window_seconds:
            return f"{math.ceil(took)}s", utcnow()
        time.sleep(self.window_seconds - took)
        return f"{self.window_seconds}s", start + timedelta(seconds=self.window_seconds)

    def feedback_batch(self, timeout: float = 60.0) -> None:
        """Wait for the serving app's feedback assembler to turn the labels into a training batch."""
        deadline = time.monotonic() + timeout
        while pending_feedback(self.project.store):
            if time.monotonic() > deadline:
                raise EvergreenError("the serving app did not turn the feedback into a batch in time")
            time.sleep(0.2)
        with self.project.store.connect() as conn:
            new = [b for b in labelled_batches(conn, self.project.store.project) if b.id > self.seen_batch]
        if new:
            self.seen_batch = new[-1].id
            ids = ", ".join(str(b.id) for b in new)
            rows = sum(b.labelled_rows for b in new)
            self.event(
                "batch", f"the serving app turned the feedback into training batch {ids} ({rows} rows)"
            )

    def alerts(self) -> None:
        for change in raise_alerts(self.project):
            if change.change == "updated" and change.event is None:
                continue  # the same condition seen again: nothing new to say
            alert = get_alert(self.project.store, change.alert_id)
            if change.change == "opened":
                self.summary.alerts.append(f"{change.level} {alert['kind']}")
            self.event("alert", f"{change.change} #{change.alert_id} [{change.level}] {alert['title']}")

    def swap(self, outcome: RetrainOutcome, load: Background) -> None:
        """What the clients saw while the retrain ran: which versions answered, how many failed."""
        versions = load.versions()
        self.summary.predictions += sum(versions.values())
        failed = sum(1 for a in load.answers if a.prediction_id is None)
        served = ", ".join(f"v{v}: {n}" for v, n in sorted(versions.items()))
        new, old = outcome.candidate_version, outcome.champion_version
        if outcome.status != "promoted" or not new:
            self.event(
                "load", f"{len(load.answers)} predictions during the retrain ({served}), {failed} failed"
            )
        elif versions.get(new):
            self.summary.swaps.append((old or "-", new))
            self.event(
                "swap",
                f"champion v{old} -> v{new} hot-swapped under load: {len(load.answers)} predictions "
                f"during the retrain and swap ({served}), {failed} failed",
            )
        else:
            self.event("swap", f"the server did not answer from v{new} in time ({failed} failed)")

    # ---- the whole run ---------------------------------------------------------------------------
    def run(self, batches: int, rows: int, *, keep_serving: bool, token: str | None) -> DemoSummary:
        s = self.settings
        self.emit(f"evergreen demo: project {s.project} in {self.root}")
        self.emit(
            f"{batches} weeks of {rows} customers: weeks 1-{HISTORY} are history, then each week is served; "
            f"behaviour changes from week {DRIFT_AT + 1}."
        )
        self.history(rows)
        server = LocalServer(create_app(s, self.project)).start()
        self.summary.url = server.url
        self.traffic = Traffic(server.url)
        try:
            self.week = HISTORY
            self.event("serve", f"evergreen serve on {server.url} (uvicorn in this process): champion loaded")
            for index in range(HISTORY, batches):
                self.serve_week(index, rows)
            self.summary.requests, self.summary.failed_requests = self.traffic.requests, self.traffic.failed
            self._finish(server.url, keep_serving, token)
            if keep_serving:
                _wait_for_interrupt()
        finally:
            self.traffic.close()
            server.stop()
        return self.summary

    def _finish(self, url: str, keep_serving: bool, token: str | None) -> None:
        m, s = self.summary, self.settings
        champion = self.project.registry.version_by_alias("champion")
        retrains = ", ".join(f"{t}: {st}" for t, st in m.retrains)
        self.emit("")
        self.emit(
            f"predictions: {m.predictions} through POST /predict, "
            f"{m.feedback} outcomes through POST /feedback"
        )
        self.emit(f"requests:    {m.requests}, failed: {m.failed_requests}")
        for err in self.traffic.errors if self.traffic else []:
            self.emit(f"  failed request: {err}")
        self.emit(f"alerts:      {', '.join(m.alerts) or 'none'}")
        self.emit(f"retrains:    {retrains}")
        self.emit(f"swaps:       {', '.join(f'v{a} -> v{b}' for a, b in m.swaps) or 'none'}")
        self.emit(f"champion:    {s.project}@champion = v{champion}")
        self.emit(f"project:     {self.root}")
        self.emit(f"MLflow UI:   mlflow ui --backend-store-uri {s.storage.mlflow_tracking_uri}")
        self.emit(
            f"try:         evergreen status --config {self.root}   |   evergreen runs --config {self.root}"
        )
        if keep_serving:
            self.emit(f"dashboard:   {url}/")
            if token:
                self.emit(f"log in with the demo's admin token: {token}")
            self.emit("serving until Ctrl-C")
        else:
            self.emit("server stopped (--no-serve)")


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
