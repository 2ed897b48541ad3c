"""POST /feedback: ground truth for a prediction id, or labelled records."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request

from evergreen.errors import PredictionNotStoredError
from evergreen.serving.context import ServingContext
from evergreen.serving.deps import FeedbackCaller
from evergreen.serving.feedback import known_predictions, parse_feedback, store_feedback
from evergreen.serving.payload import parse_json

router = APIRouter(tags=["prediction"])
FLUSH_WAIT_SECONDS = 10.0

_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "prediction_id": {"type": "string"},
                        "label": {},
                        "feedback": {"type": "array", "items": {"type": "object"}},
                        "record": {"type": "object"},
                        "records": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "example": {"prediction_id": "0b6f…", "label": "yes"},
            }
        },
    },
    "responses": {
        "400": {"description": "the body is not JSON (or too deep, or repeats a key)"},
        "401": {"description": "auth.require_token_for names feedback and no token was sent"},
        "403": {"description": "a token nobody issued"},
        "404": {"description": "unknown prediction_id"},
        "409": {"description": "the prediction already has a label (serving.feedback_relabel: refuse)"},
        "413": {"description": "body over serving.max_body_bytes"},
        "415": {"description": "the body is not application/json"},
        "422": {"description": "a label invalid for the task, or a bad record"},
        "429": {"description": "the token is over auth.rate_limit_per_minute (see Retry-After)"},
        "503": {"description": "no champion loaded yet, or the prediction log cannot reach the database"},
    },
}


@router.post("/feedback", summary="Attach ground truth to predictions", openapi_extra=_OPENAPI)
async def post_feedback(request: Request, who: FeedbackCaller) -> dict[str, Any]:
    ctx: ServingContext = request.app.state.ctx
    return await accept(ctx, parse_json(await request.body()), labelled_by=who.name if who else None)


async def accept(ctx: ServingContext, payload: Any, *, labelled_by: str | None = None) -> dict[str, Any]:
    """Store a parsed feedback payload: ``/feedback``'s answer (the dashboard's label control uses it).

    ``labelled_by`` is the token name recorded with the label (None: an open endpoint).
    """
    s = ctx.settings
    items = parse_feedback(
        payload,
        ctx.holder.require(),
        s.data.target,
        max_items=s.serving.max_batch_records,
        extra=s.serving.extra_fields,
        drop=ctx.pii.drop,  # personal fields the model never saw: removed, not refused as unknown
    )
    if ctx.pii.active:  # a labelled record is stored (and becomes training data): never raw
        items = [it if it.record is None else replace(it, record=ctx.pii.record(it.record)) for it in items]
    ids = [it.prediction_id for it in items if it.prediction_id]
    # A prediction made a moment ago may still be on its way to the database: wait for the log, but
    # only while it is healthy (a log that spills or loses rows would make every call wait in vain).
    if any(ctx.log.unwritten(i) for i in ids):
        if ctx.log.health == "ok":
            await asyncio.to_thread(ctx.log.flush, FLUSH_WAIT_SECONDS)
        known = await asyncio.to_thread(known_predictions, ctx.project.store, ids)
        if any(ctx.log.unwritten(i) for i in ids if i not in known):
            raise PredictionNotStoredError(
                "the prediction log cannot reach the database yet; send the feedback again later",
                details={"field": "prediction_id", "prediction_log": ctx.log.health},
            )
    count = await asyncio.to_thread(
        store_feedback,
        ctx.project.store,
        items,
        relabel=s.serving.feedback_relabel,
        labelled_by=labelled_by,
    )
    ctx.metrics.feedback.labels("prediction" if ids else "record").inc(count)
    return {"accepted": count}
