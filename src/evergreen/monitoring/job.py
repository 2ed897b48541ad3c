"""One monitoring run: reference + current window → drift, performance → row, HTML, retention.

``run_monitoring`` is what ``evergreen monitor`` calls; ``run_scheduled_monitoring`` is what the
scheduler calls on ``monitoring.schedule``: one report per ``monitoring.scheduled_windows`` entry
(sliding 7 and 30 days by default), sharing one reference build.

Current rows are the ``champion`` role of the prediction log (shadow rows are another model's
outputs). Input drift uses all of them; prediction drift and performance only the rows served by
the version being compared, since a window can straddle a promotion. A ``batch:ID`` window takes
an ingested batch's snapshot instead and scores it with the champion.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from evergreen.config import DEFAULT_DRIFT_SHARE, Settings
from evergreen.data.values import canonical_str
from evergreen.errors import BadInputError, NoDataError, NotFoundError, one_line
from evergreen.logs import get_logger
from evergreen.monitoring.columns import prediction_frame, usable_columns

# Current and its builders have a module of their own; callers have always imported them from here.
from evergreen.monitoring.current import Current as Current
from evergreen.monitoring.current import current_from_batch as current_from_batch
from evergreen.monitoring.current import current_from_log as current_from_log
from evergreen.monitoring.drift import DriftReport, Kind, data_drift
from evergreen.monitoring.html import column_plots, render_html
from evergreen.monitoring.multivariate import MultivariateDriftResult, multivariate_drift
from evergreen.monitoring.performance import check_performance, realised_metrics
from evergreen.monitoring.reference import Reference, build_reference
from evergreen.monitoring.report import MonitoringReport, prune_html, save_report, set_html_path
from evergreen.monitoring.windows import WindowSpec, load_batch, load_predictions, parse_window
from evergreen.project import Project
from evergreen.store.engine import as_utc, utcnow

log = get_logger(__name__)


def drift_share(settings: Settings) -> float:
    m = settings.monitoring
    if m.drift_share is not None:
        return m.drift_share
    trigger = settings.triggers.drift.share
    return trigger if trigger is not None else DEFAULT_DRIFT_SHARE


def watched_metric(settings: Settings) -> str:
    return settings.monitoring.metric or settings.triggers.performance.metric or settings.promotion_metric


def performance_floor(settings: Settings, metric: str) -> float | None:
    """``triggers.performance.min`` when the trigger (and the alert) judge ``metric`` against it."""
    want = settings.triggers.performance
    return want.min if (want.metric or metric) == metric else None


@dataclass(frozen=True)
class Analysis:
    data_drift: DriftReport
    prediction_drift: DriftReport | None
    current_predictions: pd.DataFrame | None
    skipped: dict[str, str]
    realised: dict[str, float]
    estimated: dict[str, float]
    labelled_rows: int
    scored_rows: int
    multivariate: MultivariateDriftResult | None = None
    sigmas: dict[str, dict[str, float]] = field(
        default_factory=dict
    )  # realised | estimated -> metric -> sigma
    estimated_rows: int = 0
    # False: the labels lack a class of the model, so their metrics describe other rows than the
    # holdout's (see _missing_classes); they are reported, and the verdict rests on the estimate
    # (none without one).
    realised_judged: bool = True


def _missing_classes(ref: Reference, labels: np.ndarray) -> list[Any]:
    """The model's classes that no label of the window holds.

    Labels often arrive for one class first (a churn is known at once, a stay only when the period
    ends): a macro F1 over "no" alone scored the never-seen "yes" as 0 and halved the value, and
    even accuracy then measures one class, not the mix the holdout baseline was measured on.
    """
    learned = ref.classes if ref.classes is not None else list(getattr(ref.model, "classes_", []))
    present = {canonical_str(v) for v in labels.tolist()}
    return [c for c in learned if canonical_str(c) not in present]


def _not_judged(lacking: list[Any], labelled: int, estimated: bool) -> str:
    shown_classes = ", ".join(canonical_str(c) for c in lacking[:5])
    # Said after the estimate is worked out: without one the window has no verdict, and the note
    # must not promise one.
    then = (
        "the verdict rests on the estimate"
        if estimated
        else "there is no performance estimate either, so the window has no performance verdict"
    )
    return (
        f"realised metrics not judged: the {labelled} labels hold no row of class {shown_classes}, "
        f"so they do not describe the mix the holdout baseline was measured on; {then}"
    )


def _drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    kinds: dict[str, Kind],
    enough: bool,
    share: float,
    **overrides: Any,
) -> DriftReport:
    if not enough:  # no test on too few rows: the columns are listed, without a verdict
        return DriftReport((), share, untested=tuple(kinds.items()))
    return data_drift(reference, current, kinds=kinds, drift_share=share, **overrides)


def _invalid_inputs(cur: Current) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for a in cur.set_aside:
        out.setdefault(a.column, []).append({"count": int(a.rows.sum()), "what": a.what})
    return out


def _multivariate(
    ref: Reference, cur: Current, columns: list[str], settings: Settings, notes: list[str]
) -> MultivariateDriftResult | None:
    kinds = {c: ref.kinds[c] for c in columns if ref.kinds[c] in ("numeric", "categorical")}
    if not kinds:
        return None
    current = cur.features[list(kinds)]
    aside = [a.rows for a in cur.set_aside if a.column in kinds]
    if aside:
        # A value read as missing is not missing in what the client sent: the classifier would tell
        # the sides apart by it alone (a third of the rows with tenure 1e308 scored AUC 0.73).
        current = current[~np.logical_or.reduce(aside)]
        notes.append(
            f"multivariate drift tested on the {len(current)} of {len(cur.features)} rows without a "
            "value read as missing"
        )
    try:
        return multivariate_drift(
            ref.features[list(kinds)],
            current,
            kinds=kinds,
            threshold=settings.monitoring.multivariate_threshold,
        )
    except BadInputError as exc:
        notes.append(f"multivariate drift not tested: {exc.message}")
        return None


def _estimate(
    ref: Reference, cur: Current, known: np.ndarray, classes: list[Any] | None
) -> tuple[dict[str, float], int]:
    """The estimator's metrics on the scored rows, and how many rows they rest on."""
    est = ref.estimator
    if est is None or cur.predicted is None:
        return {}, 0
    if cur.proba is not None and classes is not None:
        ok = known & np.isfinite(cur.proba).all(axis=1)
        codes = est.codes(cur.predicted[ok].tolist())
        return est.estimate(proba=cur.proba[ok], pred_codes=codes), int(ok.sum())
    if est.loss_model is not None and cur.scored_features is not None:
        y_pred = np.array([np.nan if v is None else float(v) for v in cur.predicted.tolist()])
        ok = known & np.isfinite(y_pred)
        frame = cur.scored_features[ok].reset_index(drop=True)
        return est.estimate(features=frame, y_pred=y_pred[ok]), int(ok.sum())
    return {}, 0


