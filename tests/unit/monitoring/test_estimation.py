"""CBPE: isotonic calibration, the expected confusion matrix and the metrics read off it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from evergreen.evaluation.metrics import compute_metrics
from evergreen.monitoring.calibration import Calibrator, fit_calibrator
from evergreen.monitoring.estimation import (
    cbpe_metrics,
    confusion_metrics,
    estimated_roc_auc,
    expected_confusion,
)
from evergreen.monitoring.sampling import classification_scales, sigma


def test_expected_confusion_by_hand() -> None:
    calibrated = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    cm = expected_confusion(calibrated, np.array([0, 1, 0]))
    # rows: true class, columns: predicted; column 0 sums rows 0 and 2, column 1 is row 1.
    assert cm.ravel().tolist() == pytest.approx([1.5, 0.3, 0.5, 0.7], abs=1e-15)
    m = confusion_metrics(cm, ["no", "yes"])
    assert m["accuracy"] == pytest.approx(2.2 / 3, abs=1e-15)
    assert m["precision_class_no"] == pytest.approx(0.75, abs=1e-15)
    assert m["recall_class_no"] == pytest.approx(1.5 / 1.8, abs=1e-15)
    assert m["precision_class_yes"] == pytest.approx(0.7, abs=1e-15)
    assert m["recall_class_yes"] == pytest.approx(0.7 / 1.2, abs=1e-15)
    f1_no = 2 * 0.75 * (1.5 / 1.8) / (0.75 + 1.5 / 1.8)
    f1_yes = 2 * 0.7 * (0.7 / 1.2) / (0.7 + 0.7 / 1.2)
    assert m["f1_macro"] == pytest.approx((f1_no + f1_yes) / 2, abs=1e-15)
    assert m["f1_weighted"] == pytest.approx((1.8 * f1_no + 1.2 * f1_yes) / 3, abs=1e-15)


def test_confusion_metrics_of_a_hard_matrix_equal_compute_metrics() -> None:
    rng = np.random.default_rng(3)
    classes = ["a", "b", "c"]
    y = rng.choice(classes, 500, p=[0.5, 0.3, 0.2])
    pred = np.where(rng.random(500) < 0.7, y, rng.choice(classes, 500))
    codes = {c: i for i, c in enumerate(classes)}
    onehot_true = np.eye(3)[[codes[v] for v in y]]
    cm = expected_confusion(onehot_true, np.array([codes[v] for v in pred]))
    got = confusion_metrics(cm, classes)
    want = compute_metrics("multiclass", y, pred)
    for name in ("accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_weighted", "f1_class_b"):
        assert got[name] == pytest.approx(want[name], abs=1e-12), name
    assert got["accuracy"] == accuracy_score(y, pred)
    assert got["precision_macro"] == pytest.approx(precision_score(y, pred, average="macro"), abs=1e-12)
    assert got["recall_macro"] == pytest.approx(recall_score(y, pred, average="macro"), abs=1e-12)
    assert got["f1_class_c"] == pytest.approx(f1_score(y, pred, labels=["c"], average=None)[0], abs=1e-12)


def test_isotonic_map_by_hand() -> None:
    # Pool-adjacent-violators on y = [0, 1, 0, 1] sorted by p: [0, 0.5, 0.5, 1].
    knots = (np.array([0.1, 0.4, 0.6, 0.9]), np.array([0.0, 0.5, 0.5, 1.0]))
    cal = Calibrator(2, (knots,))
    out = cal.apply(np.array([[0.9, 0.1], [0.5, 0.5], [0.0, 1.0], [0.95, 0.05]]))
    assert out[:, 1].tolist() == pytest.approx([0.0, 0.5, 1.0, 0.0], abs=1e-15)
    assert out.sum(axis=1).tolist() == [1.0, 1.0, 1.0, 1.0]


def test_multiclass_calibration_rows_sum_to_one() -> None:
    rng = np.random.default_rng(0)
    proba = rng.dirichlet([1, 1, 1], 300)
    y = np.array([rng.choice(3, p=p) for p in proba])
    cal = fit_calibrator(proba, y)
    out = cal.apply(rng.dirichlet([2, 1, 1], 50))
    assert np.allclose(out.sum(axis=1), 1.0, atol=1e-12)
    assert ((out >= 0) & (out <= 1)).all()


def test_estimated_roc_auc_of_certain_probabilities_is_the_realised_one() -> None:
    # Probabilities that are the labels themselves: the expected ROC curve is the realised one.
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 400)
    score = y * 0.3 + rng.random(400)
    from sklearn.metrics import roc_auc_score

    assert estimated_roc_auc(y.astype(np.float64), score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def test_estimate_matches_realised_when_the_model_is_calibrated() -> None:
    # Labels drawn from the calibrated probabilities themselves: realised accuracy lands inside
    # the estimate's band (NannyML's sampling error, 3 sigma).
    rng = np.random.default_rng(11)
    ref_p = rng.beta(2, 2, 4000)
    ref_y = (rng.random(4000) < ref_p).astype(int)
    ref_proba = np.column_stack([1 - ref_p, ref_p])
    cal = fit_calibrator(ref_proba, ref_y)
    scales = classification_scales(ref_y, (ref_p >= 0.5).astype(np.intp), ref_proba, [0, 1])
    cur_p = rng.beta(5, 1, 2000)  # shifted toward confident positives
    cur_y = (rng.random(2000) < cur_p).astype(int)
    pred = (cur_p >= 0.5).astype(np.intp)
    est = cbpe_metrics(cal, np.column_stack([1 - cur_p, cur_p]), pred, [0, 1])
    realised = accuracy_score(cur_y, pred)
    s = sigma(scales, "accuracy", 2000)
    assert est["accuracy"] == pytest.approx(0.848834478073026, abs=1e-12)  # seeded
    assert est["roc_auc"] == pytest.approx(0.8055328553621474, abs=1e-12)
    assert s == pytest.approx(0.010404590333117398, abs=1e-12)
    assert realised == 0.839
    assert abs(est["accuracy"] - realised) <= 3 * s


@pytest.mark.parametrize("k", [2, 3])
def test_realised_from_codes_equals_compute_metrics(k: int) -> None:
    from evergreen.monitoring.estimation import realised_from_codes

    rng = np.random.default_rng(1)
    p = np.round(rng.dirichlet(np.ones(k), 5000), 2)  # rounded: many tied scores
    p = p / p.sum(axis=1, keepdims=True)
    yt, yp = rng.integers(0, k, 5000), p.argmax(axis=1)
    got = realised_from_codes(yt, yp, p, list(range(k)))
    want = compute_metrics("binary" if k == 2 else "multiclass", yt, yp, p, list(range(k)))
    assert set(got) == set(want)
    for name, value in want.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name
