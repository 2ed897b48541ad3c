"""Evaluation: holdout metrics, paired bootstrap, slice metrics and the pure promotion policy."""
