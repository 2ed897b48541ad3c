"""The serving process freezes its heap after a model load: GC full collections stop walking the model."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from evergreen.serving import watcher as watcher_mod
from evergreen.serving.heap import settle_heap
from evergreen.serving.metrics import ServingMetrics
from evergreen.serving.model import LoadedModel, ModelHolder
from evergreen.serving.schema import schema_from_signature
from evergreen.serving.watcher import ModelWatcher

SCHEMA = schema_from_signature([{"type": "double", "name": "x"}])


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Give the test process its heap back afterwards."""
    yield
    gc.unfreeze()


class _Model:
    pass


def test_settle_heap_freezes_survivors_and_collects_garbage_first(unfrozen: None) -> None:
    class Node:
        other: Any = None

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: only the collector can free it
    dead = weakref.ref(a)
    del a, b
    kept = _Model()
    seconds = settle_heap()
    assert seconds >= 0
    assert dead() is None  # collected before the freeze, not frozen forever
    assert gc.get_freeze_count() > 0
    assert not any(o is kept for o in gc.get_objects())  # frozen: no longer walked by collections
    # a frozen object is still freed by reference counting (a replaced model goes away)
    ref = weakref.ref(kept)
    del kept
    assert ref() is None


def _watcher(freeze_heap: bool, monkeypatch: pytest.MonkeyPatch, calls: list[str]) -> ModelWatcher:
    def fake_load(_registry: Any, version: str, **_kw: Any) -> LoadedModel:
        calls.append(f"load {version}")
        return LoadedModel(version, _Model(), SCHEMA, None)

    monkeypatch.setattr(watcher_mod, "load_version", fake_load)
    project = SimpleNamespace(registry=SimpleNamespace(version_by_alias=lambda _alias: "3"))
    return ModelWatcher(
        project,  # type: ignore[arg-type]
        ModelHolder(),
        ServingMetrics(),
        interval=60,
        freeze_heap=freeze_heap,
    )


@pytest.mark.parametrize("freeze_heap", [True, False])
def test_watcher_settles_the_heap_after_a_load_before_the_swap(
    freeze_heap: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    w = _watcher(freeze_heap, monkeypatch, calls)
    seen_at_settle: list[str | None] = []

    def settle() -> float:
        calls.append("settle")
        seen_at_settle.append(w.holder.version)
        return 0.0

    monkeypatch.setattr(watcher_mod, "settle_heap", settle)
    asyncio.run(w.check())
    assert w.holder.version == "3"
    assert calls == (["load 3", "settle"] if freeze_heap else ["load 3"])
    if freeze_heap:
        assert seen_at_settle == [None]  # the pause happens before the version serves (/ready still 503)
    asyncio.run(w.check())  # same version: nothing loaded, nothing settled
    assert calls.count("settle") == (1 if freeze_heap else 0)
