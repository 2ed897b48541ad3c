"""schemathesis over the whole app's OpenAPI (prediction + control API) on a real uvicorn server.

Every operation, positive and negative generation, with a token of each role (client, viewer,
operator, admin) and ``auth.require_token_for: [predict, feedback]``: no 5xx, every reply in the
one error shape and on its documented status. Seeded; the case counts are printed (``-s``) and
asserted, so a run that generated too few cases fails instead of passing quietly.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from evergreen.alerts import raise_alerts
from evergreen.serving.app import create_app
from evergreen.store.locks import LeaseLock
from evergreen.store.requests import scheduler_lock_name
from tests.support.serving import live

ROLE_TOKENS = {"client": "fz-client", "viewer": "fz-viewer", "operator": "fz-operator", "admin": "fz-admin"}
CASES_PER_ROLE = 280  # 4 roles: 1 120 cases, about a minute and a half on a loaded 2-core machine


def test_schemathesis_whole_app_every_role_no_5xx(
    trained_project: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    p = trained_project
    monkeypatch.setenv("EVERGREEN_TOKENS", ",".join(f"{r}:{r}:{t}" for r, t in ROLE_TOKENS.items()))
    s = p.settings
    app = create_app(
        s.model_copy(
            update={"auth": s.auth.model_copy(update={"require_token_for": ("predict", "feedback")})}
        ),
        p,
    )
    raise_alerts(p)  # an alert to act on
    counts: Counter[tuple[str, str]] = Counter()
    server_errors: list[str] = []
    failures: list[str] = []
    # A scheduler "holds" the project: POST /api/retrain queues (cheap) instead of training here.
    with LeaseLock(p.store, scheduler_lock_name(p.store.project)), live(app) as srv:
        schema = schemathesis.openapi.from_url(f"{srv.url}/openapi.json")
        operations = [r.ok() for r in schema.get_all_operations()]
        labels = sorted(op.label for op in operations)
        assert {
            "POST /predict",
            "POST /feedback",
            "POST /api/retrain",
            "PUT /api/settings/thresholds",
        } <= set(labels), labels
        strategy = st.one_of(
            [op.as_strategy(generation_mode=mode) for op in operations for mode in GenerationMode]
        )

        def fuzzer(role: str, token: str) -> Any:
            @seed(20261201)
            @given(case=strategy)
            @settings(
                max_examples=CASES_PER_ROLE,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case: Any) -> None:
                response = case.call(headers={"Authorization": f"Bearer {token}"})
                counts[(role, f"{response.status_code // 100}xx")] += 1
                counts[(role, "cases")] += 1
                what = f"{role} {case.operation.label} {response.status_code}"
                if response.status_code >= 500:
                    server_errors.append(f"{what}: {response.text[:300]} <- {case.body!r:.300}")
                    return
                try:
                    # Schema-valid values a rule refuses (decreasing alert levels) are a 422 by
                    # design: "positive data acceptance" is not asked.
                    case.validate_response(response, excluded_checks=[positive_data_acceptance])
                # A check failure is a FailureGroup (a BaseExceptionGroup): keep each, report all at once.
                except (Exception, BaseExceptionGroup) as exc:
                    failures.append(f"{what}: {str(exc)[:400]}")

            return fuzz

        for role, token in ROLE_TOKENS.items():
            fuzzer(role, token)()
    total = sum(v for (_, k), v in counts.items() if k == "cases")
    with capsys.disabled():
        print(f"\nschemathesis: {len(operations)} operations, {total} cases")
        for role in ROLE_TOKENS:
            by = {k: v for (r, k), v in sorted(counts.items()) if r == role}
            print(f"  {role}: {by}")
        for line in failures:
            print("  FAILED CHECK", line.replace("\n", " ")[:600])
    assert server_errors == [], server_errors[:20]
    assert failures == [], failures[:20]
    assert total >= 1000
    assert all(counts[(role, "cases")] >= 200 for role in ROLE_TOKENS), counts
