"""The MLflow environment evergreen chooses, by explicit calls, never as a side effect of import.

Each value is set only when the user has not chosen one: MLflow's own variables keep their meaning.

Telemetry: evergreen opts out of MLflow's usage telemetry.

MLflow decides at ``import mlflow`` whether to create its telemetry client, and again before sending
each event. So the entry points (the CLI's ``main``, the serving app factory) call
:func:`disable_mlflow_telemetry` before anything imports MLflow, and :class:`evergreen.registry.Registry`
calls it before its first MLflow call, which covers library use (e.g. an orchestrator task).
"""

from __future__ import annotations

import os

MLFLOW_TELEMETRY_ENV = "MLFLOW_DISABLE_TELEMETRY"


def disable_mlflow_telemetry() -> None:
    """Set ``MLFLOW_DISABLE_TELEMETRY=true`` unless the user already chose a value."""
    os.environ.setdefault(MLFLOW_TELEMETRY_ENV, "true")


# MLflow's client retries a tracking server's failed request 7 times with a backoff factor of 2 and
# waits up to 120 s for each answer: an `evergreen status` against a server that is down waited ~4 min
# before it said anything. evergreen retries a failed retrain stage itself (triggers.backoff_*) and a
# serving watcher polls again, so MLflow's own retries only need to ride out a blip.
MLFLOW_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",  # waits 0, 2, 4 s (+ MLflow's jitter of up to 1 s)
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",  # seconds without an answer (a byte), not for a whole upload
}


def bound_mlflow_http_waits() -> None:
    """Set :data:`MLFLOW_HTTP_DEFAULTS` where the user has not set the variable."""
    for name, value in MLFLOW_HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
