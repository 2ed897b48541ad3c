"""A prediction log nothing stops: poison rows are dead-lettered, good rows stored, a full disk counted.

Runs the real writer thread against SQLite and PostgreSQL (``store`` is parametrised over both).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from evergreen.serving.predictlog import PredictionLog, row_problem
from evergreen.serving.spill import DeadLetterFile, SpillFile
from evergreen.store.engine import utcnow
from evergreen.store.tables import predictions


def _row(i: int, **change: Any) -> dict[str, Any]:
    row = {
        "id": f"good-{i:05d}",
        "project": "testproj",
        "created_at": utcnow().isoformat(),
        "model_version": "1",
        "role": "champion",
        "record": {"customer_id": f"c{i}", "tenure": float(i)},
        "prediction": "yes",
        "probabilities": {"yes": 0.7, "no": 0.3},
        "latency_ms": 1.5,
        "shadow_of": None,
    }
    return {**row, **change}


def _poison(dialect: str) -> list[dict[str, Any]]:
    rows = [
        # A NaN id that reached the writer: not JSON, and PostgreSQL refuses it in a json column.
        _row(0, id="bad-nan-id", record={"customer_id": float("nan"), "tenure": 1.0}),
        _row(0, id="bad-inf-prob", probabilities={"yes": float("inf"), "no": 0.0}),
        _row(0, id="bad-nul\x00id"),
        _row(0, id="bad-nul-version", model_version="1\x00"),
        _row(0, id="bad-" + "x" * 40),  # longer than the id column
        _row(0, id="bad-not-json", record={"tenure": b"\x00\x01"}),
        _row(0, id="bad-record", record=None),
        _row(0, id="bad-latency", latency_ms="fast"),  # SQLite would store the text
        # Passes every check of ours: only the database refuses it (see _refuse_evil_rows).
        _row(0, id="bad-db-refuses", model_version="evil"),
    ]
    return rows


def _refuse_evil_rows(store: Any) -> None:
    """A rule only the database knows, so the batch insert fails and the row-by-row retry must find
    the row: a CHECK constraint on PostgreSQL, an aborting trigger on SQLite (no ALTER … CHECK)."""
    from sqlalchemy import text

    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.execute(
                text("ALTER TABLE predictions ADD CONSTRAINT no_evil CHECK (model_version <> 'evil')")
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER no_evil BEFORE INSERT ON predictions WHEN NEW.model_version = 'evil' "
                    "BEGIN SELECT RAISE(ABORT, 'evil row'); END"
                )
            )


def _stored(store: Any) -> set[str]:
    with store.connect() as conn:
        return {r.id for r in conn.execute(select(predictions.c.id))}


def test_poison_rows_go_to_the_dead_letter_file_and_every_good_row_is_stored(
    store: Any, tmp_path: Path
) -> None:
    spill = SpillFile(tmp_path / "state" / "spill.jsonl")
    dead = DeadLetterFile(tmp_path / "state" / "dead.jsonl")
    counts = {"dead": 0, "dropped": 0}
    log = PredictionLog(
        store,
        spill,
        queue_size=10_000,
        batch_size=64,
        dead_letter=dead,
        on_dead=lambda n: counts.__setitem__("dead", counts["dead"] + n),
        on_dropped=lambda n: counts.__setitem__("dropped", counts["dropped"] + n),
    )
    poison = _poison(store.engine.dialect.name)
    _refuse_evil_rows(store)
    good = [_row(i) for i in range(1000)]
    log.start()
    # Poison spread through the stream: each one shares a batch with good rows.
    for k, start in enumerate(range(0, 1000, 100)):
        log.submit(good[start : start + 100])
        if k < len(poison):
            log.submit([poison[k]])
    assert log.flush(60)
    log.close()

    assert _stored(store) == {r["id"] for r in good}
    entries = dead.entries()
    assert sorted(e["row"]["id"] for e in entries) == sorted(r["id"] for r in poison)
    assert all(e["reason"] for e in entries)
    by_id = {e["row"]["id"]: e["reason"] for e in entries}
    assert "evil" in by_id["bad-db-refuses"] or "no_evil" in by_id["bad-db-refuses"]  # the database's words
    assert counts == {"dead": len(poison), "dropped": 0}
    assert log.health == "ok" and not spill.has_data()
    assert stat.S_IMODE(dead.path.stat().st_mode) == 0o600


def test_a_spilled_poison_row_is_dead_lettered_at_replay_and_does_not_block_the_others(
    store: Any, tmp_path: Path
) -> None:
    spill = SpillFile(tmp_path / "spill.jsonl")
    dead = DeadLetterFile(tmp_path / "dead.jsonl")
    # Rows spilled by an earlier process, one of which the database refuses row-level.
    spill.append([_row(1), _row(2, id="bad-" + "y" * 40), _row(3)])
    log = PredictionLog(store, spill, queue_size=10, batch_size=10, dead_letter=dead)
    log.start()
    log.submit([_row(4)])
    log.close()
    assert _stored(store) == {"good-00001", "good-00003", "good-00004"}
    assert [e["row"]["id"] for e in dead.entries()] == ["bad-" + "y" * 40]
    assert not spill.has_data()


def test_rows_that_can_be_neither_written_nor_spilled_are_counted_and_the_log_reports_degraded(
    tmp_path: Path,
) -> None:
    from evergreen.store import open_store

    db_dir = tmp_path / "db"
    store = open_store(f"sqlite:///{db_dir}/meta.db", "testproj")
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file: nothing can be created under it, not even by root")
    dropped: list[int] = []
    log = PredictionLog(
        store,
        SpillFile(blocker / "spill.jsonl"),
        queue_size=10_000,
        batch_size=50,
        dead_letter=DeadLetterFile(blocker / "dead.jsonl"),
        on_dropped=dropped.append,
    )
    log.start()
    try:
        log.submit([_row(i) for i in range(10)])
        assert log.flush(30)
        assert log.health == "ok"
        # The database goes away (its directory becomes a file), and the disk refuses the spill.
        store.engine.dispose()
        for f in db_dir.iterdir():
            f.unlink()
        db_dir.rmdir()
        db_dir.write_text("not a directory")
        log.submit([_row(i) for i in range(10, 30)])
        log.submit([_row(0, id="bad-nan", probabilities={"yes": float("nan")})])
        log.flush(30)
        assert sum(dropped) == 21  # 20 rows the spill refused + 1 the dead-letter file refused
        assert log.health == "degraded"
        assert log._thread.is_alive()
        assert not log.unwritten("good-00015")  # lost rows are not waited for by /feedback
    finally:
        log.close()
        store.engine.dispose()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"record": {"x": float("nan")}}, "not storable as JSON"),
        ({"id": "a\x00b"}, "NUL"),
        ({"model_version": "v" * 21}, "longer than 20"),
        ({"created_at": "yesterday"}, "timestamp"),
        ({"role": "\ud800"}, "unicode"),
        ({"record": [1, 2]}, "JSON object"),
    ],
)
def test_row_problem_names_why_a_row_cannot_be_stored(change: dict[str, Any], problem: str) -> None:
    why = row_problem(_row(1, **change))
    assert why is not None and problem in why
    assert row_problem(_row(1)) is None


def test_the_dead_letter_file_stays_json_whatever_the_row_holds(tmp_path: Path) -> None:
    dead = DeadLetterFile(tmp_path / "d" / "dead.jsonl")
    dead.append([_row(1, record={"x": float("nan"), "y": float("-inf")})], "not storable as JSON")
    line = dead.path.read_text().splitlines()[0]
    entry = json.loads(line)
    assert entry["row"]["record"] == {"x": "nan", "y": "-inf"}
    assert stat.S_IMODE(dead.path.parent.stat().st_mode) == 0o700
