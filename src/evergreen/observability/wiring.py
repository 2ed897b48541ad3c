"""Build the collector for a project, and the scheduler's own ``/metrics`` endpoint."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from threading import Thread
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Gauge, ProcessCollector, start_http_server

from evergreen.observability.collector import LoopStateCollector
from evergreen.observability.state import read_loop_state
from evergreen.store.locks import retrain_lock_name
from evergreen.store.requests import scheduler_lock_name

if TYPE_CHECKING:
    from evergreen.project import Project
    from evergreen.triggers.scheduler import Scheduler


def loop_state_collector(project: Project, *, ttl_seconds: float = 10.0) -> LoopStateCollector:
    s = project.settings
    # The windows the scheduled job reports on, and the default one of `evergreen monitor`; ad-hoc
    # windows (batch:12, 90m) would each make new series, so they stay out.
    windows = tuple(dict.fromkeys((*s.monitoring.scheduled_windows, s.monitoring.window)))
    read = functools.partial(
        read_loop_state,
        project.store,
        windows,
        retrain_lock=retrain_lock_name(s.project),
        scheduler_lock=scheduler_lock_name(s.project),
    )
    return LoopStateCollector(
        read, project=s.project, levels=s.alerts.levels_by_score(), ttl_seconds=ttl_seconds
    )


@dataclass(frozen=True)
class MetricsServer:
    server: WSGIServer
    thread: Thread
    registry: CollectorRegistry

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def start_scheduler_metrics(project: Project, scheduler: Scheduler, host: str, port: int) -> MetricsServer:
    """Serve ``/metrics`` of ``evergreen scheduler`` in a thread: the loop's state and its own pulse."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(loop_state_collector(project))
    ProcessCollector(registry=registry)
    labels = {"project": project.settings.project}

    def ts(attr: str) -> float:
        at = getattr(scheduler, attr, None)
        return float("nan") if at is None else float(at.timestamp())

    tick = Gauge(
        "evergreen_scheduler_last_tick_timestamp_seconds",
        "When the scheduler's loop last started a pass",
        list(labels),
        registry=registry,
    )
    tick.labels(**labels).set_function(lambda: ts("last_tick_at"))
    started = Gauge(
        "evergreen_scheduler_started_timestamp_seconds",
        "When this scheduler process took the lease",
        list(labels),
        registry=registry,
    )
    started.labels(**labels).set_function(lambda: ts("started_at"))
    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(server, thread, registry)
