"""The small references the retrain's stages pass each other, typed inside and JSON between processes.

A stage may run in another process or on another worker (an Airflow or Prefect task), so what one
stage hands the next is small: ids, versions, metric numbers, never frames or models. Inside a stage
they are frozen dataclasses; :meth:`to_dict` / :func:`ref_from_dict` turn them into JSON-able dicts
for an orchestrator (XCom, Prefect results) and back. Every dict carries its ``kind``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from evergreen.evaluation.bootstrap import BootstrapResult
from evergreen.evaluation.policy import ModelScore, Outcome

RunStatus = Literal["promoted", "rejected", "pending_approval", "skipped"]
CandidateStatus = Literal["ok", "failed", "timeout"]


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class RunOrder:
    """What to run: the first stage's input. ``run_id`` None: the driver opens a run for it."""

    kind: ClassVar[str] = "order"
    trigger: str
    reason: str | None = None
    actor: str | None = None
    force: bool = False
    as_of: datetime | None = None
    request_ids: tuple[str, ...] = ()
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "trigger": self.trigger,
            "reason": self.reason,
            "actor": self.actor,
            "force": self.force,
            "as_of": _iso(self.as_of),
            "request_ids": list(self.request_ids),
            "run_id": self.run_id,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunOrder:
        return cls(
            trigger=d["trigger"],
            reason=d.get("reason"),
            actor=d.get("actor"),
            force=bool(d.get("force", False)),
            as_of=_ts(d.get("as_of")),
            request_ids=tuple(d.get("request_ids") or ()),
            run_id=d.get("run_id"),
        )


@dataclass(frozen=True)
class DatasetRef:
    """A run's dataset: its version and the batch ids and ``as_of`` that rebuild it exactly."""

    kind: ClassVar[str] = "dataset"
    run_id: str
    trigger: str
    dataset_version: str
    batch_ids: tuple[int, ...]
    as_of: datetime
    rows: int
    champion_version: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "run_id": self.run_id,
            "trigger": self.trigger,
            "dataset_version": self.dataset_version,
            "batch_ids": list(self.batch_ids),
            "as_of": self.as_of.isoformat(),
            "rows": self.rows,
            "champion_version": self.champion_version,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DatasetRef:
        return cls(
            run_id=d["run_id"],
            trigger=d["trigger"],
            dataset_version=d["dataset_version"],
            batch_ids=tuple(int(i) for i in d["batch_ids"]),
            as_of=datetime.fromisoformat(d["as_of"]),
            rows=int(d["rows"]),
            champion_version=d.get("champion_version"),
        )


@dataclass(frozen=True)
class CandidateSummary:
    name: str
    status: CandidateStatus
    fit_seconds: float
    val_metrics: Mapping[str, float]
    error: str | None
    winner: bool

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "val_metrics": dict(self.val_metrics)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CandidateSummary:
        return cls(
            d["name"],
            d["status"],
            float(d["fit_seconds"]),
            dict(d["val_metrics"]),
            d.get("error"),
            d["winner"],
        )


@dataclass(frozen=True)
class Trained:
    """The winner, registered as a model version whose decision is still to come."""

    kind: ClassVar[str] = "trained"
    dataset: DatasetRef
    candidate_version: str
    mlflow_run_id: str  # the retrain's parent run
    winner_run: str  # the winner's child run
    winner: str
    candidates: tuple[CandidateSummary, ...]
    fit_seconds: float

    @property
    def run_id(self) -> str:
        return self.dataset.run_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dataset": self.dataset.to_dict(),
            "candidate_version": self.candidate_version,
            "mlflow_run_id": self.mlflow_run_id,
            "winner_run": self.winner_run,
            "winner": self.winner,
            "candidates": [c.to_dict() for c in self.candidates],
            "fit_seconds": self.fit_seconds,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Trained:
        return cls(
            dataset=DatasetRef.from_dict(d["dataset"]),
            candidate_version=d["candidate_version"],
            mlflow_run_id=d["mlflow_run_id"],
            winner_run=d["winner_run"],
            winner=d["winner"],
            candidates=tuple(CandidateSummary.from_dict(c) for c in d["candidates"]),
            fit_seconds=float(d["fit_seconds"]),
        )


