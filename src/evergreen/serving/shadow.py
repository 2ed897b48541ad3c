"""Shadow challenger: score a second model on live traffic, off the request path, and log it beside.

Which version: ``serving.shadow_version`` if set, else the candidate of the newest run waiting for
approval (both with ``serving.shadow``), else - for ``promotion.watch`` after a promotion, with
``promotion.auto_rollback`` - the champion it replaced, so both score the same live records.
Scoring happens in its own thread after the champion answered; records pile up in a bounded queue
and are scored together. When the queue is full, records are skipped (and counted): the shadow
must never slow the champion down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from evergreen.config import WatchConfig
from evergreen.evaluation.watch import watch_open
from evergreen.logs import get_logger
from evergreen.project import Project
from evergreen.registry import CHAMPION
from evergreen.serving.model import ModelHolder
from evergreen.serving.rows import prediction_rows
from evergreen.store.engine import utcnow
from evergreen.store.runs import list_runs
from evergreen.store.watch import current_watch, paired_count

log = get_logger(__name__)


def shadow_resolver(
    configured: str | None, *, challengers: bool = True, watch: WatchConfig | None = None
) -> Callable[[Project], str | None]:
    """``challengers``: shadow ``configured`` or the pending candidate (``serving.shadow``);
    ``watch``: else, after a promotion, the replaced champion until ``watch.rows`` live records were
    scored by both or ``watch.days`` went by (``promotion.auto_rollback`` judges those pairs)."""

    def resolve(project: Project) -> str | None:
        if challengers:
            if configured:
                return configured
            pending = list_runs(project.store, limit=1, status="pending_approval")
            if pending and pending[0].get("candidate_version"):
                return str(pending[0]["candidate_version"])
        if watch is not None:
            w = current_watch(project.store)
            if (
                w is not None
                and watch_open(w.started_at, utcnow(), watch.days)
                and paired_count(project.store, w) < watch.rows
                # the alias may have been moved outside evergreen since: then this watch is void
                and project.registry.version_by_alias(CHAMPION) == w.champion
            ):
                return w.previous
        return None

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
