"""Request coalescing on a real (tiny) scikit-learn model: batches, versions, the event loop stays free."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from evergreen.errors import ChampionUnavailableError
from evergreen.serving.batcher import Batcher
from evergreen.serving.model import LoadedModel, ModelHolder
from evergreen.serving.schema import schema_from_signature

SCHEMA = schema_from_signature([{"type": "double", "name": "x"}])


def _model(version: str, transform: Any = None) -> LoadedModel:
    pipe = make_pipeline(FunctionTransformer(transform), LogisticRegression())
    pipe.fit(pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]}), np.array(["no", "no", "yes", "yes"]))
    return LoadedModel(version, pipe, SCHEMA, tuple(pipe.classes_))


def _holder(model: LoadedModel) -> ModelHolder:
    holder = ModelHolder()
    holder.swap(model)
    return holder


async def _submit_all(batcher: Batcher, n: int) -> list[Any]:
    batcher.arriving += n
    return list(
        await asyncio.gather(*(batcher.submit([{"x": float(i % 4)}], SCHEMA, False) for i in range(n)))
    )


def test_waiting_requests_share_one_model_call_bounded_by_max_size() -> None:
    sizes: list[int] = []

    async def run() -> list[Any]:
        batcher = Batcher(
            _holder(_model("1")), max_size=8, max_wait_ms=0, extra="refuse", on_size=sizes.append
        )
        task = asyncio.ensure_future(_submit_all(batcher, 20))
        while batcher.queued < 20:  # all 20 are queued before the consumer starts
            await asyncio.sleep(0)
        batcher.start()
        out = await task
        await batcher.stop()
        return out

    results = asyncio.run(run())
    assert sizes == [8, 8, 4]
    assert [r.predictions[0] for r in results[:4]] == ["no", "no", "yes", "yes"]
    assert all(len(r.predictions) == 1 and set(r.probabilities[0]) == {"no", "yes"} for r in results)


def test_model_call_runs_off_the_event_loop() -> None:
    # The model blocks until a coroutine on the event loop releases it: if the model ran on the loop,
    # that coroutine could never run and the batch would never finish.
    released = threading.Event()

    def wait_for_loop(frame: pd.DataFrame) -> pd.DataFrame:
        if len(frame) == 1 and frame["x"].iloc[0] == 42.0:
            assert released.wait(30), "the event loop was blocked by the model call"
        return frame

    async def run() -> str:
        batcher = Batcher(_holder(_model("1", wait_for_loop)), max_size=8, max_wait_ms=0, extra="refuse")
        batcher.start()
        batcher.arriving += 1
        pending = asyncio.ensure_future(batcher.submit([{"x": 42.0}], SCHEMA, False))
        await asyncio.sleep(0.01)
        released.set()  # runs only because the loop is free while the model works
        scored = await pending
        await batcher.stop()
        return scored.version

    assert asyncio.run(run()) == "1"


def test_a_batch_is_scored_by_the_model_of_its_start_and_swaps_apply_to_the_next() -> None:
    holder = _holder(_model("1"))

    async def run() -> tuple[str, str]:
        batcher = Batcher(holder, max_size=8, max_wait_ms=0, extra="refuse")
        batcher.start()
        first = await _submit_all(batcher, 3)
        holder.swap(_model("2"))
        second = await _submit_all(batcher, 3)
        await batcher.stop()
        assert len({r.version for r in first}) == 1 and len({r.version for r in second}) == 1
        return first[0].version, second[0].version

    assert asyncio.run(run()) == ("1", "2")


def test_stop_answers_requests_already_queued() -> None:
    async def run() -> int:
        batcher = Batcher(_holder(_model("1")), max_size=2, max_wait_ms=0, extra="refuse")
        task = asyncio.ensure_future(_submit_all(batcher, 5))
        while batcher.queued < 5:
            await asyncio.sleep(0)
        batcher.start()
        await batcher.stop()
        done = len(await task)
        try:
            await _submit_all(batcher, 1)
        except ChampionUnavailableError as exc:
            assert exc.http_status == 503
            return done
        raise AssertionError("a request after stop() was accepted")

    assert asyncio.run(run()) == 5


def _refuses_666(frame: pd.DataFrame) -> pd.DataFrame:
    if (frame["x"] == 666.0).any():
        raise ValueError("x=666 cannot be scored")
    if (frame["x"] == 999.0).any():
        raise RuntimeError("the model itself broke")
    return frame


def test_one_bad_record_fails_only_its_own_request_in_a_coalesced_call() -> None:
    from evergreen.errors import ModelInputError

    sizes: list[int] = []

    async def run() -> list[Any]:
        batcher = Batcher(
            _holder(_model("1", _refuses_666)),
            max_size=64,
            max_wait_ms=0,
            extra="refuse",
            on_size=sizes.append,
        )
        values = [1.0, 666.0, 2.0, 999.0, 3.0]
        batcher.arriving += len(values)
        task = asyncio.ensure_future(
            asyncio.gather(
                *(batcher.submit([{"x": v}], SCHEMA, False) for v in values), return_exceptions=True
            )
        )
        while batcher.queued < len(values):
            await asyncio.sleep(0)
        batcher.start()
        out = await task
        await batcher.stop()
        return list(out)

    ok1, bad, ok2, broken, ok3 = asyncio.run(run())
    assert sizes == [5]  # one combined call was tried first
    assert [r.predictions for r in (ok1, ok2, ok3)] == [["no"], ["yes"], ["yes"]]
    assert isinstance(bad, ModelInputError) and bad.http_status == 422 and "666" in bad.message
    assert isinstance(broken, ChampionUnavailableError) and broken.code == "model_failed"
