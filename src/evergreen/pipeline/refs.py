"""The small references the retrain's stages pass each other, typed inside and JSON between processes.

A stage may run in another process or on another worker (an Airflow or Prefect task), so what one
stage hands the next is small: ids, versions, metric numbers, never frames or models. Inside a stage
they are frozen dataclasses; :meth:`to_dict` / :func:`ref_from_dict` turn them into JSON-able dicts
for an orchestrator (XCom, Prefect results) and back. Every dict carries its ``kind``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Self

from pydantic import TypeAdapter

from evergreen.evaluation.bootstrap import BootstrapResult
from evergreen.evaluation.policy import ModelScore, Outcome
from evergreen.evaluation.recent import EvaluationBasis

RunStatus = Literal["promoted", "rejected", "pending_approval", "skipped"]
CandidateStatus = Literal["ok", "failed", "timeout"]


class _Ref:
    """JSON both ways through pydantic (the dataclass fields are the schema), tagged with ``kind``.

    A few conversions per run: the adapter is built on each call rather than cached module-wide.
    """

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **TypeAdapter(type(self)).dump_python(self, mode="json")}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        out: Self = TypeAdapter(cls).validate_python({k: v for k, v in d.items() if k != "kind"})
        return out


@dataclass(frozen=True)
class RunOrder(_Ref):
    """What to run: the first stage's input. ``run_id`` None: the driver opens a run for it."""

    kind: ClassVar[str] = "order"
    trigger: str
    reason: str | None = None
    actor: str | None = None
    force: bool = False
    as_of: datetime | None = None
    request_ids: tuple[str, ...] = ()
    run_id: str | None = None


@dataclass(frozen=True)
class DatasetRef(_Ref):
    """A run's dataset: its version and the batch ids and ``as_of`` that rebuild it exactly."""

    kind: ClassVar[str] = "dataset"
    run_id: str
    trigger: str
    dataset_version: str
    batch_ids: tuple[int, ...]
    as_of: datetime
    rows: int
    champion_version: str | None
    basis: EvaluationBasis | None = None  # which holdout rows will decide, and why


@dataclass(frozen=True)
class CandidateSummary(_Ref):
    kind: ClassVar[str] = "candidate"
    name: str
    status: CandidateStatus
    fit_seconds: float
    val_metrics: Mapping[str, float]
    error: str | None
    winner: bool


@dataclass(frozen=True)
class Trained(_Ref):
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


@dataclass(frozen=True)
class Evaluated(_Ref):
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


@dataclass(frozen=True)
class Decided(_Ref):
    """The policy's decision, recorded and tagged, not yet acted on."""

    kind: ClassVar[str] = "decided"
    evaluated: Evaluated
    outcome: Outcome
    justification: str
    decision: Mapping[str, Any] = field(default_factory=dict)  # Decision.to_dict(), as recorded

    @property
    def run_id(self) -> str:
        return self.evaluated.run_id


@dataclass(frozen=True)
class Finished(_Ref):
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
        return {**super().to_dict(), "skipped": self.skipped}  # orchestrators branch on it


@dataclass(frozen=True)
class Summary(_Ref):
    """What ``notify`` reports: the run's outcome and the champion after it."""

    kind: ClassVar[str] = "summary"
    run_id: str
    status: str
    reason: str | None
    trigger: str
    candidate_version: str | None
    champion_version: str | None


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
