"""What Prometheus reads about the loop: its state from the metadata DB, and the scheduler's endpoint.

``loop_state_collector(project)`` is registered by the serving app (``/metrics``) and by
``evergreen scheduler`` (``triggers.metrics_port``); ``deploy/`` holds the rules and the dashboard
that read it.
"""

from __future__ import annotations

from evergreen.observability.collector import LoopStateCollector, loop_state_families
from evergreen.observability.state import LoopState, read_loop_state
from evergreen.observability.wiring import loop_state_collector, start_scheduler_metrics

__all__ = [
    "LoopState",
    "LoopStateCollector",
    "loop_state_collector",
    "loop_state_families",
    "read_loop_state",
    "start_scheduler_metrics",
]
