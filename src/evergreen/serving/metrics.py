"""Prometheus metrics of one app (its own registry, so several apps can live in one process).

The request middleware is plain ASGI rather than ``BaseHTTPMiddleware``: it adds two dict lookups
and a clock read per request, not a task and a stream per request. A request that ends with no
answer (its client gone, or cancelled) is counted with the status label ``499``, not ``500``.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, ProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServingMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "serving_requests_total",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "serving_request_duration_seconds",
            "HTTP request latency by route and status",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "serving_predictions_total",
            "Predictions by class, model version and role",
            ["model_version", "predicted_class", "role"],
            registry=r,
        )
        self.batch_size = Histogram(
            "serving_batch_size", "Records per model call", buckets=_BATCH_BUCKETS, registry=r
        )
        self.log_queue = Gauge(
            "serving_log_queue_depth", "Prediction records waiting to be written", registry=r
        )
        self.log_written = Counter(
            "serving_log_written_total", "Prediction records written to the database", registry=r
        )
        self.log_spilled = Counter(
            "serving_log_spilled_total", "Prediction records written to the spill file", registry=r
        )
        self.log_dead = Counter(
            "serving_log_dead_letter_total",
            "Prediction records the database refused, kept in the dead-letter file",
            registry=r,
        )
        self.log_dropped = Counter(
            "serving_log_dropped_total",
            "Prediction records lost: neither the database nor the spill file could take them",
            registry=r,
        )
        self.post_answer_errors = Counter(
            "serving_post_answer_errors_total",
            "Errors after the model answered (logging, shadow); the client still got its answer",
            registry=r,
        )
        self.swaps = Counter("serving_swaps_total", "Champion swaps done", registry=r)
        self.swap_failures = Counter(
            "serving_swap_failures_total", "Model versions that could not be loaded", ["role"], registry=r
        )
        self.feedback = Counter("serving_feedback_total", "Feedback labels received", ["kind"], registry=r)
        self.shadow_skipped = Counter(
            "serving_shadow_skipped_total",
            "Shadow scorings skipped because the shadow model was busy",
            registry=r,
        )
        self.champion = Info("serving_champion", "The model version being served", registry=r)
        self.champion.info({"version": ""})
        # Numeric twins of what the holder and the log know, read at scrape time (set_function):
        # alert rules compare numbers, not info labels.
        self.model_loaded = Gauge("serving_model_loaded", "1 when a champion model is loaded", registry=r)
        self.model_version = Gauge("serving_model_version", "Model version being served", registry=r)
        self.champion_alias_missing = Gauge(
            "serving_champion_alias_missing",
            "1 when the registry had no champion alias at the last check (the served model stays)",
            registry=r,
        )
        self.model_loaded_at = Gauge(
            "serving_model_loaded_timestamp_seconds", "When the served model was loaded", registry=r
        )
        self.log_capacity = Gauge(
            "serving_log_queue_capacity", "Prediction records held in memory before spilling", registry=r
        )
        self.log_db_down = Gauge(
            "serving_log_db_down", "1 while the prediction log cannot reach the database", registry=r
        )
        ProcessCollector(registry=r)

    def count_predictions(self, version: str, role: str, predictions: list[Any]) -> None:
        counts: dict[str, int] = {}
        for p in predictions:
            key = str(p) if not isinstance(p, float) else "value"  # regression: no class label
            counts[key] = counts.get(key, 0) + 1
        for label, n in counts.items():
            self.predictions.labels(version, label, role).inc(n)


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/api/runs/{run_id}``), or ``unmatched``: never the
    raw path, so unknown paths and path parameters create no new series. Whole because each control
    API router carries its own ``/api`` prefix (:func:`evergreen.serving.routes.schemas.control_router`)."""
    template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) and template else "unmatched"


# The status label of a request that ended with no answer at all: its client went away, or it was
# cancelled (a server stopping past its grace period). nginx's "client closed request": not a 5xx, so
# not a server error in the EvergreenServingErrors rule (deploy/prometheus/rules.yml).
NO_ANSWER_STATUS = "499"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status: int | None = None
        gone = False

        async def watch_receive() -> Message:
            nonlocal gone
            message = await receive()
            gone = gone or message["type"] == "http.disconnect"
            return message

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        cut = True  # until the app returns or raises an error: a cancellation is neither
        try:
            await self.app(scope, watch_receive, send_status)
            cut = gone
        except Exception:
            cut = False  # Starlette's outermost middleware answers the error with a 500
            raise
        finally:
            # No answer started: a 500 the server sends for an error or a return without an answer,
            # or nothing at all to a client that is gone or a request that was cancelled.
            shown = str(status) if status is not None else NO_ANSWER_STATUS if cut else "500"
            labels = (route_template(scope), scope["method"], shown)
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - start)
