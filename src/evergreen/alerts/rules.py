"""Pure alert rules: facts in, the alerts that should be open (and the causes that cleared) out.

Levels: ``info`` < ``warning`` < ``alert`` < ``critical``. Drift scores are compared with
``alerts.levels`` (or ``alerts.score_levels``) *at or above* each threshold; the highest one reached
is the alert's level. Performance is judged by :func:`evergreen.evaluation.bands.judge_performance`
(the rule the report and the retrain trigger use: a drop or a floor breach whose whole sampling-error
band is on the worse side); it is an ``alert`` when measured on labelled rows and a ``warning`` when
only estimated (CBPE / DLE), since an estimate can be wrong. Levels configured on
``performance_drift_score`` grade a degraded window only: a drop the band rule calls noise raises
nothing. A report without a verdict (too few rows) neither raises nor clears anything.

Multivariate drift (the domain classifier's ROC AUC above ``monitoring.multivariate_threshold``) is
a ``warning`` of its own: the inputs changed how they move together, which no column test and so no
share-based level sees. It neither fires the drift trigger nor pages: someone should look.

Invalid inputs (values the contract refuses, or text where a number belongs, in at least
:data:`INVALID_INPUTS_SHARE` of a window's rows in some column) are a ``warning`` too: monitoring
reads them as missing so that a client's bug is not called drift and fires no retrain, but a person
must hear that the model is being sent values it was never trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from evergreen.alerts.facts import DriftFact, Facts, PerformanceFact
from evergreen.config import Settings
from evergreen.data.scrub import scrub_text
from evergreen.evaluation.bands import Judgement, judge_performance
from evergreen.redact import Redactor

# The share of a window's rows with an invalid value in one column from which it is worth a look: one
# odd record in a busy window is not news, a client sending garbage in one request of a hundred is.
INVALID_INPUTS_SHARE = 0.01

SCORE_LABELS = {
    "data_drift_score": "data drift",
    "prediction_drift_score": "prediction drift",
    "performance_drift_score": "performance drift",
}


@dataclass(frozen=True)
class AlertCandidate:
    fingerprint: str  # the condition: the same one updates one open alert
    kind: str
    level: str
    title: str
    details: dict[str, Any] = field(default_factory=dict)
    occurrence: str | None = None  # a new value is a new event, sent even inside the repeat interval


@dataclass(frozen=True)
class Evaluation:
    active: tuple[AlertCandidate, ...]
    cleared: frozenset[str]  # fingerprints whose cause is gone
    cleared_kinds: frozenset[str]  # kinds seen in full: an open alert of it that is not active cleared


@dataclass(frozen=True)
class RuleConfig:
    levels_by_score: Mapping[str, Mapping[str, float]]
    performance_min: float | None = None  # triggers.performance.min, an absolute floor
    performance_metric: str | None = None

    @classmethod
    def from_settings(cls, s: Settings) -> RuleConfig:
        return cls(
            levels_by_score=s.alerts.levels_by_score(),
            performance_min=s.triggers.performance.min,
            performance_metric=s.triggers.performance.metric,
        )


def drift_level(score: float | None, levels: Mapping[str, float]) -> str | None:
    """The highest level whose threshold the score reaches, or ``None`` below all of them."""
    if score is None:
        return None
    reached = [(t, name) for name, t in levels.items() if score >= t]
    return max(reached)[1] if reached else None


def _drift(fact: DriftFact, cfg: RuleConfig) -> tuple[list[AlertCandidate], set[str]]:
    active, cleared = [], set()
    for score_name, levels in cfg.levels_by_score.items():
        fp = f"drift:{score_name}:{fact.window}"
        score = fact.scores.get(score_name)
        level = drift_level(score, levels)
        if score is None:
            continue  # not measured in this window: unknown, neither raised nor cleared
        if score_name == "performance_drift_score" and level is not None:
            # The drop's levels say how loud, the shared rule says whether: a drop that noise
            # explains (band reaching the baseline) is no performance alert under any name.
            judged = _judge(fact, cfg)
            if judged is not None and not judged[2].degraded:
                level = None
        if level is None:
            cleared.add(fp)
            continue
        label = SCORE_LABELS.get(score_name, score_name)
        active.append(
            AlertCandidate(
                fingerprint=fp,
                kind="drift",
                level=level,
                title=f"{label} score {score:.3f} is at or above the {level} level {levels[level]:g} "
                f"(window {fact.window})",
                details={
                    "score_name": score_name,
                    "score": score,
                    "threshold": levels[level],
                    "levels": dict(levels),
                    "window": fact.window,
                    "report_id": fact.report_id,
                    "report_date": fact.report_date,
                    "model_version": fact.model_version,
                    "drifted_columns": list(fact.drifted_columns),
                },
            )
        )
    return active, cleared


def _multivariate(fact: DriftFact, _cfg: RuleConfig) -> tuple[list[AlertCandidate], set[str]]:
    fp = f"drift:multivariate:{fact.window}"
    m = fact.multivariate
    if m is None:
        return [], set()  # not tested in this window: unknown, neither raised nor cleared
    if not m.drifted:
        return [], {fp}
    separating = f"; the columns that separate them most: {', '.join(m.top_columns)}" if m.top_columns else ""
    return [
        AlertCandidate(
            fingerprint=fp,
            kind="drift",
            level="warning",
            title=f"the inputs drifted as a whole: a classifier tells this window from the reference with "
            f"ROC AUC {m.auc:.3f}, above {m.threshold:g}{separating} (window {fact.window})",
            details={
                "score_name": "multivariate_auc",
                "score": m.auc,
                "threshold": m.threshold,
                "top_columns": list(m.top_columns),
                "window": fact.window,
                "report_id": fact.report_id,
                "report_date": fact.report_date,
                "model_version": fact.model_version,
                "drifted_columns": list(fact.drifted_columns),
            },
        )
    ], set()


def _invalid_inputs(fact: DriftFact, _cfg: RuleConfig) -> tuple[list[AlertCandidate], set[str]]:
    fp = f"inputs_invalid:{fact.window}"
    if not fact.current_rows:
        return [], set()  # no verdict in this window (or an old report): neither raised nor cleared
    many = [
        (c, n, what) for c, n, what in fact.invalid_inputs if n >= INVALID_INPUTS_SHARE * fact.current_rows
    ]
    if not many:
        return [], {fp}
    parts = "; ".join(f"{c}: {n} of {fact.current_rows} values are {what}" for c, n, what in many)
    return [
        AlertCandidate(
            fingerprint=fp,
            kind="data_quality",
            level="warning",
            title=f"the model was sent values it was never trained on, left out of the drift tests: "
            f"{parts} (window {fact.window})",
            details={
                "columns": {c: n for c, n, _ in many},
                "current_rows": fact.current_rows,
                "share_limit": INVALID_INPUTS_SHARE,
                "window": fact.window,
                "report_id": fact.report_id,
                "report_date": fact.report_date,
                "model_version": fact.model_version,
            },
        )
    ], set()


def _judge(fact: DriftFact, cfg: RuleConfig) -> tuple[str, float, Judgement] | None:
    """(source, value, verdict) of the window's performance; None when it has no verdict."""
    perf: PerformanceFact | None = fact.performance
    if perf is None or perf.verdict == "insufficient_data":
        return None  # too few rows for a verdict: unknown, neither raised nor cleared
    source, value = (
        ("realised", perf.realised) if perf.realised is not None else ("estimated", perf.estimated)
    )
    if value is None:
        return None  # not enough labels and no estimate: unknown
    floor_metric = cfg.performance_metric or perf.metric
    # The same rule as the monitoring report and the performance trigger (evaluation.bands).
    j = judge_performance(
        perf.metric,
        value,
        perf.sigma,
        baseline=perf.baseline,
        drop_limit=perf.threshold,
        sigmas=perf.band_sigmas,
        floor=cfg.performance_min if floor_metric == perf.metric else None,
    )
    return source, value, j


