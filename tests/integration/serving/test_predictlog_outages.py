"""No prediction record is lost: graceful shutdown, a full queue, and a PostgreSQL that stops and returns."""

from __future__ import annotations

from typing import Any

from tests.support.postgres import PgInstance
from tests.support.serving import RECORD, count_predictions, live, settings_with, stored_ids, wait_until


def _predict_many(client: Any, n: int) -> list[str]:
    ids: list[str] = []
    for i in range(n):
        resp = client.post("/predict", json={"records": [RECORD, {**RECORD, "tenure": float(i)}]})
        assert resp.status_code == 200, resp.text
        ids += resp.json()["prediction_ids"]
    return ids


def test_a_full_queue_spills_and_shutdown_replays_everything(make_app: Any, trained_project: Any) -> None:
    app = make_app(log_queue_size=1)  # every request overflows the queue: all rows go through the spill file
    with live(app) as srv, srv.client() as c:
        ids = _predict_many(c, 15)
        spilled = srv.ctx.metrics.log_spilled._value.get()
    assert spilled > 0
    assert stored_ids(trained_project.store) == set(ids)
    assert not srv.ctx.log.spill.has_data()


def test_a_stopped_postgresql_loses_no_record(trained_project: Any, own_postgres: PgInstance) -> None:
    from evergreen.project import open_project
    from evergreen.serving.app import create_app

    settings = settings_with(trained_project, storage={"database_url": own_postgres.url})
    project = open_project(settings)
    app = create_app(settings, project)
    try:
        with live(app) as srv, srv.client() as c:
            before = _predict_many(c, 5)
            assert srv.ctx.log.flush(30)
            own_postgres.stop()
            during = _predict_many(c, 10)  # the database is gone: answers go on, records spill
            wait_until(lambda: srv.ctx.log.spill.count() == len(during), "the records to be spilled")
            assert c.get("/ready").status_code == 200
            own_postgres.start()
            after = _predict_many(c, 5)
            wait_until(lambda: not srv.ctx.log.spill.has_data(), "the spill file to be replayed")
            stop_during_outage = _predict_many(c, 3)  # still queued or written when the server stops
        assert stored_ids(project.store) == set(before + during + after + stop_during_outage)
        assert count_predictions(project.store) == 2 * 23
    finally:
        project.store.engine.dispose()


def test_records_spilled_at_shutdown_with_the_database_down_are_replayed_by_the_next_server(
    trained_project: Any, own_postgres: PgInstance
) -> None:
    from evergreen.project import open_project
    from evergreen.serving.app import create_app

    settings = settings_with(trained_project, storage={"database_url": own_postgres.url})
    project = open_project(settings)
    try:
        with live(create_app(settings, project)) as srv, srv.client() as c:
            own_postgres.stop()
            ids = _predict_many(c, 4)
        assert srv.ctx.log.spill.count() == len(ids)  # shutdown could not reach the DB: all on disk
        own_postgres.start()
        with live(create_app(settings, project)) as srv2:
            wait_until(lambda: not srv2.ctx.log.spill.has_data(), "the next server to replay the spill")
        assert stored_ids(project.store) == set(ids)
    finally:
        project.store.engine.dispose()
