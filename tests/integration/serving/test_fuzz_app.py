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
from tests.support.serving import RECORD, live

ROLE_TOKENS = {"client": "fz-client", "viewer": "fz-viewer", "operator": "fz-operator", "admin": "fz-admin"}
CASES_PER_ROLE = 260  # 4 roles: 1 040 cases, about a minute and a half on a loaded 2-core machine
RECORD_CASES = 120  # 1-4 records each
_TEXT = st.text(max_size=40) | st.text(min_size=990, max_size=1100)
_NUMBER = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, 1, -1, 2**63 - 1, -(2**63), 2**63, 1e308])
)
_ANY = _NUMBER | _TEXT | st.booleans() | st.none() | st.lists(st.integers(), max_size=2) | st.just({"a": 1})


# A well-formed record of the churn champion with up to two fields (features or the pass-through id
# and time) replaced by any hostile value: records reach the model, beside ones refused for one field.
_FIELDS = [*RECORD, "customer_id", "event_time"]
_RECORD = st.dictionaries(st.sampled_from(_FIELDS), _ANY, max_size=2).map(lambda bad: {**RECORD, **bad})


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

        # schemathesis knows /predict only as "an object": almost all its records are refused before
        # the model. These are the champion's own fields with hostile values, so they reach it.
        @seed(20261201)
        @given(records=st.lists(_RECORD, min_size=1, max_size=4))
        @settings(
            max_examples=RECORD_CASES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def hostile_records(records: list[dict[str, Any]]) -> None:
            r = client.post(
                "/predict", json={"records": records}, headers={"Authorization": "Bearer fz-client"}
            )
            counts[("records", f"{r.status_code // 100}xx")] += 1
            counts[("records", "cases")] += 1
            if r.status_code >= 500:
                server_errors.append(f"records {r.status_code}: {r.text[:300]} <- {records!r:.300}")
            elif r.status_code == 200:
                assert len(r.json()["predictions"]) == len(records)
            else:
                err = r.json()["error"]
                assert err["details"], r.text  # a 4xx names what it refused
                refused[err["code"]] += 1

        refused: Counter[str] = Counter()
        with srv.client() as client:
            hostile_records()
    total = sum(v for (r, k), v in counts.items() if k == "cases" and r in ROLE_TOKENS)
    with capsys.disabled():
        print(f"\nschemathesis: {len(operations)} operations, {total} cases; + hostile /predict records")
        for role in (*ROLE_TOKENS, "records"):
            by = {k: v for (r, k), v in sorted(counts.items()) if r == role}
            print(f"  {role}: {by}")
        print(f"  records refused by code: {dict(refused)}")
        for line in failures:
            print("  FAILED CHECK", line.replace("\n", " ")[:600])
    assert server_errors == [], server_errors[:20]
    assert failures == [], failures[:20]
    assert total >= 1000
    assert all(counts[(role, "cases")] >= 200 for role in ROLE_TOKENS), counts
    assert counts[("records", "cases")] >= 100 and counts[("records", "2xx")] >= 10, counts