def _performance(fact: DriftFact, cfg: RuleConfig) -> tuple[list[AlertCandidate], set[str]]:
    fp = f"performance:{fact.window}"
    judged = _judge(fact, cfg)
    if judged is None:
        return [], set()
    perf = fact.performance
    assert perf is not None  # judged
    source, value, j = judged
    if not j.degraded or j.band is None:
        return [], {fp}
    band_text = "" if perf.sigma is None else f", band {j.band.lower:.3f} to {j.band.upper:.3f}"
    reasons = []
    if j.below_floor:
        reasons.append(
            f"{source} {perf.metric} {value:.3f} is below the minimum {cfg.performance_min:g}{band_text}"
        )
    if j.dropped and j.drop is not None:
        reasons.append(
            f"{source} {perf.metric} dropped {j.drop:.3f} below the champion's holdout value "
            f"{perf.baseline if perf.baseline is None else round(perf.baseline, 4)} "
            f"(limit {perf.threshold:g}{band_text})"
        )
    level = "alert" if source == "realised" else "warning"
    return [
        AlertCandidate(
            fingerprint=fp,
            kind="performance",
            level=level,
            title=f"{'; '.join(reasons)} (window {fact.window})",
            details={
                "metric": perf.metric,
                "source": source,
                "value": value,
                "sigma": perf.sigma,
                "band": [j.band.lower, j.band.upper],
                "minimum": cfg.performance_min,
                "baseline": perf.baseline,
                "drop": j.drop,
                "drop_limit": perf.threshold,
                "window": fact.window,
                "report_id": fact.report_id,
            },
        )
    ], set()


