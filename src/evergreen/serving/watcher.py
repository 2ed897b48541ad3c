"""Follow the ``champion`` alias: poll the registry, wake up early on a NOTIFY, load off the request path.

On a change the new version is loaded and warmed in a worker thread, then swapped in with one
assignment. When it cannot be loaded the old model keeps serving; the failure is logged, counted in
``serving_swap_failures_total`` and recorded in the audit trail (action ``swap_failed``) for alerting.
A version that failed is retried only after a back-off, so a broken champion does not flood the logs.
With ``freeze_heap`` (``evergreen serve``) each loaded version is frozen out of the cyclic garbage
collector's full collections before it serves (see :mod:`evergreen.serving.heap`).

A promotion should cost what a rollback costs: a pointer swap. So a version is loaded before its
promotion when it can be: when one is registered (NOTIFY ``registered``, :meth:`ModelWatcher.prewarm`)
it is loaded in the background by the same :meth:`ModelWatcher._load` (trusted types, sha256, schema,
warm-up, heap) and kept warm; a version that fails is refused the same way (logged, counted, audited
as ``swap_failed`` with role ``candidate``), never kept, so never served. When the alias then moves to
a version in memory (the warm candidate, or the shadow after a rollback) it is swapped in as it is
(recorded with ``source`` ``warm`` / ``shadow`` in :attr:`ModelWatcher.swaps`); any other version is
loaded as before (``loaded``). A replica that starts, or re-opens its LISTEN, checks the alias at
once (a move's NOTIFY may have been lost with the connection) and warms a candidate waiting for
approval (:meth:`ModelWatcher.catch_up`). The replaced champion, when it is the shadow wanted next
(the watch after a promotion), is kept as the shadow instead of being loaded again.

Memory: a replica holds at most THREE models: the champion and the shadow (in the holder) and one
warm candidate (the newest registered; a newer registration replaces it, and a rejected one stays
until then). While versions load, at most two more are in flight: one by the warmer, one by a poll
(a version nothing warmed).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from evergreen.errors import RegistryError, StoreError, one_line
from evergreen.logs import get_logger
from evergreen.project import Project
from evergreen.registry import CHAMPION
from evergreen.serving.heap import settle_heap
from evergreen.serving.metrics import ServingMetrics
from evergreen.serving.model import LoadedModel, ModelHolder, load_version
from evergreen.store.audit import record_action
from evergreen.store.runs import list_runs

log = get_logger(__name__)
ShadowResolver = Callable[[Project], str | None]
# loaded: downloaded and loaded by this check; warm: loaded when it was registered; shadow: it was
# the shadow (a rollback during the watch). Only "loaded" cost a download and a load at the swap.
SwapSource = Literal["loaded", "warm", "shadow"]


@dataclass(frozen=True)
class Swap:
    """One champion swap, as the watcher did it."""

    version: str
    previous: str | None
    source: SwapSource
    lookup_seconds: float  # asking the registry where the alias points
    seconds: float  # from the check's start (a poll, or the wake-up of a NOTIFY) to the swap


@dataclass(frozen=True)
class AliasState:
    """The registry's ``champion`` alias as the last check that reached the registry saw it.

    The registry can change behind evergreen's back: a version deleted by hand takes its aliases
    with it, and a version moved to by hand may not load. The served model stays in both cases, so
    ``/ready`` alone (200, the old version) said nothing of it; this says what the registry names.
    """

    checked: bool = False  # False until a check reached the registry
    version: str | None = None  # None: the registry has no ``champion`` alias
    load_error: str | None = None  # why ``version`` could not be loaded (it is not served)

    def problem(self, serving: str | None) -> str | None:
        """What is wrong between the alias and the model ``serving``, in one sentence; None if nothing."""
        if not self.checked:
            return None
        kept = f"serving v{serving}, loaded before" if serving else ""
        if self.version is None:
            gone = f"the registry has no '{CHAMPION}' alias"
            return f"{gone} (deleted by hand?): {kept}" if serving else gone
        if self.version != serving and self.load_error:
            # Not the load error itself: /ready is open to anyone, and that error names where the
            # artifacts live (a path, a bucket). It is in the log and the audit row (swap_failed).
            failed = f"the '{CHAMPION}' alias names v{self.version}, which could not be loaded"
            where = "why: the swap_failed row of the audit trail"
            return f"{failed} ({where})" + (f"; {kept}" if serving else "")
        return None


class ModelWatcher:
    def __init__(
        self,
        project: Project,
        holder: ModelHolder,
        metrics: ServingMetrics,
        *,
        interval: float,
        passthrough: tuple[str, ...] = (),
        time_field: str | None = None,
        shadow: ShadowResolver | None = None,
        retry_failed_seconds: float = 60.0,
        freeze_heap: bool = False,
    ) -> None:
        self.project = project
        self.holder = holder
        self.metrics = metrics
        self.interval = interval
        self.passthrough = passthrough
        self.time_field = time_field
        self.shadow = shadow
        self.retry_failed = retry_failed_seconds
        self.freeze_heap = freeze_heap
        self._failed: dict[tuple[str, str], float] = {}  # (role, version) → when to try again
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.checks = 0
        self.loads = 0  # load_version calls (champion, shadow and candidate): each one a download
        self.swaps: deque[Swap] = deque(maxlen=32)  # the latest champion swaps, newest last
        self.alias = AliasState()
        # The warm candidate (at most one), the one being loaded, and the newest registration not
        # started yet (a registration during a load waits; only the newest one is kept).
        self._warm: LoadedModel | None = None
        self._warming: tuple[str, asyncio.Task[LoadedModel | None]] | None = None
        self._wanted: str | None = None
        self._warmer: asyncio.Task[None] | None = None
        self._stopped = False

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="evergreen-watcher")

    async def stop(self) -> None:
        # The LISTEN thread outlives this (the app stops it after): a registration it hears from now
        # on must not start a load that nothing would cancel.
        self._stopped = True
        tasks: list[asyncio.Task[Any]] = [t for t in (self._task, self._warmer) if t is not None]
        if self._warming is not None:
            tasks.append(self._warming[1])
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def wake(self, _version: str | None = None) -> None:
        """Thread-safe: check now (called by the LISTEN thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def prewarm(self, version: str) -> None:
        """Thread-safe: ``version`` was registered (called by the LISTEN thread); load it in the
        background so that its promotion, if it comes, is a pointer swap."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._want_warm, version)

    def catch_up(self) -> None:
        """Blocking, thread-safe (the LISTEN thread, each time it starts listening): what was
        announced while this replica did not listen (it started later, or its LISTEN connection was
        down: the database restarting) is caught up on. The alias is checked now, not at the next
        poll (a move's NOTIFY was lost with the connection), and a pending candidate is warmed."""
        self.wake()
        self.prewarm_pending()

    def prewarm_pending(self) -> None:
        """Blocking, thread-safe (the LISTEN thread, each time it starts listening): warm the
        candidate of the newest run waiting for approval, registered before this replica could hear
        of it (it started later, or its LISTEN connection was down)."""
        pending = list_runs(self.project.store, limit=1, status="pending_approval")
        if pending and pending[0].get("candidate_version"):
            self.prewarm(str(pending[0]["candidate_version"]))

    @property
    def warm_version(self) -> str | None:
        warm = self._warm
        return None if warm is None else warm.version

    def _in_memory(self) -> set[str]:
        return {m.version for m in (self.holder.current, self.holder.shadow, self._warm) if m is not None}

    def _want_warm(self, version: str) -> None:
        if self._stopped:
            return
        self._wanted = version
        if self._warmer is None or self._warmer.done():
            assert self._loop is not None
            self._warmer = self._loop.create_task(self._warm_newest(), name="evergreen-warm")

    async def _warm_newest(self) -> None:
        """Load the newest registered version not in memory yet; one load at a time."""
        while (version := self._wanted) is not None:
            self._wanted = None
            if version in self._in_memory() or not self._due("candidate", version):
                continue
            assert self._loop is not None
            task = self._loop.create_task(self._load(version, "candidate"), name="evergreen-warm-load")
            self._warming = (version, task)
            try:
                loaded = await task
            except Exception as exc:  # _load reports its own failures; anything else must not end warming
                log.error("candidate_warm_failed", version=version, error=one_line(exc))
                loaded = None
            finally:
                self._warming = None
            if loaded is not None and version not in self._in_memory():  # a check may have taken it
                self._warm = loaded  # replaces (drops) the candidate before it: one warm model at most
                log.info("candidate_warmed", version=version, load_seconds=round(loaded.load_seconds, 3))

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except (RegistryError, StoreError) as exc:
                # MLflow or the metadata database away (the shadow is read from it): the served model
                # stays and the next poll looks again. A known outage: one line, no traceback each poll.
                log.warning("model_watch_failed", error=one_line(exc))
            except Exception as exc:  # never let the watcher die: the next poll tries again
                log.error("model_watch_failed", error=one_line(exc), exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    async def check(self) -> None:
        """One poll: swap the champion (and the shadow) if their versions changed."""
        start = time.perf_counter()
        champion = await asyncio.to_thread(self.project.registry.version_by_alias, CHAMPION)
        lookup = time.perf_counter() - start
        self._saw_alias(champion)
        replaced = None
        if champion is not None and champion != self.holder.version and self._due("champion", champion):
            ready = await self._in_memory_as(champion)
            source: SwapSource = ready[1] if ready else "loaded"
            loaded = ready[0] if ready else await self._load(champion, "champion")
            if loaded is not None:
                replaced = self.holder.swap(loaded)
                swap = Swap(
                    loaded.version,
                    replaced.version if replaced else None,
                    source,
                    lookup,
                    time.perf_counter() - start,
                )
                self.swaps.append(swap)
                self.metrics.swaps.inc()
                self.metrics.champion.info({"version": loaded.version})
                log.info(
                    "champion_swapped",
                    version=swap.version,
                    previous=swap.previous,
                    source=source,
                    lookup_seconds=round(lookup, 3),
                    seconds=round(swap.seconds, 3),
                    load_seconds=round(loaded.load_seconds, 3),
                )
        if self.shadow is not None:
            await self._check_shadow(champion, replaced)
        self.checks += 1

    async def _check_shadow(self, champion: str | None, replaced: LoadedModel | None) -> None:
        """``replaced``: the champion this check swapped out, kept as the shadow when it is the one
        wanted (the watch after a promotion) instead of being loaded again."""
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
        kept = self._compatible(next((m for m in (replaced, self._warm) if m and m.version == wanted), None))
        if kept is not None:
            self.holder.set_shadow(kept)
            log.info("shadow_kept", version=wanted)
        elif self._due("shadow", wanted):
            loaded = await self._load(wanted, "shadow")
            if loaded is not None:
                self.holder.set_shadow(loaded)
                log.info("shadow_loaded", version=wanted)

    async def _in_memory_as(self, champion: str) -> tuple[LoadedModel, SwapSource] | None:
        """The new champion when it is in memory already, so the swap needs no download: the shadow
        (a rollback during the watch period) or the warm candidate. A candidate still being warmed
        is waited for rather than loaded a second time."""
        warming = self._warming
        if warming is not None and warming[0] == champion:
            with contextlib.suppress(Exception):  # a failure was reported by _load: load it below
                loaded = await asyncio.shield(warming[1])
                if loaded is not None and (ok := self._compatible(loaded)) is not None:
                    self._take_warm(ok)
                    return ok, "warm"
            return None
        shadow = self.holder.shadow
        if shadow is not None and shadow.version == champion:
            ok = self._compatible(shadow)
            return None if ok is None else (ok, "shadow")
        warm = self._warm
        if warm is not None and warm.version == champion:
            ok = self._compatible(warm)
            if ok is not None:
                self._take_warm(ok)
                return ok, "warm"
        return None

    def _take_warm(self, model: LoadedModel) -> None:
        """``model`` becomes the champion: the holder keeps it from now on, not the warm slot."""
        if self._warm is model:
            self._warm = None

    def _saw_alias(self, champion: str | None) -> None:
        before = self.alias
        error = before.load_error if champion == before.version and champion != self.holder.version else None
        self.alias = AliasState(checked=True, version=champion, load_error=error)
        if champion is None and before.version is not None:
            # Once, when it goes (each poll would repeat it); the served model stays.
            log.warning("champion_alias_missing", previous=before.version, serving=self.holder.version)

    def _compatible(self, model: LoadedModel | None) -> LoadedModel | None:
        """``model`` unless its schema would break the clients of the current champion (then None,
        and a load reports the incompatibility as it would for any version)."""
        current = self.holder.current
        if model is None or (current is not None and model.schema.compatible_with(current.schema)):
            return None
        return model

    def _due(self, role: str, version: str) -> bool:
        return time.monotonic() >= self._failed.get((role, version), 0.0)

    async def _load(self, version: str, role: str) -> LoadedModel | None:
        current = self.holder.current
        self.loads += 1
        try:
            loaded = await asyncio.to_thread(
                load_version,
                self.project.registry,
                version,
                passthrough=self.passthrough,
                time_field=self.time_field,
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
        if role == "champion" and self.alias.version == version:
            self.alias = replace(self.alias, load_error=message)
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
