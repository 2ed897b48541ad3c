"""The dashboard on the serving app: the API's tokens and the served champion, handed to it.

The dashboard (:mod:`evergreen.dashboard`) sits below ``serving`` in the layers and knows nothing of
its internals; this module adapts them: token lookup and role order from :mod:`.auth` (the same
table the control API reads), and a predictor over the serving context (the same code paths as
``POST /predict`` and ``POST /feedback``).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI

from evergreen.dashboard import DashboardServices, mount
from evergreen.dashboard.services import Auth, Identity, InputField, PredictForm
from evergreen.dashboard.session import session_secret
from evergreen.serving.auth import TokenTable, has_role
from evergreen.serving.context import ServingContext
from evergreen.serving.routes import feedback, predict
from evergreen.serving.routes.schemas import API_PREFIX


def _tokens(app: FastAPI, ctx: ServingContext) -> TokenTable:
    # The same cache as serving.deps.get_tokens: the environment is read once per app.
    table = getattr(app.state, "control_tokens", None)
    if not isinstance(table, TokenTable):
        table = app.state.control_tokens = TokenTable.from_env(ctx.settings.auth.tokens_env)
    return table


class ServedPredictor:
    """The champion the app serves, for the dashboard's predict form."""

    def __init__(self, ctx: ServingContext) -> None:
        self._ctx = ctx

    def form(self) -> PredictForm | None:
        model = self._ctx.holder.current
        if model is None:
            return None
        fields = tuple(InputField(f.name, f.type, f.required) for f in model.schema.fields)
        return PredictForm(model.version, fields, model.classes)

    async def predict(self, record: dict[str, Any]) -> dict[str, Any]:
        self._ctx.batcher.arriving += 1  # predict.answer expects the caller counted itself
        return await predict.answer(self._ctx, {"record": record}, time.perf_counter())

    async def feedback(self, prediction_id: str, label: Any, labelled_by: str) -> int:
        payload = {"prediction_id": prediction_id, "label": label}
        body = await feedback.accept(self._ctx, payload, labelled_by=labelled_by)
        return int(body.get("accepted", 0))


def mount_dashboard(app: FastAPI, ctx: ServingContext, *, insecure_local: bool) -> None:
    settings = ctx.settings

    def lookup(token: str) -> Identity | None:
        principal = _tokens(app, ctx).lookup(token)
        return None if principal is None else Identity(principal.name, principal.role)

    def holds(who: Identity) -> bool:
        return any(e.name == who.name and e.role == who.role for e in _tokens(app, ctx).entries)

    auth = Auth(lookup=lookup, holds=holds, has_role=has_role, enabled=lambda: _tokens(app, ctx).enabled)
    services = DashboardServices(
        project=ctx.project,
        auth=auth,
        session_secret=session_secret(settings.auth.session_secret_env),
        insecure_local=insecure_local,
        predictor=ServedPredictor(ctx),
    )
    mount(app, services, session_max_age=settings.auth.session_max_age_seconds, api_prefix=API_PREFIX)
