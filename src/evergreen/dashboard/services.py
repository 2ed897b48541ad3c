"""What the dashboard needs from the app that mounts it, handed in by ``serving.create_app``.

The dashboard sits below ``serving`` in the layers: it knows the control layer and the store, but
not the serving internals. The app factory gives it the project, a way to turn a pasted token into an
:class:`Identity` (the API's own token table, so roles and their order are the API's), and a
:class:`Predictor` over the served champion. Tests build one directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from evergreen.project import Project


@dataclass(frozen=True)
class Identity:
    """Who is looking: the token's name and role (as in ``auth.tokens_env``)."""

    name: str
    role: str

    @property
    def actor(self) -> str:
        """How the audit trail names an action taken from the dashboard."""
        return f"dashboard:{self.name}"


@dataclass(frozen=True)
class InputField:
    """One input of the champion's signature, as the predict form shows it."""

    name: str
    type: str  # MLflow type name: double, long, string, boolean, datetime
    required: bool = True


@dataclass(frozen=True)
class PredictForm:
    version: str
    fields: tuple[InputField, ...]
    classes: tuple[Any, ...] | None  # None for a regressor


class Predictor(Protocol):
    """The served champion, as ``POST /predict`` and ``POST /feedback`` use it."""

    def form(self) -> PredictForm | None:
        """The loaded champion's inputs (None before a champion is loaded)."""

    async def predict(self, record: dict[str, Any]) -> dict[str, Any]:
        """The same answer as ``POST /predict {"record": ...}`` (prediction logged)."""

    async def feedback(self, prediction_id: str, label: Any, labelled_by: str) -> int:
        """The same as ``POST /feedback {"prediction_id", "label"}`` by ``labelled_by``; rows stored."""


@dataclass(frozen=True)
class Auth:
    """The API's authentication, seen from the dashboard.

    ``lookup`` turns a token into an Identity (None: unknown); ``holds`` says whether an identity in a
    session still has a token (removed tokens end their sessions at the next request); ``has_role`` is
    the API's own comparison (``serving.auth.has_role(role, need)``); ``enabled`` is False when no
    token is configured.
    """

    lookup: Callable[[str], Identity | None]
    holds: Callable[[Identity], bool]
    has_role: Callable[[str, str], bool]
    enabled: Callable[[], bool]


@dataclass(frozen=True)
class DashboardServices:
    project: Project
    auth: Auth
    session_secret: bytes
    insecure_local: bool = False
    predictor: Predictor | None = None
    page_size: int = 25