def _score_dict(s: ModelScore | None) -> dict[str, Any] | None:
    return None if s is None else {"version": s.version, "metrics": dict(s.metrics), "slices": dict(s.slices)}


def _score(d: Mapping[str, Any] | None) -> ModelScore | None:
    return (
        None if d is None else ModelScore(d.get("version"), dict(d["metrics"]), dict(d.get("slices") or {}))
    )


@dataclass(frozen=True)
class Evaluated:
    """Both models scored on the same holdout, and the paired comparison of the promotion metric."""

    kind: ClassVar[str] = "evaluated"
    trained: Trained
    candidate: ModelScore
    champion: ModelScore | None
    champion_error: str | None
    comparison: BootstrapResult | None

    @property
    def run_id(self) -> str:
        return self.trained.run_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "trained": self.trained.to_dict(),
            "candidate": _score_dict(self.candidate),
            "champion": _score_dict(self.champion),
            "champion_error": self.champion_error,
            "comparison": asdict(self.comparison) if self.comparison else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Evaluated:
        cand = _score(d["candidate"])
        assert cand is not None
        return cls(
            trained=Trained.from_dict(d["trained"]),
            candidate=cand,
            champion=_score(d.get("champion")),
            champion_error=d.get("champion_error"),
            comparison=BootstrapResult(**d["comparison"]) if d.get("comparison") else None,
        )


@dataclass(frozen=True)
class Decided:
    """The policy's decision, recorded and tagged, not yet acted on."""

    kind: ClassVar[str] = "decided"
    evaluated: Evaluated
    outcome: Outcome
    justification: str
    decision: Mapping[str, Any] = field(default_factory=dict)  # Decision.to_dict(), as recorded

    @property
    def run_id(self) -> str:
        return self.evaluated.run_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "evaluated": self.evaluated.to_dict(),
            "outcome": self.outcome,
            "justification": self.justification,
            "decision": dict(self.decision),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Decided:
        return cls(Evaluated.from_dict(d["evaluated"]), d["outcome"], d["justification"], dict(d["decision"]))


@dataclass(frozen=True)
class Finished:
    """A finished run; later stages pass it through to ``notify``."""

    kind: ClassVar[str] = "finished"
    run_id: str
    status: RunStatus
    reason: str
    candidate_version: str | None = None

    @property
    def skipped(self) -> bool:
        return self.status == "skipped"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "run_id": self.run_id,
            "status": self.status,
            "reason": self.reason,
            "candidate_version": self.candidate_version,
            "skipped": self.skipped,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Finished:
        return cls(d["run_id"], d["status"], d["reason"], d.get("candidate_version"))


@dataclass(frozen=True)
class Summary:
    """What ``notify`` reports: the run's outcome and the champion after it."""

    kind: ClassVar[str] = "summary"
    run_id: str
    status: str
    reason: str | None
    trigger: str
    candidate_version: str | None
    champion_version: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "run_id": self.run_id,
            "status": self.status,
            "reason": self.reason,
            "trigger": self.trigger,
            "candidate_version": self.candidate_version,
            "champion_version": self.champion_version,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Summary:
        return cls(
            d["run_id"],
            d["status"],
            d.get("reason"),
            d["trigger"],
            d.get("candidate_version"),
            d.get("champion_version"),
        )


StageRef = RunOrder | DatasetRef | Trained | Evaluated | Decided | Finished | Summary
_KINDS: dict[str, Any] = {
    c.kind: c for c in (RunOrder, DatasetRef, Trained, Evaluated, Decided, Finished, Summary)
}


def ref_from_dict(d: Mapping[str, Any]) -> StageRef:
    """The typed reference a dict made by ``to_dict`` stands for (dispatch on its ``kind``)."""
    cls = _KINDS.get(str(d.get("kind")))
    if cls is None:
        raise ValueError(f"not a retrain stage reference: kind {d.get('kind')!r}")
    out: StageRef = cls.from_dict(d)
    return out
