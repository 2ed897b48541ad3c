"""Helpers importable by tests (custom candidates need an importable module path)."""
