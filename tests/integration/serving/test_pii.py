"""PII never stored raw: known e-mail, phone and id values sent through every path, then every byte
under ``.evergreen/``, the landing dir, every row of every table and the captured logs are searched.

Paths: /predict (one record and many), /feedback by id and by labelled records, the spill file (the
database is unreachable meanwhile, so rows stay there), the dead-letter file, a feedback batch, an
ingested landing file and a quarantined one. Landing and quarantine files are the user's raw bytes,
kept ``retention.processed_days``: the test ages them past it and runs an ingest pass, which prunes.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import structlog
from sqlalchemy import MetaData, select

from evergreen.data.landing import ingest_landing
from evergreen.data.pii import hash_value
from evergreen.serving.feedback_batches import assemble_feedback_batch
from evergreen.serving.model import Scored
from evergreen.serving.rows import prediction_rows
from tests.support.postgres import PgInstance
from tests.support.serving import RECORD, live, settings_with, wait_until

RAW_ID = "CUST-SECRET-0042"
RAW_EMAIL = "jane.doe.secret@example.org"
RAW_PHONE = "+44 20 7946 0123"
RAW = (RAW_ID, RAW_EMAIL, RAW_PHONE, "jane.doe.secret", "7946 0123")
TICKET = f"please call me on {RAW_PHONE} or write to {RAW_EMAIL}"


def _db_switch_sqlite(tmp: Path) -> tuple[str, Callable[[], None], Callable[[], None], Callable[[], None]]:
    """A metadata DB in its own directory; 'down' swaps the directory for a regular file."""
    d = tmp / "metadb"
    d.mkdir()

    def down() -> None:
        d.rename(tmp / "metadb.off")
        d.write_text("the database is away")

    def up() -> None:
        d.unlink()
        (tmp / "metadb.off").rename(d)

    return f"sqlite:///{d}/meta.db", down, up, lambda: None


@pytest.fixture(params=["sqlite", "postgres"])
def switchable_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        yield _db_switch_sqlite(tmp_path)
        return
    pg: PgInstance = request.getfixturevalue("own_postgres")  # destroyed by that fixture
    yield pg.url, pg.stop, pg.start, pg.destroy


def _scan_files(root: Path) -> list[str]:
    found = []
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            found += [f"{p}: {raw}" for raw in RAW if raw.encode() in data]
    return found


def _dump_tables(engine: Any) -> str:
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return "\n".join(repr(conn.execute(select(t)).all()) for t in meta.sorted_tables)


def _age(root: Path, days: float) -> None:
    old = time.time() - days * 86400
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            os.utime(p, (old, old))


def test_no_raw_pii_is_stored_anywhere(
    trained_project: Any, switchable_db: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from evergreen.project import open_project
    from evergreen.serving.app import create_app

    url, db_down, db_up, _ = switchable_db
    settings = settings_with(trained_project, storage={"database_url": url}, reload_interval_seconds=0.2)
    project = open_project(settings)
    salt = os.environ["EVERGREEN_PII_SALT"]
    # "email" is in data.pii.drop (dropped at ingest, unknown to the model): the README promises it is
    # removed from /predict and /feedback records too (it was refused, 422 "unknown field").
    raw_record = {**RECORD, "customer_id": RAW_ID, "last_ticket": TICKET, "email": RAW_EMAIL}
    landing = settings.data.landing
    try:
        with structlog.testing.capture_logs() as logs:
            with live(create_app(settings, project)) as srv, srv.client() as c:
                one = c.post("/predict", json={"record": raw_record})
                many = c.post("/predict", json={"records": [raw_record, {**raw_record, "plan": "basic"}]})
                assert one.status_code == many.status_code == 200, one.text
                ids = one.json()["prediction_ids"] + many.json()["prediction_ids"]
                assert c.post("/feedback", json={"prediction_id": ids[0], "label": "yes"}).status_code == 200
                labelled = {**raw_record, "churned": "no"}
                assert c.post("/feedback", json={"records": [labelled]}).status_code == 200

                # The database goes away: predictions spill to disk and stay there until it returns.
                db_down()
                spilled = c.post("/predict", json={"records": [raw_record] * 3})
                assert spilled.status_code == 200
                wait_until(lambda: srv.ctx.log.spill.count() >= 3, "the rows to be spilled")
                in_spill = [
                    f"{p}: {raw}"
                    for p in srv.ctx.log.spill.path.parent.glob("prediction_spill.jsonl*")
                    for raw in RAW
                    if raw.encode() in p.read_bytes()
                ]
                # A row the database refuses (a NaN prediction) goes to the dead-letter file as built.
                nan = Scored("1", [float("nan")], None)
                srv.ctx.log.submit(
                    prediction_rows(settings.project, [srv.ctx.pii.record(raw_record)], nan, latency_ms=1.0)
                )
                wait_until(lambda: srv.ctx.log.dead_letter.entries(), "the dead letter")
                db_up()
                wait_until(lambda: not srv.ctx.log.spill.has_data(), "the spill to be replayed")
                assert srv.ctx.log.flush(30)

            # Labelled feedback becomes a training batch; its file is deleted once ingested.
            result = assemble_feedback_batch(settings, project.store, min_rows=1)
            assert result is not None and result.status == "accepted", result
            assert not list((settings.state_dir / "feedback").glob("*"))
            snap = pd.read_parquet(result.path)
            assert hash_value(RAW_ID, salt) in set(snap["customer_id"])  # hashed once: joins still work

            # Ingest: an accepted file (PII columns dropped/hashed/scrubbed) and a quarantined one.
            good = pd.DataFrame(
                [{**raw_record, "email": RAW_EMAIL, "event_time": "2026-02-01T00:00:00Z", "churned": "no"}]
                * 3
            ).assign(customer_id=[RAW_ID, "C-2", "C-3"], support_calls=0)
            good.to_csv(landing / "raw_pii.csv", index=False)
            good.assign(tenure="lots").to_csv(landing / "raw_pii_bad.csv", index=False)
            os.symlink(landing / "raw_pii.csv", landing / "link.csv")
            outcomes = {Path(r.source).name: r for r in ingest_landing(settings, project.store)}
        assert outcomes["raw_pii.csv"].status == "accepted", outcomes["raw_pii.csv"]
        assert outcomes["raw_pii_bad.csv"].reason == "wrong_type"
        assert outcomes["link.csv"].reason == "symlink" and not (landing / "link.csv").is_symlink()

        # Within the retention period the user's own bytes are kept (that is what it is for) ...
        assert _scan_files(landing / ".processed") and _scan_files(settings.storage.quarantine_dir)
        # ... and owner-only.
        for p in [*(landing / ".processed").iterdir(), *settings.storage.quarantine_dir.iterdir()]:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        for d in (settings.state_dir, settings.storage.quarantine_dir, landing / ".processed"):
            assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
        # ... and deleted once older than retention.processed_days, at the next ingest.
        _age(landing / ".processed", 8)
        _age(settings.storage.quarantine_dir, 8)
        assert ingest_landing(settings, project.store) == []

        assert in_spill == []
        assert _scan_files(settings.state_dir) == []
        assert _scan_files(landing) == []
        dump = _dump_tables(project.store.engine)
        assert hash_value(RAW_ID, salt) in dump  # the rows are there ...
        assert [raw for raw in RAW if raw in dump] == []  # ... without the raw values
        out, err = capfd.readouterr()
        captured = repr(logs) + out + err
        assert [raw for raw in RAW if raw in captured] == []
        for f in (srv.ctx.log.dead_letter.path,):
            assert stat.S_IMODE(f.stat().st_mode) == 0o600
    finally:
        project.store.engine.dispose()
        shutil.rmtree(settings.state_dir / "feedback", ignore_errors=True)
