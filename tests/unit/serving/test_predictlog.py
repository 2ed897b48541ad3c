"""The prediction log against a real SQLite database: batching, overflow spill, replay, shutdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from evergreen.serving.predictlog import PredictionLog
from evergreen.serving.spill import SpillFile
from evergreen.store import open_store
from evergreen.store.engine import utcnow
from evergreen.store.tables import predictions


def _rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    now = utcnow().isoformat()
    return [
        {
            "id": f"p{i:05d}",
            "project": "proj",
            "created_at": now,
            "model_version": "1",
            "role": "champion",
            "record": {"x": i},
            "prediction": "yes",
            "probabilities": {"yes": 1.0},
            "latency_ms": 1.0,
            "shadow_of": None,
        }
        for i in range(start, start + n)
    ]


def _ids(store: Any) -> set[str]:
    with store.connect() as conn:
        return {r.id for r in conn.execute(select(predictions.c.id))}


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = open_store(f"sqlite:///{tmp_path}/meta.db", "proj")
    yield s
    s.engine.dispose()


def test_records_are_written_in_batches_and_flushed(store: Any, tmp_path: Path) -> None:
    written: list[int] = []
    log = PredictionLog(
        store, SpillFile(tmp_path / "spill.jsonl"), queue_size=1000, batch_size=7, on_written=written.append
    )
    log.start()
    for i in range(5):
        log.submit(_rows(10, start=i * 10))
    assert log.flush(30)
    log.close()
    assert _ids(store) == {r["id"] for r in _rows(50)}
    assert max(written) <= 7 and sum(written) == 50
    assert not log.unwritten("p00000")


def test_a_full_queue_spills_and_everything_is_replayed(store: Any, tmp_path: Path) -> None:
    spill = SpillFile(tmp_path / "spill.jsonl")
    spilled: list[int] = []
    log = PredictionLog(store, spill, queue_size=3, batch_size=100, on_spilled=spilled.append)
    log.submit(_rows(2))  # fits
    log.submit(_rows(5, start=2))  # would overflow: all five go to the spill file
    assert spilled == [5] and spill.count() == 5 and log.depth == 2
    log.start()
    log.close()
    assert _ids(store) == {r["id"] for r in _rows(7)}
    assert not spill.has_data()


def test_records_left_by_a_crashed_process_are_replayed_at_start(store: Any, tmp_path: Path) -> None:
    spill = SpillFile(tmp_path / "spill.jsonl")
    spill.append(_rows(4))
    with open(spill.path, "a", encoding="utf-8") as f:
        f.write('{"id": "torn')  # a write cut short by the crash
    log = PredictionLog(store, spill, queue_size=10, batch_size=10)
    log.start()
    log.close()
    assert _ids(store) == {r["id"] for r in _rows(4)}
    assert not spill.has_data()


def test_replay_is_idempotent(store: Any, tmp_path: Path) -> None:
    spill = SpillFile(tmp_path / "spill.jsonl")
    log = PredictionLog(store, spill, queue_size=10, batch_size=10)
    log.start()
    log.submit(_rows(3))
    log.flush(30)
    spill.append(_rows(3))  # the same records once more, as after a commit whose answer was lost
    log.close()
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(predictions)).scalar_one() == 3