OUTSIDE_WORDS = frozenset({"error", "reason"})  # details that quote words evergreen did not choose


def scrubbed(title: str, details: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """An alert's title and details with e-mail addresses and phone numbers replaced in the words
    evergreen did not choose: a failed run's error quotes the value it choked on, a rollback's reason
    the customer who complained; those went raw to Slack, webhooks, e-mails, the alert row and the
    audit trail. Only there: scrubbing every string made a report's date ``<PHONE>:47:05``."""
    clean = {k: scrub_text(v) if k in OUTSIDE_WORDS and isinstance(v, str) else v for k, v in details.items()}
    return scrub_text(title), clean


def leaving(title: str, details: Any, redact: Redactor) -> tuple[str, Any]:
    """An alert's title and details as they may leave the process (a message sent, a page shown):
    :func:`scrubbed`, then the project's redactor. The row was both when stored; this also covers
    rows written before a secret was configured, or before the scrub (110c6fa)."""
    if isinstance(details, Mapping):
        title, details = scrubbed(title, details)
    else:  # a row edited by hand into another shape: every text in it is someone's words
        title, details = scrub_text(title), _scrub_every_text(details)
    return redact(title), redact.value(details)


def shown_alert(row: Mapping[str, Any], redact: Redactor) -> dict[str, Any]:
    """An alert row as it leaves the process to a reader (the dashboard, ``/api/alerts``, ``evergreen
    alerts``): its title and details through :func:`leaving`, the other columns as stored."""
    title, details = leaving(row["title"], row.get("details"), redact)
    return {**row, "title": title, "details": details}


def shown_delivery(row: Mapping[str, Any], redact: Redactor) -> dict[str, Any]:
    """A delivery attempt as it leaves the process: its error (a server's words, which may quote an
    address) scrubbed and redacted."""
    error = row.get("error")
    return {**row, "error": redact(scrub_text(error)) if isinstance(error, str) else error}


def _scrub_every_text(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, list | tuple):
        return [_scrub_every_text(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _scrub_every_text(v) for k, v in value.items()}
    return value


TITLE_CHARS = 500  # an error or a reason quoted in a title is cut there


def evaluate(facts: Facts, cfg: RuleConfig) -> Evaluation:
    """The alerts the facts call for; their outside words already free of e-mail addresses and
    phone numbers (:func:`scrubbed`), the title cut only then (cut first, an address across the cut,
    "jane.doe@example.", matched no scrub rule)."""
    found = _evaluate(facts, cfg)
    active = []
    for c in found.active:
        title, details = scrubbed(c.title, c.details)
        active.append(replace(c, title=title[:TITLE_CHARS], details=details))
    return replace(found, active=tuple(active))


def _evaluate(facts: Facts, cfg: RuleConfig) -> Evaluation:
    active: list[AlertCandidate] = []
    cleared: set[str] = set()
    kinds: set[str] = set()
    for fact in facts.drift or ():
        for rule in (_drift, _multivariate, _invalid_inputs, _performance):
            found, gone = rule(fact, cfg)
            active += found
            cleared |= gone
    if facts.retrain is not None:
        f = facts.retrain.failure
        if f is None:
            cleared.add("retrain_failed")
        else:
            what = f"run {f.run_id}" if f.run_id else "a retrain"
            active.append(
                AlertCandidate(
                    "retrain_failed",
                    "retrain_failed",
                    "alert",
                    f"{what} {f.status}: {f.error}",
                    {"run_id": f.run_id, "status": f.status, "error": f.error, "at": f.at},
                    occurrence=f.key,
                )
            )
    if facts.swap_failures is not None:
        kinds.add("swap_failed")
        for s in facts.swap_failures:
            active.append(
                AlertCandidate(
                    f"swap_failed:{s.role}:{s.version}",
                    "swap_failed",
                    "critical" if s.role == "champion" else "warning",
                    f"serving could not load {s.role} v{s.version}: {s.error}",
                    {"version": s.version, "role": s.role, "error": s.error, "at": s.at},
                    occurrence=str(s.audit_id),
                )
            )
    if facts.champion_change is not None:
        c = facts.champion_change
        verb = {"rollback": "rolled back to", "approve": "approved and promoted"}.get(c.action, "promoted")
        active.append(
            AlertCandidate(
                "champion_changed",
                "champion_changed",
                # evergreen rolled back by itself (a regression on live data): someone should look.
                "alert" if c.action == "rollback" and c.actor == "system" else "info",
                f"{c.actor} {verb} v{c.version} "
                + (f"(was v{c.previous})" if c.previous else "(first champion)")
                + (f": {c.reason}" if c.reason else ""),
                {
                    "action": c.action,
                    "version": c.version,
                    "previous": c.previous,
                    "actor": c.actor,
                    "reason": c.reason,
                    "at": c.at,
                },
                occurrence=str(c.audit_id),
            )
        )
    if facts.rollback_refused is not None:
        kinds.add("rollback_refused")
        for r in facts.rollback_refused:
            active.append(
                AlertCandidate(
                    "rollback_refused",
                    "rollback_refused",
                    "critical",  # a regression is live and the automatic rollback could not undo it
                    f"automatic rollback to v{r.previous} refused: {r.error}",
                    {"champion": r.champion, "previous": r.previous, "error": r.error, "at": r.at},
                    occurrence=str(r.audit_id),
                )
            )
    if facts.pending is not None:
        kinds.add("pending_approval")
        for p in facts.pending:
            active.append(
                AlertCandidate(
                    f"pending_approval:{p.run_id}",
                    "pending_approval",
                    "warning",
                    f"candidate v{p.candidate_version} of run {p.run_id} waits for approval "
                    + (f"(champion v{p.champion_version})" if p.champion_version else "(no champion yet)"),
                    {
                        "run_id": p.run_id,
                        "candidate_version": p.candidate_version,
                        "champion_version": p.champion_version,
                        "since": p.since,
                    },
                )
            )
    return Evaluation(tuple(active), frozenset(cleared), frozenset(kinds))
