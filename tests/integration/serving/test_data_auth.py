"""Tokens for the data endpoints, who labelled, one label per prediction, and the per-token rate limit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from evergreen.errors import ConfigError
from evergreen.serving.app import create_app
from evergreen.serving.auth import RateLimiter
from evergreen.store.tables import feedback
from tests.support.serving import RECORD, live

TOKENS = "shop:client:client-tok,vera:viewer:view-tok,otto:operator:op-tok"
CLIENT = {"Authorization": "Bearer client-tok"}
VIEWER = {"Authorization": "Bearer view-tok"}


def _settings(project: Any, *, relabel: str = "refuse", **auth: Any) -> Any:
    s = project.settings
    return s.model_copy(
        update={
            "serving": s.serving.model_copy(
                update={"reload_interval_seconds": 0.2, "feedback_relabel": relabel}
            ),
            "auth": s.auth.model_copy(update=auth),
        }
    )


def _labels(project: Any) -> list[tuple[str | None, Any, str | None]]:
    with project.store.connect() as conn:
        rows = conn.execute(
            select(feedback.c.prediction_id, feedback.c.label, feedback.c.labelled_by).order_by(feedback.c.id)
        ).all()
    return [(r.prediction_id, r.label, r.labelled_by) for r in rows]


def test_data_endpoints_need_a_client_token_when_configured(
    trained_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = trained_project
    monkeypatch.setenv("EVERGREEN_TOKENS", TOKENS)
    app = create_app(_settings(p, require_token_for=("predict", "feedback")), p)
    with live(app) as srv, srv.client() as c:
        none = c.post("/predict", json={"record": RECORD})
        assert none.status_code == 401 and none.json()["error"]["code"] == "unauthorized"
        assert none.headers["www-authenticate"] == "Bearer"
        unknown = c.post("/predict", json={"record": RECORD}, headers={"Authorization": "Bearer nope"})
        assert unknown.status_code == 403 and unknown.json()["error"]["code"] == "unknown_token"
        assert "nope" not in unknown.text
        ok = c.post("/predict", json={"records": [RECORD, RECORD]}, headers=CLIENT)
        assert ok.status_code == 200, ok.text
        first, second = ok.json()["prediction_ids"]
        assert c.post("/predict", json={"record": RECORD}, headers=VIEWER).status_code == 200  # higher role

        assert c.post("/feedback", json={"prediction_id": first, "label": "yes"}).status_code == 401
        bad = c.post(
            "/feedback", json={"prediction_id": first, "label": "yes"}, headers={"Authorization": "Bearer x"}
        )
        assert bad.status_code == 403
        assert c.post("/feedback", json={"prediction_id": first, "label": "yes"}, headers=CLIENT).json() == {
            "accepted": 1
        }
        # refuse (the default): a second label for the same prediction is a 409, the first one stays.
        again = c.post("/feedback", json={"prediction_id": first, "label": "no"}, headers=VIEWER)
        assert again.status_code == 409, again.text
        assert again.json()["error"]["code"] == "already_labelled"
        assert again.json()["error"]["details"] == {"field": "prediction_id", "labelled": [first]}
        twice = c.post(
            "/feedback",
            json={
                "feedback": [
                    {"prediction_id": second, "label": "no"},
                    {"prediction_id": second, "label": "yes"},
                ]
            },
            headers=CLIENT,
        )
        assert twice.status_code == 409 and twice.json()["error"]["details"]["labelled"] == [second]

        # A client token opens the data endpoints only, not the control API; health stays open.
        assert c.get("/api/models", headers=CLIENT).status_code == 403
        assert c.get("/api/models", headers=VIEWER).status_code == 200
        assert c.get("/health").status_code == 200
    assert _labels(p) == [(first, "yes", "shop")]


def test_latest_relabel_keeps_the_newest_label_and_open_endpoints_record_no_name(
    trained_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = trained_project
    monkeypatch.setenv("EVERGREEN_TOKENS", TOKENS)
    with (
        live(create_app(_settings(p, relabel="latest", require_token_for=("feedback",)), p)) as srv,
        srv.client() as c,
    ):
        (pid,) = c.post("/predict", json={"records": [RECORD]}).json()["prediction_ids"]  # predict is open
        assert (
            c.post("/feedback", json={"prediction_id": pid, "label": "yes"}, headers=CLIENT).status_code
            == 200
        )
        assert _labels(p) == [(pid, "yes", "shop")]
        assert (
            c.post("/feedback", json={"prediction_id": pid, "label": "no"}, headers=VIEWER).status_code == 200
        )
        assert _labels(p) == [(pid, "no", "vera")]  # one row, the newest label and who gave it
        # Two labels in one request: the last one sent is kept.
        body = {"feedback": [{"prediction_id": pid, "label": "yes"}, {"prediction_id": pid, "label": "no"}]}
        assert c.post("/feedback", json=body, headers=CLIENT).json() == {"accepted": 1}
        assert _labels(p) == [(pid, "no", "shop")]
    with live(create_app(_settings(p), p)) as srv, srv.client() as c:  # nothing required: no name kept
        (pid2,) = c.post("/predict", json={"records": [RECORD]}).json()["prediction_ids"]
        assert c.post("/feedback", json={"prediction_id": pid2, "label": "yes"}).status_code == 200
    assert _labels(p)[-1] == (pid2, "yes", None)


def test_rate_limit_per_token_answers_429_with_retry_after(
    trained_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = trained_project
    monkeypatch.setenv("EVERGREEN_TOKENS", TOKENS)
    app = create_app(_settings(p, require_token_for=("predict",), rate_limit_per_minute=2), p)
    now = [1000.0]
    app.state.rate_limiter = RateLimiter(2, clock=lambda: now[0])  # the same limit on a clock we hold
    with live(app) as srv, srv.client() as c:
        assert [
            c.post("/predict", json={"record": RECORD}, headers=CLIENT).status_code for _ in range(2)
        ] == [
            200,
            200,
        ]
        now[0] = 1015.0
        over = c.post("/predict", json={"record": RECORD}, headers=CLIENT)
        assert over.status_code == 429 and over.json()["error"]["code"] == "rate_limited"
        assert over.headers["retry-after"] == "45"
        # Each token has its own budget, and the control API counts against the same one.
        assert c.get("/api/models", headers=VIEWER).status_code == 200
        assert c.get("/api/models", headers=VIEWER).status_code == 200
        assert c.get("/api/models", headers=VIEWER).status_code == 429
        assert c.post("/predict", json={"record": RECORD}).status_code == 401  # no token: 401, not 429
        now[0] = 1060.0
        assert c.post("/predict", json={"record": RECORD}, headers=CLIENT).status_code == 200


def test_required_tokens_without_any_configured_is_a_config_error(
    trained_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EVERGREEN_TOKENS", raising=False)
    with pytest.raises(ConfigError, match=r"auth.require_token_for: predict need a token"):
        create_app(_settings(trained_project, require_token_for=("predict",)), trained_project)
