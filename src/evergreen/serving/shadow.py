"""Shadow challenger: score a second model on live traffic, off the request path, and log it beside.

Which version: ``serving.shadow_version`` if set, else the candidate of the newest run waiting for
approval. Scoring happens in its own thread after the champion answered; records pile up in a bounded
queue and are scored together. When the queue is full, records are skipped (and counted): the shadow
must never slow the champion down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from evergreen.logs import get_logger
from evergreen.project import Project
from evergreen.serving.model import ModelHolder
from evergreen.serving.rows import prediction_rows
from evergreen.store.runs import list_runs

log = get_logger(__name__)


def shadow_resolver(configured: str | None) -> Callable[[Project], str | None]:
    def resolve(project: Project) -> str | None:
        if configured:
            return configured
        pending = list_runs(project.store, limit=1, status="pending_approval")
        return (
            str(pending[0]["candidate_version"]) if pending and pending[0].get("candidate_version") else None
        )

    return resolve


class ShadowScorer:
    def __init__(
        self,
        holder: ModelHolder,
        submit_log: Callable[[list[dict[str, Any]]], None],
        project: str,
        *,
        on_scored: Callable[[str, list[Any]], None],
        on_skipped: Callable[[int], None],
        max_queue: int = 10_000,
        max_batch: int = 256,
    ) -> None:
        self.holder = holder
        self.submit_log = submit_log
        self.project = project
        self.on_scored = on_scored
        self.on_skipped = on_skipped
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[list[dict[str, Any]], list[str]]] = asyncio.Queue(max_queue)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evergreen-shadow")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="evergreen-shadow")

    async def stop(self) -> None:
        while not self._queue.empty() and self.holder.shadow is not None:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._executor.shutdown(wait=True)

    def offer(self, records: list[dict[str, Any]], champion_ids: list[str]) -> None:
        if self.holder.shadow is None:
            return
        try:
            self._queue.put_nowait((records, champion_ids))
        except asyncio.QueueFull:
            self.on_skipped(len(records))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            records, ids = await self._queue.get()
            while len(records) < self.max_batch and not self._queue.empty():
                more_r, more_i = self._queue.get_nowait()
                records, ids = records + more_r, ids + more_i
            model = self.holder.shadow
            if model is None:
                continue
            try:
                scored = await loop.run_in_executor(self._executor, model.score, records)
            except Exception as exc:
                log.error("shadow_scoring_failed", version=model.version, error=str(exc))
                continue
            self.submit_log(
                prediction_rows(self.project, records, scored, latency_ms=None, role="shadow", shadow_of=ids)
            )
            self.on_scored(model.version, scored.predictions)
