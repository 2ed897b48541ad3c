"""``control.watch``: the live pairs as the judge gets them (labels and predictions of mixed types)."""

from __future__ import annotations

import math

import numpy as np

from evergreen.control.watch import _arrays
from evergreen.evaluation.watch import paired_score


def test_labels_and_predictions_of_different_types_are_the_same_classes() -> None:
    # A prediction logged as 1, a label sent as "1" or 1.0 (JSON keeps what the client sent), a row
    # with a missing side: the missing one is left out, the rest compare as the same class.
    pairs = [
        (1, 0, "1"),
        (0, 0, 0.0),
        (np.int64(1), 1, 1),
        ("0", 1, 0),
        (None, 1, 1),
        (1, 1, math.nan),
    ]
    y, new, old = _arrays("binary", pairs)
    assert (y.tolist(), new.tolist(), old.tolist()) == (
        ["1", "0", "1", "0"],
        ["1", "0", "1", "0"],
        ["0", "0", "1", "1"],
    )
    score = paired_score("binary", "accuracy", y, new, old, samples=100)
    assert (score.rows, score.new, score.old) == (4, 1.0, 0.5)


def test_regression_pairs_are_floats_whatever_json_kept() -> None:
    y, new, old = _arrays("regression", [(1, 2.5, "3"), (0.5, 1, 1.0), (None, 1, 1)])
    assert (y.tolist(), new.tolist(), old.tolist()) == ([3.0, 1.0], [1.0, 0.5], [2.5, 1.0])
