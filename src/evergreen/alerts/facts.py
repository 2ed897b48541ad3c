"""Facts the alert rules look at: plain values read from the store, no I/O here.

A field left ``None`` in :class:`Facts` means "not looked at this time": its alerts are neither
opened nor resolved, so a caller that only has a fresh monitoring report passes just ``drift``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LEVELS = ("info", "warning", "alert", "critical")


def rank(level: str | None) -> int:
    """Order of a level; ``None`` (never sent) is below every level."""
    return LEVELS.index(level) if level in LEVELS else -1


@dataclass(frozen=True)
class PerformanceFact:
    metric: str
    realised: float | None
    estimated: float | None
    baseline: float | None
    drop: float | None
    threshold: float | None  # the drop monitoring reports as degraded
    source: str | None  # realised | estimated: what ``drop`` was measured on
    degraded: bool
    sigma: float | None = None  # sampling error of the judged value
    band_sigmas: float = 3.0
    verdict: str | None = None  # ok | degraded | insufficient_data (None: a report older than bands)


@dataclass(frozen=True)
class MultivariateFact:
    """The window's domain-classifier test: do the inputs separate from the reference as a whole?"""

    auc: float
    threshold: float
    drifted: bool
    top_columns: tuple[str, ...] = ()

    @classmethod
    def from_details(cls, raw: Any) -> MultivariateFact | None:
        """From a report's ``multivariate_drift``; None when the window was not tested."""
        if not isinstance(raw, Mapping) or raw.get("status") not in ("drift", "ok"):
            return None
        try:
            auc, threshold = float(raw["auc"]), float(raw["threshold"])
        except (KeyError, TypeError, ValueError):
            return None
        top = raw.get("top_columns")
        columns = tuple(str(c) for c in top) if isinstance(top, list) else ()
        return cls(auc, threshold, raw["status"] == "drift", columns)


@dataclass(frozen=True)
class DriftFact:
    """The newest monitoring report of one window."""

    report_id: int
    window: str
    report_date: str
    model_version: str | None
    scores: Mapping[str, float | None]  # data_drift_score, prediction_drift_score, performance_drift_score
    drifted_columns: tuple[str, ...] = ()
    performance: PerformanceFact | None = None
    multivariate: MultivariateFact | None = None
    # (column, count, why) of the values read as missing (the report's ``invalid_inputs``), out of
    # ``current_rows``; empty for a report without a verdict or written before they were counted.
    invalid_inputs: tuple[tuple[str, int, str], ...] = ()
    current_rows: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> DriftFact:
        details = row.get("details") or {}
        columns = ((details.get("data_drift") or {}).get("columns")) or {}
        drifted = tuple(sorted(c for c, v in columns.items() if isinstance(v, Mapping) and v.get("drifted")))
        perf = details.get("performance")
        perf_fact = None
        if isinstance(perf, Mapping) and perf.get("metric"):
            perf_fact = PerformanceFact(
                metric=str(perf["metric"]),
                realised=perf.get("realised"),
                estimated=perf.get("estimated"),
                baseline=perf.get("baseline"),
                drop=perf.get("drop"),
                threshold=perf.get("threshold"),
                source=perf.get("source"),
                degraded=bool(perf.get("degraded")),
                sigma=perf.get("sigma"),
                band_sigmas=float(perf.get("band_sigmas") or 3.0),
                verdict="insufficient_data"
                if details.get("status") == "insufficient_data"
                else perf.get("verdict"),
            )
        return cls(
            report_id=int(row["id"]),
            window=window_key(str(row.get("window") or "")),
            report_date=str(row.get("report_date")),
            model_version=row.get("model_version"),
            scores={
                k: row.get(k)
                for k in ("data_drift_score", "prediction_drift_score", "performance_drift_score")
            },
            drifted_columns=drifted,
            performance=perf_fact,
            multivariate=MultivariateFact.from_details(details.get("multivariate_drift")),
            **_inputs(details),
        )


def _inputs(details: Mapping[str, Any]) -> dict[str, Any]:
    """``invalid_inputs`` and ``current_rows``, both empty for a report without a verdict (too few
    rows) or from before inputs were counted: such a report neither raises nor clears the alert."""
    if details.get("status") != "tested" or "invalid_inputs" not in details:
        return {}
    return {
        "invalid_inputs": _invalid_inputs(details.get("invalid_inputs")),
        "current_rows": _count(details.get("current_rows")),
    }


def _count(raw: Any) -> int:
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0 else 0


def _invalid_inputs(raw: Any) -> tuple[tuple[str, int, str], ...]:
    """The report's ``invalid_inputs`` as facts; anything malformed (an edited row) is left out."""
    if not isinstance(raw, Mapping):
        return ()
    out = []
    for column, entries in raw.items():
        for e in entries if isinstance(entries, list) else ():
            if isinstance(e, Mapping) and _count(e.get("count")) and isinstance(e.get("what"), str):
                out.append((str(column), _count(e["count"]), str(e["what"])))
    return tuple(out)


def window_key(window: str) -> str:
    # Every "batch:<id>" report is about the newest batch: one condition, not one per batch.
    return "batch" if window.startswith("batch:") else window


@dataclass(frozen=True)
class RetrainFailure:
    key: str  # run:<id> or audit:<id>; a new key is a new failure, sent again
    status: str  # failed | abandoned
    run_id: str | None
    error: str
    at: str


@dataclass(frozen=True)
class RetrainState:
    failure: RetrainFailure | None  # None: the newest retrain did not fail


@dataclass(frozen=True)
class SwapFailure:
    audit_id: int
    version: str
    role: str  # champion | shadow
    error: str
    at: str


@dataclass(frozen=True)
class ChampionChange:
    audit_id: int
    action: str  # promote | rollback | approve
    version: str | None
    previous: str | None
    actor: str
    reason: str | None
    at: str


@dataclass(frozen=True)
class RollbackRefused:
    """The watch found the champion worse on live data and could not roll back: ``previous`` cannot
    be served. Counts until the champion moves again."""

    audit_id: int
    champion: str | None
    previous: str
    error: str
    at: str


@dataclass(frozen=True)
class PendingApproval:
    run_id: str
    candidate_version: str | None
    champion_version: str | None
    since: str


@dataclass(frozen=True)
class Facts:
    drift: tuple[DriftFact, ...] | None = None
    retrain: RetrainState | None = None
    swap_failures: tuple[SwapFailure, ...] | None = None
    champion_change: ChampionChange | None = None
    pending: tuple[PendingApproval, ...] | None = None
    rollback_refused: tuple[RollbackRefused, ...] | None = None  # newest since the last move, or ()
    extra: dict[str, Any] = field(default_factory=dict)
