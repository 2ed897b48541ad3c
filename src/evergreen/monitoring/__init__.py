"""Monitoring: column drift (``data_drift``), multivariate drift (``multivariate_drift``) and
performance estimation with sampling-error bands (``estimate_performance``), on plain DataFrames.

The names are imported on first use (PEP 562), so ``import evergreen.monitoring`` pulls in neither
scipy, sklearn nor LightGBM.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evergreen.monitoring.api import (
        ChunkEstimate,
        MetricEstimate,
        PerformanceEstimate,
        estimate_performance,
    )
    from evergreen.monitoring.drift import ColumnDrift, DriftReport, data_drift, infer_kind
    from evergreen.monitoring.multivariate import MultivariateDriftResult, multivariate_drift

_EXPORTS = {
    "ColumnDrift": "drift",
    "DriftReport": "drift",
    "data_drift": "drift",
    "infer_kind": "drift",
    "ChunkEstimate": "api",
    "MetricEstimate": "api",
    "PerformanceEstimate": "api",
    "estimate_performance": "api",
    "MultivariateDriftResult": "multivariate",
    "multivariate_drift": "multivariate",
}

__all__ = [
    "ChunkEstimate",
    "ColumnDrift",
    "DriftReport",
    "MetricEstimate",
    "MultivariateDriftResult",
    "PerformanceEstimate",
    "data_drift",
    "estimate_performance",
    "infer_kind",
    "multivariate_drift",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evergreen.monitoring' has no attribute {name!r}")
    value = getattr(import_module(f"evergreen.monitoring.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