def analyse(ref: Reference, cur: Current, settings: Settings) -> Analysis:
    """Every statistic of a report, from in-memory frames (no I/O).

    A window with fewer than ``monitoring.min_rows`` rows is not tested for drift at all (its
    columns are listed as ``insufficient_data``); its performance is measured but not judged.
    """
    m, share = settings.monitoring, drift_share(settings)
    enough = len(cur.features) >= m.min_rows
    # Once the window has min_rows rows, each tested column needs min_rows values of its own too.
    columns, skipped = usable_columns(ref.features, cur.features, m.min_rows if enough else 1)
    data = _drift(
        ref.features[columns],
        cur.features[columns],
        {c: ref.kinds[c] for c in columns},
        enough,
        share,
        methods={k: v for k, v in m.methods.items() if k in columns},
        thresholds={k: v for k, v in m.thresholds.items() if k in columns},
    )
    multi = _multivariate(ref, cur, columns, settings, cur.notes) if enough else None
    pred_drift, pred_frame, labelled, scored = None, None, 0, 0
    realised: dict[str, float] = {}
    estimated: dict[str, float] = {}
    sigmas: dict[str, dict[str, float]] = {}
    est_rows = 0
    lacking: list[Any] = []  # the model's classes no label of the window holds
    if cur.predicted is not None:
        known = np.array([v is not None for v in cur.predicted.tolist()], dtype=bool)
        scored = int(known.sum())
        proba = None if cur.proba is None else cur.proba[known]
        pred_frame, kinds = prediction_frame(settings.task, cur.predicted[known].tolist(), proba, ref.classes)
        pcols, pskipped = usable_columns(
            ref.predictions, pred_frame, m.min_rows if scored >= m.min_rows else 1
        )
        skipped.update({f"{k} (prediction)": v for k, v in pskipped.items()})
        if pcols:
            # Prediction drift rests on the rows this version served, not on the whole window:
            # just after a promotion a window of thousands holds a handful of them.
            pred_drift = _drift(
                ref.predictions[pcols],
                pred_frame[pcols],
                {c: kinds[c] for c in pcols},
                scored >= m.min_rows,
                share,
            )
        if cur.labels is not None:
            has_label = known & np.array([v is not None for v in cur.labels.tolist()], dtype=bool)
            labelled = int(has_label.sum())
            realised = realised_metrics(
                settings.task,
                cur.labels[has_label],
                cur.predicted[has_label],
                None if cur.proba is None else cur.proba[has_label],
                ref.classes,
            )
            if settings.task != "regression" and labelled >= m.min_labels:  # fewer: not judged anyway
                lacking = _missing_classes(ref, cur.labels[has_label])
            if cur.proba is not None and (bare := int(np.isnan(cur.proba[has_label]).any(axis=1).sum())):
                # realised_metrics scores probabilities on every labelled row or on none.
                cur.notes.append(
                    f"no realised ROC AUC or log loss: {bare} of {labelled} labelled rows have no "
                    "usable probabilities"
                )
        if scored >= m.min_rows:
            estimated, est_rows = _estimate(ref, cur, known, ref.classes)
            if est_rows < m.min_rows:  # rows without usable probabilities or predictions left out
                cur.notes.append(
                    f"no performance estimate: only {est_rows} of {scored} scored rows have usable "
                    f"outputs (monitoring.min_rows {m.min_rows})"
                )
                estimated, est_rows = {}, 0
            elif est_rows < scored:
                cur.notes.append(
                    f"the performance estimate rests on {est_rows} of {scored} scored rows: the others "
                    "have no usable probabilities (missing, or not a distribution)"
                )
        if lacking:
            cur.notes.append(_not_judged(lacking, labelled, watched_metric(settings) in estimated))
        if ref.estimator is not None:
            sigmas = {
                "realised": ref.estimator.sigmas(realised, labelled),
                "estimated": ref.estimator.sigmas(estimated, est_rows),
            }
    return Analysis(
        data,
        pred_drift,
        pred_frame,
        skipped,
        realised,
        estimated,
        labelled,
        scored,
        multi,
        sigmas,
        est_rows,
        not lacking,
    )


