"""The request queue and the gathered trigger facts on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from evergreen.project import open_project
from evergreen.store.requests import (
    DONE,
    RUNNING,
    enqueue_retrain,
    get_request,
    mark_requests,
    queued_requests,
    requeue_orphans,
)
from evergreen.store.tables import batches, drift_reports
from evergreen.triggers.state import gather_state
from tests.support.project import make_project_settings

T = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def test_queue_and_facts(database_url: str, tmp_path: Path):
    project = open_project(make_project_settings(tmp_path / "p", database_url=database_url))
    try:
        a = enqueue_retrain(project.store, "labels fixed", "api:ann", force=True)
        b = enqueue_retrain(project.store, None, "cli:bo")
        assert [(r.id, r.actor, r.force) for r in queued_requests(project.store)] == [
            (a, "api:ann", True),
            (b, "cli:bo", False),
        ]
        mark_requests(project.store, [a], RUNNING)
        assert [r.id for r in queued_requests(project.store)] == [b]
        assert requeue_orphans(project.store) == [a]  # a scheduler died while running it
        mark_requests(project.store, [a, b], DONE, run_id="r1", result="promoted: better")
        req = get_request(project.store, a)
        assert req is not None and (req.status, req.run_id, req.result) == ("done", "r1", "promoted: better")

        with project.store.begin() as conn:
            for rows, labelled, status in (
                (700, 700, "accepted"),
                (500, 450, "accepted"),
                (90, 90, "quarantined"),
            ):
                conn.execute(
                    insert(batches).values(
                        project="churn",
                        source="x",
                        content_hash=f"h{rows}",
                        rows=rows,
                        labelled_rows=labelled,
                        status=status,
                        received_at=T,
                    )
                )
            for window, share in (("30d", 0.9), ("7d", 0.4)):
                conn.execute(
                    insert(drift_reports).values(
                        project="churn",
                        report_date=T,
                        window=window,
                        data_drift_score=share,
                        drift_detected=True,
                        details={"performance": {"metric": "f1_macro", "realised": None, "estimated": 0.71}},
                    )
                )
        state = gather_state(project, T)
        assert (state.champion_version, state.rows_since_champion, state.rows_since_last_attempt) == (
            None,
            1150,
            1150,
        )
        assert state.newest_batch_id == 2 and state.manual == ()
        assert state.drift is not None and (state.drift.share, state.drift.report_date) == (0.4, T)
        assert state.performance is not None
        assert (state.performance.metric, state.performance.value, state.performance.estimated) == (
            "f1_macro",
            0.71,
            True,
        )
    finally:
        project.store.engine.dispose()
