"""The serving app factory: ``create_app(settings) -> FastAPI`` (DESIGN.md §5).

The app is built from one :class:`ServingContext` on ``app.state.ctx``; the background parts (model
watcher, LISTEN thread, batcher, prediction-log writer, shadow scorer, feedback assembler) start and
stop with the app's lifespan. Adding an API is one more entry in ``ROUTERS``.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import APIRouter, FastAPI

from evergreen import __version__
from evergreen.config import Settings
from evergreen.data.pii import RecordPII
from evergreen.errors import ConfigError, one_line
from evergreen.logs import get_logger
from evergreen.observability import loop_state_collector
from evergreen.project import Project, open_project
from evergreen.serving.auth import RateLimiter, TokenTable
from evergreen.serving.batcher import Batcher
from evergreen.serving.context import ServingContext, dead_letter_path, spill_path
from evergreen.serving.dashboard import mount_dashboard
from evergreen.serving.errors import install_error_handlers
from evergreen.serving.feedback_batches import assemble_feedback_batch
from evergreen.serving.guards import GuardMiddleware
from evergreen.serving.limits import BodyLimitMiddleware
from evergreen.serving.metrics import MetricsMiddleware, ServingMetrics
from evergreen.serving.model import LoadedModel, ModelHolder
from evergreen.serving.notify import ChampionListener, is_postgres
from evergreen.serving.predictlog import PredictionLog
from evergreen.serving.routes import api, feedback, meta, predict
from evergreen.serving.shadow import ShadowScorer, shadow_resolver
from evergreen.serving.spill import DeadLetterFile, SpillFile
from evergreen.serving.watcher import ModelWatcher
from evergreen.telemetry import disable_mlflow_telemetry

ROUTERS: tuple[APIRouter, ...] = (predict.router, feedback.router, meta.router, api.router)
# How long shutdown waits for a background retrain to reach its next stage and stop there (a fit is
# cut within a fraction of a second; scoring on the holdout runs to its end).
BACKGROUND_STOP_SECONDS = 60.0
log = get_logger(__name__)


def _version_number(model: LoadedModel | None) -> float:
    try:
        return float(model.version) if model is not None else math.nan
    except ValueError:  # MLflow versions are integers; anything else is not a number on a graph
        return math.nan


def build_context(settings: Settings, project: Project, *, freeze_heap: bool = False) -> ServingContext:
    s = settings.serving
    metrics = ServingMetrics()
    holder = ModelHolder()
    plog = PredictionLog(
        project.store,
        SpillFile(spill_path(settings)),
        queue_size=s.log_queue_size,
        batch_size=s.log_batch_size,
        dead_letter=DeadLetterFile(dead_letter_path(settings)),
        on_written=metrics.log_written.inc,
        on_spilled=metrics.log_spilled.inc,
        on_dead=metrics.log_dead.inc,
        on_dropped=metrics.log_dropped.inc,
    )
    metrics.log_queue.set_function(lambda: plog.depth)
    metrics.log_capacity.set(s.log_queue_size)
    metrics.log_db_down.set_function(lambda: float(plog.db_down))
    metrics.model_loaded.set_function(lambda: float(holder.current is not None))
    metrics.model_version.set_function(lambda: _version_number(holder.current))
    metrics.model_loaded_at.set_function(lambda: holder.current.loaded_at if holder.current else math.nan)
    metrics.registry.register(loop_state_collector(project))
    passthrough = tuple(c for c in (settings.data.id_column, settings.data.timestamp_column) if c)
    # The replaced champion scores in shadow during the watch after a promotion (auto-rollback).
    watch = settings.promotion.watch if settings.promotion.auto_rollback else None
    shadowing = s.shadow or watch is not None
    watcher = ModelWatcher(
        project,
        holder,
        metrics,
        interval=s.reload_interval_seconds,
        passthrough=passthrough,
        time_field=settings.data.timestamp_column,
        shadow=shadow_resolver(s.shadow_version, challengers=s.shadow, watch=watch) if shadowing else None,
        freeze_heap=freeze_heap,
    )
    metrics.champion_alias_missing.set_function(
        lambda: float(watcher.alias.checked and watcher.alias.version is None)
    )
    batcher = Batcher(
        holder,
        max_size=s.batch_max_size,
        max_wait_ms=s.batch_max_wait_ms,
        extra=s.extra_fields,
        on_size=metrics.batch_size.observe,
    )
    shadow = None
    if shadowing:
        shadow = ShadowScorer(
            holder,
            plog.submit,
            settings.project,
            on_scored=lambda v, p: metrics.count_predictions(v, "shadow", p),
            on_skipped=metrics.shadow_skipped.inc,
        )
    pii = RecordPII.from_config(settings.data.pii, os.environ)  # ConfigError now if the salt is unset
    return ServingContext(settings, project, holder, plog, metrics, batcher, watcher, shadow, pii)


async def _feedback_loop(ctx: ServingContext) -> None:
    s = ctx.settings
    while True:
        await asyncio.sleep(s.serving.feedback_batch_interval_seconds)
        try:
            await asyncio.to_thread(
                assemble_feedback_batch, s, ctx.project.store, min_rows=s.serving.feedback_batch_min_rows
            )
        except Exception as exc:  # the next round tries again; serving goes on
            log.error("feedback_batch_failed", error=one_line(exc))


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    ctx: ServingContext = app.state.ctx
    ctx.log.start()
    ctx.batcher.start()
    ctx.watcher.start()
    if ctx.shadow is not None:
        ctx.shadow.start()
    listener = None
    if is_postgres(ctx.project.store):
        # A registered version is loaded ahead of its promotion (the watcher keeps it warm); so is
        # one that waits for approval since before this replica listened. Each (re)connection
        # catches up on what was announced while it did not listen.
        w = ctx.watcher
        listener = ChampionListener(
            ctx.project.store, w.wake, on_registered=w.prewarm, on_listening=w.catch_up
        )
        listener.start()
    app.state.listener = listener
    scheduler = None
    if app.state.with_scheduler:
        from evergreen.triggers.scheduler import Scheduler

        # The embedded scheduler: landing scans, monitoring and triggers in this process's threads.
        scheduler = await asyncio.to_thread(Scheduler(ctx.project).start)
    feedback_task = asyncio.get_running_loop().create_task(_feedback_loop(ctx), name="evergreen-feedback")
    log.info("serving_started", project=ctx.settings.project)
    try:
        yield
    finally:
        # Retrains a person started here (POST /api/retrain, the dashboard) end abandoned at their
        # next stage rather than being cut mid-stage by the process exit and left "running".
        left = await asyncio.to_thread(app.state.background_retrains.stop_all, BACKGROUND_STOP_SECONDS)
        if left:
            log.warning("background_retrain_still_running", threads=left, waited=BACKGROUND_STOP_SECONDS)
        if scheduler is not None:
            await asyncio.to_thread(scheduler.stop)
        feedback_task.cancel()
        with suppress(asyncio.CancelledError):
            await feedback_task
        await ctx.watcher.stop()
        if listener is not None:
            await asyncio.to_thread(listener.stop)
        await ctx.batcher.stop()
        if ctx.shadow is not None:
            await ctx.shadow.stop()
        await asyncio.to_thread(ctx.log.close)
        if app.state.owns_project:
            await asyncio.to_thread(ctx.project.close)  # flushes queued alert deliveries
        log.info("serving_stopped", project=ctx.settings.project)


def create_app(
    settings: Settings,
    project: Project | None = None,
    *,
    insecure_local: bool = False,
    with_scheduler: bool = False,
    freeze_heap: bool = False,
) -> FastAPI:
    """The serving app of one project (opened here unless given).

    ``insecure_local`` opens the control API without tokens to loopback clients only;
    ``with_scheduler`` runs the trigger scheduler inside this process (``evergreen serve --scheduler``);
    ``freeze_heap`` takes each loaded model out of the garbage collector's full collections (for the
    process that owns the heap, ``evergreen serve``: see :mod:`evergreen.serving.heap`).
    """
    disable_mlflow_telemetry()  # this app loads models with MLflow: opt out before its first use
    auth = settings.auth
    tokens = TokenTable.from_env(auth.tokens_env)  # read once: the environment is fixed at start
    if auth.require_token_for and not tokens.enabled and not insecure_local:
        raise ConfigError(
            f"auth.require_token_for: {', '.join(auth.require_token_for)} need a token, but "
            f"${auth.tokens_env} holds none (name:role:token,...)"
        )
    owns_project = project is None
    ctx = build_context(settings, project or open_project(settings), freeze_heap=freeze_heap)
    app = FastAPI(title=f"evergreen: {settings.project}", version=__version__, lifespan=_lifespan)
    app.state.ctx = ctx
    app.state.insecure_local = insecure_local
    app.state.with_scheduler = with_scheduler
    app.state.owns_project = owns_project  # a project the app opened, the app closes at shutdown
    from evergreen.control.retrain import BackgroundRetrains  # the retrain pipeline: not at import

    app.state.background_retrains = BackgroundRetrains()
    app.state.control_tokens = tokens
    app.state.rate_limiter = RateLimiter(auth.rate_limit_per_minute) if auth.rate_limit_per_minute else None
    install_error_handlers(app, ctx.project.redactor)
    for router in ROUTERS:
        app.include_router(router)
    mount_dashboard(app, ctx, insecure_local=insecure_local)  # GET / and the pages (DESIGN.md §5)
    # Starlette wraps the last added outermost: guards (Host, Origin, JSON) run before the body limit.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.serving.max_body_bytes)
    app.add_middleware(GuardMiddleware, local_only=insecure_local)
    app.add_middleware(MetricsMiddleware, metrics=ctx.metrics)
    return app