def _load_current(
    project: Project, ref: Reference, spec: WindowSpec, now: datetime
) -> tuple[Current, datetime | None, datetime | None]:
    s = project.settings
    if spec.batch_id is not None:
        batch = load_batch(project.store, spec.batch_id)
        cur = current_from_batch(ref, s, batch.frame)
        if spec.batch_id in ref.batch_ids:
            cur.notes.append(
                f"batch {spec.batch_id} is part of the champion's dataset: its predictions are "
                "in-sample, so prediction drift and performance look better or worse than live"
            )
        return cur, None, None
    start, end = spec.bounds(now)
    rows = load_predictions(project.store, start, end)
    if rows.empty:
        raise NoDataError(
            f"no champion predictions in the {spec.text} window ({start:%Y-%m-%d %H:%M} to "
            f"{end:%Y-%m-%d %H:%M} UTC): nothing to monitor yet"
        )
    return current_from_log(ref, s, rows), start, end


def run_monitoring(
    project: Project,
    window: str | None = None,
    now: datetime | None = None,
    reference: Reference | None = None,
) -> MonitoringReport:
    """Compare one window with the champion's reference, store the report row and its HTML file."""
    s = project.settings
    spec = parse_window(window) if window else parse_window(s.monitoring.window, source="monitoring.window")
    now = as_utc(now) or utcnow()
    ref = reference or build_reference(project)
    cur, start, end = _load_current(project, ref, spec, now)
    a = analyse(ref, cur, s)
    metric = watched_metric(s)
    check = check_performance(
        metric,
        ref.baseline.get(metric),
        a.realised if a.realised_judged else {},
        a.estimated,
        a.labelled_rows,
        a.scored_rows,
        s.monitoring.min_labels,
        s.monitoring.performance_drop,
        ref.baseline_source,
        sigmas=a.sigmas,
        band_sigmas=s.monitoring.band_sigmas,
        min_rows=s.monitoring.min_rows,
        window_rows=len(cur.features),
        floor=performance_floor(s, metric),
    )
    report = MonitoringReport(
        project=s.project,
        window=spec.text,
        report_date=now,
        window_start=start,
        window_end=end,
        model_version=ref.model_version,
        dataset_version=ref.dataset_version,
        reference_rows=len(ref.features),
        current_rows=len(cur.features),
        data_drift=a.data_drift,
        prediction_drift=a.prediction_drift,
        performance=check,
        baseline_metrics=ref.baseline,
        realised_metrics=a.realised,
        estimated_metrics=a.estimated,
        multivariate_drift=a.multivariate,
        sigmas=a.sigmas,
        min_rows=s.monitoring.min_rows,
        skipped_columns=a.skipped,
        notes=[*ref.notes, *cur.notes],
        invalid_inputs=_invalid_inputs(cur),
    )
    save_report(project.store, report)
    _write_html(project, report, ref, cur, a)
    log.info(
        "monitoring_report",
        window=spec.text,
        id=report.id,
        drift_detected=report.drift_detected,
        data_drift_score=report.data_drift_score,
        html=report.html_path,
    )
    return report


