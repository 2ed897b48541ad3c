"""compute_metrics and slice_metrics against hand-computed numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from evergreen.config import metric_unknown
from evergreen.evaluation.metrics import compute_metrics, label_key
from evergreen.evaluation.slices import MISSING, slice_metrics


def test_binary_metrics_exact() -> None:
    y_true = ["a", "a", "b", "b", "b"]
    y_pred = ["a", "b", "b", "b", "a"]
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    m = compute_metrics("binary", y_true, y_pred, proba, ["a", "b"])
    assert m["accuracy"] == pytest.approx(0.6, abs=1e-15)
    assert m["f1_class_a"] == pytest.approx(0.5, abs=1e-15)
    assert m["precision_class_b"] == pytest.approx(2 / 3, abs=1e-15)
    assert m["recall_class_b"] == pytest.approx(2 / 3, abs=1e-15)
    assert m["f1_macro"] == pytest.approx((0.5 + 2 / 3) / 2, abs=1e-15)
    assert m["f1_weighted"] == pytest.approx((2 * 0.5 + 3 * 2 / 3) / 5, abs=1e-15)
    # Positive class is classes[1] = "b": 5 of the 6 (pos, neg) pairs are ordered correctly.
    assert m["roc_auc"] == pytest.approx(5 / 6, abs=1e-15)
    assert m["roc_auc"] == pytest.approx(roc_auc_score([0, 0, 1, 1, 1], proba[:, 1]), abs=1e-15)
    assert m["log_loss"] == pytest.approx(log_loss(y_true, proba, labels=["a", "b"]), abs=1e-15)
    assert all(type(v) is float for v in m.values())


def test_multiclass_auc_averages_present_classes_only() -> None:
    y_true = np.array([0, 0, 1, 1, 0, 1])  # class 2 never occurs in this holdout
    proba = np.array(
        [[0.7, 0.2, 0.1], [0.5, 0.3, 0.2], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4], [0.2, 0.5, 0.3], [0.1, 0.6, 0.3]]
    )
    y_pred = np.array([0, 0, 1, 2, 1, 1])
    m = compute_metrics("multiclass", y_true, y_pred, proba, [0, 1, 2])
    expected = (roc_auc_score(y_true == 0, proba[:, 0]) + roc_auc_score(y_true == 1, proba[:, 1])) / 2
    assert m["roc_auc"] == pytest.approx(expected, abs=1e-15)
    assert m["f1_class_2"] == 0.0
    assert m["log_loss"] == pytest.approx(log_loss(y_true, proba, labels=[0, 1, 2]), abs=1e-15)


def test_roc_auc_skipped_with_one_class_and_without_proba() -> None:
    m = compute_metrics("binary", ["a", "a"], ["a", "b"], np.array([[0.6, 0.4], [0.3, 0.7]]), ["a", "b"])
    assert "roc_auc" not in m
    assert "log_loss" in m
    assert "roc_auc" not in compute_metrics("binary", ["a", "b"], ["a", "b"])


def test_regression_metrics_exact() -> None:
    m = compute_metrics("regression", [1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    assert m == {"rmse": pytest.approx(math.sqrt(4 / 3), abs=1e-15), "mae": pytest.approx(2 / 3), "r2": -1.0}


def test_label_key_prints_integral_floats_as_ints() -> None:
    assert [label_key(v) for v in (1.0, np.int64(3), "x", 2.5)] == ["1", "3", "x", "2.5"]


def test_slice_metrics_skip_small_slices_and_name_missing() -> None:
    frame = pd.DataFrame({"plan": ["a"] * 4 + ["b"] * 3 + [None] * 4, "n": [1] * 11})
    y_true = np.array([1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0])
    y_pred = np.array([1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0])
    out = slice_metrics(frame, ["plan"], y_true, y_pred, "binary", "accuracy", min_rows=4)
    assert out == {"plan": {"a": {"rows": 4, "value": 0.75}, MISSING: {"rows": 4, "value": 0.75}}}


def test_slice_metrics_rejects_misaligned_input() -> None:
    with pytest.raises(ValueError, match="align"):
        slice_metrics(pd.DataFrame({"p": [1, 2]}), ["p"], [1], [1], "binary", "accuracy")


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_metric_computed_is_one_the_settings_know(task: str) -> None:
    # config names the metrics a setting may refer to; this keeps it in step with what is computed.
    rng = np.random.default_rng(3)
    if task == "regression":
        y_true, y_pred = rng.normal(size=20), rng.normal(size=20)
        m = compute_metrics(task, y_true, y_pred, None, None)
    else:
        classes = ["a", "b"] if task == "binary" else ["a", "b", "c"]
        y_true = rng.choice(classes, size=30)
        proba = rng.dirichlet(np.ones(len(classes)), size=30)
        m = compute_metrics(task, y_true, np.asarray(classes)[proba.argmax(axis=1)], proba, classes)
    assert "accuracy" in m or "rmse" in m
    assert {name: metric_unknown(name, task) for name in m if metric_unknown(name, task)} == {}


def test_the_per_class_metrics_of_odd_labels_are_ones_the_settings_know() -> None:
    # A label is any value of the target: an empty string (parquet/JSON keep it), a line break
    # (a quoted CSV field), spaces. A gate on its class must load like any other.
    labels = np.array(["", "two\nlines", " spaced ", "yes"] * 3, dtype=object)
    m = compute_metrics("multiclass", labels, labels)
    per_class = [name for name in m if "_class_" in name]
    assert len(per_class) == 12
    assert {
        name: metric_unknown(name, "multiclass") for name in per_class if metric_unknown(name, "multiclass")
    } == {}
