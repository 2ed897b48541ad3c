"""Schemathesis against the control API's OpenAPI on a seeded project: no 5xx, no off-schema reply."""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance

from evergreen.alerts import raise_alerts
from tests.support.control import ADMIN, VIEWER, control_app


def test_openapi_is_complete_and_schemathesis_finds_no_failure(trained_project: Any) -> None:
    raise_alerts(trained_project)  # an alert to act on
    app = control_app(trained_project)
    spec = TestClient(app).get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert (
                "application/json"
                in op["responses"]["200" if method != "post" or "retrain" not in path else "202"]["content"]
            ), (method, path)
            assert "$ref" in str(op["responses"]["401"]), (method, path)

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # POST /api/retrain starts a real retrain in the background: its own test covers it.
    operations = [r.ok() for r in schema.get_all_operations() if r.ok().label != "POST /api/retrain"]
    assert len(operations) == 14
    strategy = st.one_of([op.as_strategy() for op in operations])

    # Seeded like the fuzz test: the same 150 cases on every run, so a failure is reproducible and
    # CI cannot pass or fail by the draw.
    @seed(20261201)
    @given(case=strategy, admin=st.booleans())
    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case: Any, admin: bool) -> None:
        # Schema-valid values a rule refuses (e.g. decreasing alert levels) are a 422 by design, so
        # "positive data acceptance" is not asked; a 5xx or a reply off its schema still fails.
        case.call_and_validate(headers=ADMIN if admin else VIEWER, excluded_checks=[positive_data_acceptance])

    try:
        check()
    finally:
        trained_project.close()