def _write_html(
    project: Project, report: MonitoringReport, ref: Reference, cur: Current, a: Analysis
) -> None:
    s = project.settings
    plots = column_plots(ref.features, cur.features, ref.kinds, [c.column for c in a.data_drift.columns])
    pred_plots = {}
    if a.prediction_drift is not None and a.current_predictions is not None:
        pred_plots = column_plots(
            ref.predictions,
            a.current_predictions,
            ref.prediction_kinds,
            [c.column for c in a.prediction_drift.columns],
        )
    directory = s.storage.reports_dir
    directory.mkdir(parents=True, exist_ok=True)
    name = (
        f"{s.project}-{report.report_date:%Y%m%dT%H%M%SZ}-{report.window.replace(':', '')}-{report.id}.html"
    )
    path = directory / name
    tmp = directory / f".{name}.tmp"
    tmp.write_text(render_html(report, plots, pred_plots), encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a file
    assert report.id is not None  # saved above
    set_html_path(project.store, report.id, path)
    report.html_path = str(path)
    prune_html(project.store, s.monitoring.keep_reports)


def run_scheduled_monitoring(project: Project, now: datetime | None = None) -> list[MonitoringReport]:
    """One report per ``monitoring.scheduled_windows`` window ending at ``now``.

    A window without predictions, or a project without a champion yet, is skipped with a log line:
    on a schedule that is a normal state, not a failure. A window that fails is logged and the
    others still get their report; the first failure is raised after them, so the pass reads failed.
    """
    now = as_utc(now) or utcnow()
    try:
        ref = build_reference(project)
    except NotFoundError as exc:
        log.info("monitoring_skipped", reason=exc.message)
        return []
    reports, failures = [], []
    for window in project.settings.monitoring.scheduled_windows:
        try:
            reports.append(run_monitoring(project, window, now=now, reference=ref))
        except NoDataError as exc:
            log.info("monitoring_skipped", window=window, reason=exc.message)
        except Exception as exc:  # one window's failure must not cost the others their report
            log.error("monitoring_window_failed", window=window, error=one_line(exc))
            failures.append(exc)
    if failures:
        raise failures[0]
    return reports
