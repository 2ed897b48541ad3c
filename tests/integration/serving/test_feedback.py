"""Feedback over HTTP, and labelled feedback assembled into a batch the core loop ingests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from evergreen.data.dataset import assemble_dataset
from evergreen.serving.feedback_batches import assemble_feedback_batch
from evergreen.store.tables import batches, feedback
from tests.support.serving import RECORD, live


def test_feedback_by_id_and_labelled_records_become_a_training_batch(
    make_app: Any, trained_project: Any
) -> None:
    p = trained_project
    rows_before = len(assemble_dataset(p.settings, p.store).frame)
    with live(make_app()) as srv, srv.client() as c:
        ids = c.post("/predict", json={"records": [RECORD, {**RECORD, "plan": "basic"}]}).json()[
            "prediction_ids"
        ]
        # Sent at once: the prediction may still be in the log queue, it must be found anyway.
        ok = c.post("/feedback", json={"prediction_id": ids[0], "label": "yes"})
        assert ok.status_code == 200 and ok.json() == {"accepted": 1}, ok.text
        assert (
            c.post("/feedback", json={"feedback": [{"prediction_id": ids[1], "label": "no"}]}).status_code
            == 200
        )
        labelled = c.post("/feedback", json={"records": [{**RECORD, "tenure": 50.0, "churned": "no"}]})
        assert labelled.status_code == 200, labelled.text

        unknown = c.post("/feedback", json={"prediction_id": "no-such-id", "label": "yes"})
        assert unknown.status_code == 404 and unknown.json()["error"]["details"]["unknown"] == ["no-such-id"]
        invalid = c.post("/feedback", json={"prediction_id": ids[0], "label": "perhaps"})
        assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "invalid_label"
        assert (
            c.post("/feedback", content=b"{oops", headers={"content-type": "application/json"}).status_code
            == 400
        )
        assert 'serving_feedback_total{kind="prediction"} 2.0' in c.get("/metrics").text

    with p.store.connect() as conn:
        stored = conn.execute(select(feedback.c.prediction_id, feedback.c.label)).all()
    assert sorted((r.prediction_id or "", r.label) for r in stored) == sorted(
        [(ids[0], "yes"), (ids[1], "no"), ("", "no")]
    )

    result = assemble_feedback_batch(p.settings, p.store, min_rows=1)
    assert result is not None and result.status == "accepted", result
    assert result.rows == 3 and result.labelled_rows == 3
    with p.store.connect() as conn:
        assert {r.batch_id for r in conn.execute(select(feedback.c.batch_id))} == {result.batch_id}
        assert (
            conn.execute(select(batches.c.status).where(batches.c.id == result.batch_id)).scalar_one()
            == "accepted"
        )
    assert len(assemble_dataset(p.settings, p.store).frame) == rows_before + 3
    assert assemble_feedback_batch(p.settings, p.store, min_rows=1) is None  # each label is used once
