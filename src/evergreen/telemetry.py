"""evergreen opts out of MLflow's usage telemetry by an explicit call, never as a side effect of import.

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
