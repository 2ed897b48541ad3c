"""Custom candidate factories used by the end-to-end tests ("tests.support.candidates:NAME")."""

from __future__ import annotations

import os
import time
from typing import Any

from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression


class SlowLogistic(LogisticRegression):
    """Sleeps in fit so a test can kill the process mid-training."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> SlowLogistic:
        time.sleep(float(os.environ.get("EVERGREEN_TEST_SLOW_FIT", "60")))
        return super().fit(X, y, sample_weight)


class Broken(LogisticRegression):
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Broken:
        raise RuntimeError("this candidate always fails")


def slow(seed: int = 0) -> SlowLogistic:
    return SlowLogistic(random_state=seed)


def broken() -> Broken:
    return Broken()


def constant(seed: int = 0) -> DummyClassifier:
    """A model that cannot pass value gates: predicts the majority class."""
    return DummyClassifier(strategy="most_frequent")


class CustomLogistic(LogisticRegression):
    """A custom candidate's own class: loadable only when listed in ``training.trusted_types``."""


def custom_logistic(seed: int = 0) -> CustomLogistic:
    return CustomLogistic(random_state=seed)


class SlowPredictor(LogisticRegression):
    """Predicts slowly in the retrain's own process (not in a fitting worker), so a test can signal the
    process while the candidate is being registered (registration predicts on the input example)."""

    def predict(self, X: Any) -> Any:
        import multiprocessing

        if multiprocessing.parent_process() is None:
            time.sleep(float(os.environ.get("EVERGREEN_TEST_SLOW_PREDICT", "0")))
        return super().predict(X)


def slow_predictor(seed: int = 0) -> SlowPredictor:
    return SlowPredictor(random_state=seed)


def linear_svc(seed: int = 0) -> Any:
    """A classifier without ``predict_proba``: labels only."""
    from sklearn.svm import LinearSVC

    return LinearSVC(random_state=seed)
