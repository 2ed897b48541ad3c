"""The LISTEN thread's dispatch: which notice calls which callback (no database needed to decide)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evergreen.serving.notify import ChampionListener
from evergreen.store.engine import open_store


@pytest.mark.parametrize(
    ("payload", "changed", "registered"),
    [
        ({"project": "churn", "event": "champion", "version": "4"}, ["4"], []),
        ({"project": "churn", "version": "4"}, ["4"], []),  # a sender older than "event": champion
        ({"project": "churn", "event": "champion", "version": None}, [None], []),
        ({"project": "churn", "event": "registered", "version": "5"}, [], ["5"]),
        ({"project": "churn", "event": "registered", "version": None}, [], []),
        ({"project": "other", "event": "registered", "version": "5"}, [], []),
        ({"project": "other", "version": "4"}, [], []),
        ("not json", [], []),
        ([1, 2], [], []),
    ],
)
def test_each_notice_reaches_its_callback(
    tmp_path: Path, payload: object, changed: list[str | None], registered: list[str]
) -> None:
    store = open_store(f"sqlite:///{tmp_path}/meta.db", "churn")
    got_changed: list[str | None] = []
    got_registered: list[str] = []
    listener = ChampionListener(store, got_changed.append, on_registered=got_registered.append)
    listener._handle(payload if isinstance(payload, str) else json.dumps(payload))
    store.engine.dispose()
    assert (got_changed, got_registered) == (changed, registered)


def test_a_registration_without_a_warmer_is_ignored(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/meta.db", "churn")
    got: list[str | None] = []
    ChampionListener(store, got.append)._handle(
        json.dumps({"project": "churn", "event": "registered", "version": "5"})
    )
    store.engine.dispose()
    assert got == []
