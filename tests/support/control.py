"""A minimal app carrying the control router, with the state and error handlers the serving app sets."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from evergreen.control.retrain import BackgroundRetrains
from evergreen.serving.auth import TokenTable
from evergreen.serving.errors import install_error_handlers
from evergreen.serving.routes import api

TOKENS = "vera:viewer:view-tok-1,otto:operator:op-tok-2,ada:admin:admin-tok-3"
VIEWER = {"Authorization": "Bearer view-tok-1"}
OPERATOR = {"Authorization": "Bearer op-tok-2"}
ADMIN = {"Authorization": "Bearer admin-tok-3"}


def control_app(project: Any, tokens: str = TOKENS, insecure_local: bool = False) -> FastAPI:
    app = FastAPI(title="control test")
    app.state.project = project
    app.state.settings = project.settings
    app.state.insecure_local = insecure_local
    # What the router reads from the environment ($EVERGREEN_TOKENS) on its first request.
    app.state.control_tokens = TokenTable.parse(tokens, "EVERGREEN_TOKENS")
    app.state.background_retrains = BackgroundRetrains()  # as create_app keeps them
    install_error_handlers(app)
    app.include_router(api.router)
    return app


def pending_candidate(project: Any) -> str:
    """A retrain whose candidate waits for approval (any candidate passes); its run id."""
    from evergreen import control
    from evergreen.pipeline import RetrainRequest, RetrainRunner

    control.set_thresholds(
        project,
        {
            "promotion.min_improvement": -1.0,
            "promotion.significance": None,
            "promotion.require_approval": True,
        },
        actor="setup",
    )
    outcome = RetrainRunner(project).run(RetrainRequest(force=True, reason="review"))
    assert outcome.status == "pending_approval", outcome.reason
    return outcome.run_id
