"""Drift monitoring: pure statistics (``stattests``), column/dataset drift (``drift``), text drift."""

from evergreen.monitoring.drift import ColumnDrift, DriftReport, data_drift, infer_kind

__all__ = ["ColumnDrift", "DriftReport", "data_drift", "infer_kind"]
