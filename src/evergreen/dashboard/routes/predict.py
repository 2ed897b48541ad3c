"""GET/POST /predict/form: a form from the champion's signature; POST /predict/feedback: the true label.

Both go through the same code as ``POST /predict`` and ``POST /feedback`` (the app's predictor), so
the prediction is logged and the label lands in ``feedback`` like any other.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from evergreen.dashboard.context import DashboardError, Viewer, Visit, posted_form, required
from evergreen.dashboard.render import page
from evergreen.dashboard.services import PredictForm, Predictor
from evergreen.dashboard.views.predict import form_inputs, label_from_form, record_from_form
from evergreen.errors import EvergreenError

router = APIRouter()
Form = Annotated[dict[str, str], Depends(posted_form("viewer"))]


def _predictor(visit: Visit) -> tuple[Predictor, PredictForm | None]:
    predictor = visit.services.predictor
    if predictor is None:
        raise DashboardError("this app serves no model")
    return predictor, predictor.form()


def _page(request: Request, visit: Visit, form: PredictForm | None, **values: Any) -> Response:
    return page(
        request,
        visit,
        "predict.html",
        title="Predict",
        model=form,
        inputs=form_inputs(form.fields) if form else [],
        status=values.pop("status", 200),
        **values,
    )


@router.get("/predict/form")
def predict_page(request: Request, visit: Viewer) -> Response:
    _, form = _predictor(visit)
    return _page(request, visit, form, entered={})


@router.post("/predict/form")
async def predict(request: Request, visit: Viewer, posted: Form) -> Response:
    predictor, form = _predictor(visit)
    if form is None:
        return _page(request, visit, None, entered={}, status=503, error="no champion is loaded yet")
    try:
        record = record_from_form(form.fields, posted)
        answer = await predictor.predict(record)
    except EvergreenError as exc:
        return _page(request, visit, form, entered=posted, status=exc.http_status, error=exc.message)
    return _page(
        request,
        visit,
        form,
        entered=posted,
        answer=answer,
        prediction_id=answer["prediction_ids"][0],
        prediction=answer["predictions"][0],
        probabilities=(answer.get("probabilities") or [None])[0],
    )


@router.post("/predict/feedback")
async def feedback(request: Request, visit: Viewer, posted: Form) -> Response:
    predictor, form = _predictor(visit)
    prediction_id = required(posted, "prediction_id", "prediction_id", max_len=36)
    try:
        label = label_from_form(posted.get("label", ""), form.classes if form else None)
        who = visit.who.name if visit.who else "local"
        stored = await predictor.feedback(prediction_id, label, who)
    except EvergreenError as exc:
        return _page(request, visit, form, entered={}, status=exc.http_status, error=exc.message)
    return _page(request, visit, form, entered={}, stored=stored, labelled=prediction_id, label=label)
