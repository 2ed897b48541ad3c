"""Request coalescing: concurrent /predict calls share one model call.

A single consumer takes the first waiting request, then gathers more until ``max_size`` records or
``max_wait`` has passed, and runs the batch in a dedicated worker thread (the event loop keeps
accepting requests meanwhile). While a batch runs, new requests queue up, so the next batch is larger:
throughput rises with concurrency instead of requests queueing one model call each.

Every batch reads the holder once, so all its records are scored by one version, and a swap during a
batch affects only the next one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from evergreen.errors import (
    BadInputError,
    EvergreenError,
    ModelFailedError,
    ModelInputError,
    ShuttingDownError,
    one_line,
)
from evergreen.logs import get_logger
from evergreen.serving.model import LoadedModel, ModelHolder, Scored
from evergreen.serving.schema import ExtraFields, InputSchema, validate_records

log = get_logger(__name__)


@dataclass
class _Item:
    records: list[dict[str, Any]]
    schema: InputSchema
    many: bool
    future: asyncio.Future[Scored] = field(repr=False)


class Batcher:
    def __init__(
        self,
        holder: ModelHolder,
        *,
        max_size: int,
        max_wait_ms: float,
        extra: ExtraFields,
        on_size: Callable[[int], None] | None = None,
    ) -> None:
        self.holder = holder
        self.max_size = max_size
        self.max_wait = max_wait_ms / 1000.0
        self.extra = extra
        self.on_size = on_size
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()  # None: stop after what came before
        self._stopping = False
        self._closed = False
        self._last_size = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evergreen-model")
        self._task: asyncio.Task[None] | None = None
        # Requests that entered /predict and may still join a batch: waiting is worth it only then.
        self.arriving = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="evergreen-batcher")

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    async def stop(self) -> None:
        """Answer everything already queued, then stop; later submissions get a 503."""
        self._closed = True
        if self._task is not None:
            await self._queue.put(None)
            await asyncio.gather(self._task, return_exceptions=True)
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None and not item.future.done():
                item.future.set_exception(self._closed_error())
        self._executor.shutdown(wait=True)

    @staticmethod
    def _closed_error() -> ShuttingDownError:
        return ShuttingDownError("the server is shutting down")

    async def submit(self, records: list[dict[str, Any]], schema: InputSchema, many: bool) -> Scored:
        """Score ``records`` in the next batch. The caller counted itself in ``arriving`` beforehand."""
        if self._closed:
            self.arriving -= 1
            raise self._closed_error()
        fut: asyncio.Future[Scored] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(records, schema, many, fut))
        self.arriving -= 1
        return await fut

    async def _gather(self) -> list[_Item]:
        first = await self._queue.get()
        if first is None:
            self._stopping = True
            return []
        items = [first]
        size = len(first.records)
        deadline = time.monotonic() + self.max_wait
        while size < self.max_size:
            if self._queue.empty():
                remaining = deadline - time.monotonic()
                # Waiting pays only under concurrent traffic: requests are on their way, or the last
                # batch held several (a lone client would just lose max_wait on every request).
                if remaining <= 0 or (self.arriving <= 0 and self._last_size <= 1):
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            else:
                item = self._queue.get_nowait()
            if item is None:
                self._stopping = True
                break
            items.append(item)
            size += len(item.records)
        return items

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            items = await self._gather()
            if not items:
                continue
            try:
                model = self.holder.require()
                runnable = self._revalidate(items, model)
                if runnable:
                    records = [r for it in runnable for r in it.records]
                    self._last_size = len(records)
                    try:
                        scored = await loop.run_in_executor(self._executor, model.score, records)
                    except Exception as exc:
                        await self._one_by_one(runnable, model, exc)
                    else:
                        self._deliver(runnable, scored)
                    if self.on_size:
                        self.on_size(len(records))
            except Exception as exc:  # answer the waiting requests whatever happened
                log.error("batch_failed", error=type(exc).__name__)
                for it in items:
                    if not it.future.done():
                        it.future.set_exception(_as_error(exc, it.many))

    async def _one_by_one(self, items: list[_Item], model: LoadedModel, first: Exception) -> None:
        """The combined call failed: score each request alone, so only the one at fault fails."""
        if len(items) == 1:
            _fail(items[0], first)
            return
        # Error types only in the log: a model's message may quote a record's value (PII).
        log.warning("batch_split", requests=len(items), error=type(first).__name__)
        loop = asyncio.get_running_loop()
        for it in items:
            if it.future.done():  # the client went away
                continue
            try:
                scored = await loop.run_in_executor(self._executor, model.score, it.records)
            except Exception as exc:
                _fail(it, exc)
            else:
                self._deliver([it], scored)

    def _revalidate(self, items: list[_Item], model: LoadedModel) -> list[_Item]:
        """Items validated against another schema (a swap happened meanwhile) are checked again."""
        ok = []
        for it in items:
            if it.schema is not model.schema:
                try:
                    it.records = validate_records(model.schema, it.records, many=it.many, extra=self.extra)
                except BadInputError as exc:
                    it.future.set_exception(exc)
                    continue
            ok.append(it)
        return ok

    @staticmethod
    def _deliver(items: list[_Item], scored: Scored) -> None:
        start = 0
        for it in items:
            n = len(it.records)
            probs = None if scored.probabilities is None else scored.probabilities[start : start + n]
            if not it.future.done():  # the client may have gone away
                it.future.set_result(Scored(scored.version, scored.predictions[start : start + n], probs))
            start += n


# What a model raises when a value it was given cannot be used: the request's fault (4xx). Anything
# else (memory, a broken artifact) is the service's.
_INPUT_FAULTS = (ValueError, TypeError, ArithmeticError, KeyError, IndexError)


def _as_error(exc: Exception, many: bool) -> Exception:
    if isinstance(exc, EvergreenError):
        return exc
    if isinstance(exc, _INPUT_FAULTS):
        what = "one of these records" if many else "this record"
        return ModelInputError(
            f"the model could not score {what}: {one_line(exc)[:300]}", details={"field": "(record)"}
        )
    return ModelFailedError(f"the model call failed: {one_line(exc)[:300]}")


def _fail(item: _Item, exc: Exception) -> None:
    if not item.future.done():
        if not isinstance(exc, EvergreenError):
            log.warning("record_refused_by_model", error=type(exc).__name__, records=len(item.records))
        item.future.set_exception(_as_error(exc, item.many))
