"""POST /predict: validate, coalesce into a model call, answer, log in the background."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from evergreen.errors import one_line
from evergreen.logs import get_logger
from evergreen.serving.context import ServingContext
from evergreen.serving.deps import PredictCaller
from evergreen.serving.payload import json_answer, parse_json, predict_records
from evergreen.serving.rows import new_ids, prediction_rows
from evergreen.serving.schema import validate_records

router = APIRouter(tags=["prediction"])
log = get_logger(__name__)

_EXAMPLE = {"record": {"tenure": 12.0, "monthly_fee": 45.5, "plan": "basic"}}
_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "record": {
                            "type": "object",
                            "description": "one record: field → value (see GET /version)",
                        },
                        "records": {
                            "type": "array",
                            "items": {"type": "object"},
                            "description": "several records (serving.max_batch_records at most)",
                        },
                    },
                },
                "example": _EXAMPLE,
            }
        },
    },
    "responses": {
        "422": {"description": "a field is missing, mistyped or unknown (named in the error)"},
        "400": {"description": "the body is not JSON (or too deep, or repeats a key)"},
        "401": {"description": "auth.require_token_for names predict and no token was sent"},
        "403": {"description": "a token nobody issued"},
        "413": {"description": "body over serving.max_body_bytes"},
        "415": {"description": "the body is not application/json"},
        "429": {"description": "the token is over auth.rate_limit_per_minute (see Retry-After)"},
        "503": {"description": "no champion loaded yet"},
    },
}


@router.post("/predict", summary="Predict with the champion", openapi_extra=_OPENAPI)
async def predict(request: Request, _who: PredictCaller) -> JSONResponse:
    # The body is parsed by hand, not by a pydantic model: the schema is the champion's signature,
    # which changes with a swap, and this path runs for every prediction.
    start = time.perf_counter()
    ctx: ServingContext = request.app.state.ctx
    ctx.batcher.arriving += 1
    try:
        payload = parse_json(await request.body())
    except BaseException:
        ctx.batcher.arriving -= 1
        raise
    return json_answer(await answer(ctx, payload, start))


async def answer(ctx: ServingContext, payload: Any, start: float) -> dict[str, Any]:
    """Score a parsed payload and log it: ``/predict``'s answer (the dashboard's predict form uses it).

    The caller has counted the request in ``batcher.arriving``.
    """
    batcher, s = ctx.batcher, ctx.settings.serving
    try:
        records, many = predict_records(payload, s.max_batch_records)
        model = ctx.holder.require()
        # Personal fields the model never saw (dropped at ingest) are removed, not refused.
        clean = validate_records(model.schema, records, many=many, extra=s.extra_fields, drop=ctx.pii.drop)
        # PII rules before anything else sees the record: the model was trained on hashed and
        # scrubbed values, and the log, spill, dead-letter and shadow rows are built from these.
        if ctx.pii.active:
            clean = [ctx.pii.record(r) for r in clean]
    except BaseException:
        batcher.arriving -= 1
        raise
    scored = await batcher.submit(clean, model.schema, many)
    ids = new_ids(len(clean))
    latency_ms = (time.perf_counter() - start) * 1000.0
    body: dict[str, Any] = {
        "model_version": scored.version,
        "predictions": scored.predictions,
        "probabilities": scored.probabilities,
        "prediction_ids": ids,
    }
    # The model has answered: nothing after this point may turn the answer into an error.
    try:
        ctx.log.submit(prediction_rows(ctx.settings.project, clean, scored, latency_ms=latency_ms, ids=ids))
        ctx.metrics.count_predictions(scored.version, "champion", scored.predictions)
        if ctx.shadow is not None:
            ctx.shadow.offer(clean, ids)
    except Exception as exc:
        ctx.metrics.post_answer_errors.inc()
        log.error("prediction_bookkeeping_failed", error=one_line(exc)[:300])
    return body
