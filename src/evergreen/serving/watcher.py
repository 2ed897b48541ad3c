"""Follow the ``champion`` alias: poll the registry, wake up early on a NOTIFY, load off the request path.

On a change the new version is loaded and warmed in a worker thread, then swapped in with one
assignment. When it cannot be loaded the old model keeps serving; the failure is logged, counted in
``serving_swap_failures_total`` and recorded in the audit trail (action ``swap_failed``) for alerting.
A version that failed is retried only after a back-off, so a broken champion does not flood the logs.
With ``freeze_heap`` (``evergreen serve``) each loaded version is frozen out of the cyclic garbage
collector's full collections before it serves (see :mod:`evergreen.serving.heap`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from evergreen.errors import one_line
from evergreen.logs import get_logger
from evergreen.project import Project
from evergreen.registry import CHAMPION
from evergreen.serving.heap import settle_heap
from evergreen.serving.metrics import ServingMetrics
from evergreen.serving.model import LoadedModel, ModelHolder, load_version
from evergreen.store.audit import record_action

log = get_logger(__name__)
ShadowResolver = Callable[[Project], str | None]


class ModelWatcher:
    def __init__(
        self,
        project: Project,
        holder: ModelHolder,
        metrics: ServingMetrics,
        *,
        interval: float,
        passthrough: tuple[str, ...] = (),
        shadow: ShadowResolver | None = None,
        retry_failed_seconds: float = 60.0,
        freeze_heap: bool = False,
    ) -> None:
        self.project = project
        self.holder = holder
        self.metrics = metrics
        self.interval = interval
        self.passthrough = passthrough
        self.shadow = shadow
        self.retry_failed = retry_failed_seconds
        self.freeze_heap = freeze_heap
        self._failed: dict[tuple[str, str], float] = {}  # (role, version) → when to try again
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.checks = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="evergreen-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def wake(self, _version: str | None = None) -> None:
        """Thread-safe: check now (called by the LISTEN thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception as exc:  # never let the watcher die: the next poll tries again
                log.error("model_watch_failed", error=one_line(exc), exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    async def check(self) -> None:
        """One poll: swap the champion (and the shadow) if their versions changed."""
        champion = await asyncio.to_thread(self.project.registry.version_by_alias, CHAMPION)
        if champion is not None and champion != self.holder.version and self._due("champion", champion):
            loaded = self._shadow_as(champion) or await self._load(champion, "champion")
            if loaded is not None:
                old = self.holder.swap(loaded)
                self.metrics.swaps.inc()
                self.metrics.champion.info({"version": loaded.version})
                log.info(
                    "champion_swapped",
                    version=loaded.version,
                    previous=old.version if old else None,
                    load_seconds=round(loaded.load_seconds, 3),
                )
        if self.shadow is not None:
            await self._check_shadow(champion)
        self.checks += 1

    async def _check_shadow(self, champion: str | None) -> None:
        assert self.shadow is not None
        wanted = await asyncio.to_thread(self.shadow, self.project)
        if wanted == champion:
            wanted = None
        current = self.holder.shadow
        if wanted == (current.version if current else None):
            return
        if wanted is None:
            self.holder.set_shadow(None)
            return
        if self._due("shadow", wanted):
            loaded = await self._load(wanted, "shadow")
            if loaded is not None:
                self.holder.set_shadow(loaded)
                log.info("shadow_loaded", version=wanted)

    def _shadow_as(self, champion: str) -> LoadedModel | None:
        """The shadow model when it is the new champion (a rollback during the watch period): it is
        loaded and warm already, so the swap needs no download."""
        shadow, current = self.holder.shadow, self.holder.current
        if shadow is None or shadow.version != champion:
            return None
        if current is not None and shadow.schema.compatible_with(current.schema):
            return None  # let the load report the incompatibility as it would for any version
        return shadow

    def _due(self, role: str, version: str) -> bool:
        return time.monotonic() >= self._failed.get((role, version), 0.0)

    async def _load(self, version: str, role: str) -> LoadedModel | None:
        current = self.holder.current
        try:
            loaded = await asyncio.to_thread(
                load_version,
                self.project.registry,
                version,
                passthrough=self.passthrough,
                current=current.schema if current else None,
            )
        except Exception as exc:
            message = one_line(exc)
            await self._failure(version, role, message)
            return None
        self._failed.pop((role, version), None)
        if self.freeze_heap:
            # Before the swap: the first (full, ~0.2 s) collection happens while /ready is still 503,
            # later ones only walk what was allocated since the last freeze.
            log.info("heap_settled", version=version, role=role, seconds=round(settle_heap(), 4))
        return loaded

    async def _failure(self, version: str, role: str, message: str) -> None:
        self._failed[(role, version)] = time.monotonic() + self.retry_failed
        self.metrics.swap_failures.labels(role).inc()
        serving = self.holder.version
        log.error("model_swap_failed", version=version, role=role, error=message, serving=serving)
        try:
            await asyncio.to_thread(
                record_action,
                self.project.store,
                actor="system",
                action="swap_failed",
                target=f"version:{version}",
                reason=message,
                before={"serving": serving, "role": role},
                after={"serving": serving, "role": role},
            )
        except Exception as exc:  # the database being down must not stop the serving
            log.error("swap_failure_not_recorded", error=one_line(exc))
