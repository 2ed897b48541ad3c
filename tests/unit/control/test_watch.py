"""``control.watch``: the live pairs as the judge gets them (labels and predictions of mixed types,
the probabilities both models logged)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from evergreen.control.watch import _inputs
from evergreen.evaluation.watch import paired_score
from evergreen.store.watch import LabelledPair


def test_labels_and_predictions_of_different_types_are_the_same_classes() -> None:
    # A prediction logged as 1, a label sent as "1" or 1.0 (JSON keeps what the client sent), a row
    # with a missing side: the missing one is left out, the rest compare as the same class.
    pairs = [
        LabelledPair(1, 0, "1"),
        LabelledPair(0, 0, 0.0),
        LabelledPair(np.int64(1), 1, 1),
        LabelledPair("0", 1, 0),
        LabelledPair(None, 1, 1),
        LabelledPair(1, 1, math.nan),
    ]
    got = _inputs("binary", "accuracy", pairs)
    assert (got.y.tolist(), got.new.tolist(), got.old.tolist()) == (
        ["1", "0", "1", "0"],
        ["1", "0", "1", "0"],
        ["0", "0", "1", "1"],
    )
    score = paired_score("binary", "accuracy", got.y, got.new, got.old, samples=100)
    assert (score.rows, score.new, score.old) == (4, 1.0, 0.5)


def test_regression_pairs_are_floats_whatever_json_kept() -> None:
    pairs = [LabelledPair(1, 2.5, "3"), LabelledPair(0.5, 1, 1.0), LabelledPair(None, 1, 1)]
    got = _inputs("regression", "rmse", pairs)
    assert (got.y.tolist(), got.new.tolist(), got.old.tolist()) == ([3.0, 1.0], [1.0, 0.5], [2.5, 1.0])


def _proba_pairs() -> list[LabelledPair]:
    # (label, new model's P(yes), old model's P(yes)): the old one ranks every "yes" above every
    # "no"; the new one ranks one "no" (0.6) above one "yes" (0.55): AUC 5/6.
    rows = [("yes", 0.9, 0.8), ("no", 0.6, 0.1), ("yes", 0.55, 0.7), ("no", 0.2, 0.3), ("yes", 0.7, 0.9)]

    def label(p: float) -> str:
        return "yes" if p >= 0.5 else "no"

    return [
        LabelledPair(label(pn), label(po), y, {"no": 1 - pn, "yes": pn}, {"yes": po, "no": 1 - po})
        for y, pn, po in rows
    ]


def test_roc_auc_is_judged_on_the_logged_probabilities() -> None:
    pairs = _proba_pairs()
    got = _inputs("binary", "roc_auc", pairs)
    assert got.metric == "roc_auc" and got.classes == ("no", "yes")
    assert got.proba_old is not None and got.proba_old[1].tolist() == [0.9, 0.1]  # columns by class
    score = paired_score(
        "binary", got.metric, got.y, got.new, got.old,
        proba_new=got.proba_new, proba_old=got.proba_old, classes=got.classes, samples=200, seed=3,
    )  # fmt: skip
    truth = [p.label == "yes" for p in pairs]
    assert score.new == pytest.approx(roc_auc_score(truth, [p.new_proba["yes"] for p in pairs]), abs=1e-12)
    assert score.old == 1.0 and score.new == pytest.approx(5 / 6, abs=1e-12)
    log = _inputs("binary", "log_loss", pairs)
    assert log.metric == "log_loss"
    lost = paired_score(
        "binary", log.metric, log.y, log.new, log.old,
        proba_new=log.proba_new, proba_old=log.proba_old, classes=log.classes, samples=50,
    )  # fmt: skip
    expected = log_loss(truth, [p.new_proba["yes"] for p in pairs])
    assert lost.new == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda p: LabelledPair(p.new, p.old, p.label, None, p.old_proba),  # a model without predict_proba
        lambda p: LabelledPair(p.new, p.old, "maybe", p.new_proba, p.old_proba),  # a label of no class
        lambda p: LabelledPair(p.new, p.old, p.label, {"yes": "high", "no": 0.1}, p.old_proba),
        lambda p: LabelledPair(p.new, p.old, p.label, {"yes": math.nan, "no": math.nan}, p.old_proba),
        lambda p: LabelledPair(p.new, p.old, p.label, p.new_proba, {"yes": math.inf, "no": 0.0}),
        lambda p: LabelledPair(p.new, p.old, p.label, {"yes": 1.5, "no": -0.5}, p.old_proba),
        # Numbers in [0, 1] that are no distribution (monitoring refuses them the same way).
        lambda p: LabelledPair(p.new, p.old, p.label, {"yes": 0.3, "no": 0.3}, p.old_proba),
        lambda p: LabelledPair(p.new, p.old, p.label, p.new_proba, {"yes": True, "no": False}),
    ],
)
def test_without_usable_probabilities_the_labels_are_judged_by_accuracy(spoil) -> None:
    pairs = _proba_pairs()
    pairs[2] = spoil(pairs[2])
    got = _inputs("binary", "roc_auc", pairs)
    assert (got.metric, got.proba_new, got.classes) == ("accuracy", None, None)
