"""Runs and their decisions as the pages show them (pure: rows in, view models out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evergreen.dashboard.charts import finite
from evergreen.evaluation.bands import LOWER_IS_BETTER
from evergreen.evaluation.policy import BASIS_CHECK, Check


@dataclass(frozen=True)
class RunRow:
    id: str
    trigger: str
    status: str
    started_at: str
    duration_seconds: float | None
    candidate_version: str | None
    champion_version: str | None
    dataset_version: str | None
    reason: str
    actor: str


@dataclass(frozen=True)
class MetricRow:
    name: str
    candidate: float | None
    champion: float | None
    delta: float | None  # candidate - champion
    better: bool | None  # the candidate is better on this metric (lower-is-better metrics reversed)
    selection: bool  # the promotion metric


@dataclass(frozen=True)
class Comparison:
    outcome: str
    metric: str
    candidate_version: str | None
    champion_version: str | None
    rows: tuple[MetricRow, ...]
    ci_low: float | None
    ci_high: float | None
    gates: tuple[Check, ...]  # the policy's checks as the decision row recorded them
    slices: Check | None
    justification: str
    actor: str
    created_at: str

    @property
    def ci_excludes_zero(self) -> bool | None:
        if self.ci_low is None or self.ci_high is None:
            return None
        return self.ci_low > 0 or self.ci_high < 0


def duration(started: str | None, finished: str | None) -> float | None:
    if not started or not finished:
        return None
    return round((datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds(), 3)


def run_row(r: dict[str, Any]) -> RunRow:
    return RunRow(
        id=r["id"],
        trigger=r.get("trigger") or "",
        status=r.get("status") or "",
        started_at=r.get("started_at") or "",
        duration_seconds=duration(r.get("started_at"), r.get("finished_at")),
        candidate_version=r.get("candidate_version"),
        champion_version=r.get("champion_version"),
        dataset_version=r.get("dataset_version"),
        reason=r.get("reason") or "",
        actor=r.get("actor") or "",
    )


def metric_rows(candidate: dict[str, Any], champion: dict[str, Any], selection: str) -> tuple[MetricRow, ...]:
    """Every scalar metric of either model, the selection metric first, then by name."""
    names = {k for k, v in {**champion, **candidate}.items() if finite(v) is not None or v is None}
    rows = []
    for name in sorted(names, key=lambda n: (n != selection, n)):
        c, p = finite(candidate.get(name)), finite(champion.get(name))
        delta = None if c is None or p is None else round(c - p, 10)
        better = None
        if delta is not None and delta != 0:
            better = delta < 0 if name in LOWER_IS_BETTER else delta > 0
        rows.append(MetricRow(name, c, p, delta, better, name == selection))
    return tuple(rows)


def comparison(decision: dict[str, Any]) -> Comparison:
    """A decision row as the side-by-side table, the CI and the gates."""
    checks = [
        Check(c.get("name", ""), bool(c.get("passed")), c.get("detail", ""), c.get("numbers") or {})
        for c in decision.get("checks") or []
    ]
    metric = decision.get("metric") or ""
    return Comparison(
        outcome=decision.get("outcome") or "",
        metric=metric,
        candidate_version=decision.get("candidate_version"),
        champion_version=decision.get("champion_version"),
        rows=metric_rows(
            decision.get("candidate_metrics") or {}, decision.get("champion_metrics") or {}, metric
        ),
        ci_low=finite(decision.get("ci_low")),
        ci_high=finite(decision.get("ci_high")),
        gates=tuple(g for g in checks if g.name not in ("slices", BASIS_CHECK)),  # the basis is no gate
        slices=next((g for g in checks if g.name == "slices"), None),
        justification=decision.get("justification") or "",
        actor=decision.get("actor") or "",
        created_at=decision.get("created_at") or "",
    )
