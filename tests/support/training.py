"""Custom candidates for the tests: a slow one, a broken one, a constant one, a non-estimator."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier, DummyRegressor

SLOW = "tests.support.training:slow_factory"
BROKEN = "tests.support.training:broken_factory"
CONSTANT = "tests.support.training:constant_factory"
CONSTANT_TWIN = "tests.support.training:constant_twin_factory"
STALLED = "tests.support.training:stalled_factory"  # a fit that never ends within a test
GATED = "tests.support.training:gated_factory"  # a fit that waits for GATE (threaded clusters only)

# A fit on an in-process cluster (threads) waits for GATE, up to GATE_SECONDS; FINISHED says it ended.
GATE = threading.Event()
FINISHED = threading.Event()
GATE_SECONDS = 30.0


class SleepyClassifier(ClassifierMixin, BaseEstimator):
    def __init__(self, seconds: float = 10.0) -> None:
        self.seconds = seconds

    def fit(self, X: Any, y: Any) -> SleepyClassifier:
        time.sleep(self.seconds)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X: Any) -> Any:
        return np.repeat(self.classes_[0], X.shape[0])


class BrokenClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X: Any, y: Any) -> BrokenClassifier:
        raise ValueError("boom: this model cannot fit\nsecond line is dropped")

    def predict(self, X: Any) -> Any:
        raise AssertionError("never fitted")


def slow_factory(task: str, seed: int) -> SleepyClassifier:
    return SleepyClassifier(10.0)


def stalled_factory(task: str, seed: int) -> SleepyClassifier:
    return SleepyClassifier(3600.0)


class GatedClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X: Any, y: Any) -> GatedClassifier:
        GATE.wait(GATE_SECONDS)
        FINISHED.set()
        self.classes_ = np.unique(y)
        return self

    def predict(self, X: Any) -> Any:
        return np.repeat(self.classes_[0], X.shape[0])


class MarkedSleeper(ClassifierMixin, BaseEstimator):
    """Writes ``marker`` once its fit has begun (the test knows the fit runs), then sleeps."""

    def __init__(self, marker: str = "", seconds: float = 20.0) -> None:
        self.marker = marker
        self.seconds = seconds

    def fit(self, X: Any, y: Any) -> MarkedSleeper:
        with open(self.marker, "w") as f:
            f.write("fitting")
        time.sleep(self.seconds)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X: Any) -> Any:
        return np.repeat(self.classes_[0], X.shape[0])


def gated_factory(task: str) -> GatedClassifier:
    return GatedClassifier()


def broken_factory() -> BrokenClassifier:
    return BrokenClassifier()


def constant_factory(task: str) -> Any:
    return DummyRegressor() if task == "regression" else DummyClassifier(strategy="most_frequent")


def constant_twin_factory(**kwargs: Any) -> Any:
    return constant_factory(kwargs["task"])


def seeded_factory(seed: int) -> DummyClassifier:
    return DummyClassifier(strategy="stratified", random_state=seed)


def not_an_estimator() -> str:
    return "hello"


def raising_factory(task: str) -> Any:
    raise RuntimeError("no GPU here")


def make_frame(task: str, n: int = 240, seed: int = 0) -> Any:
    """Numeric (with gaps), mixed int/str categorical and free-text columns plus a ``y`` target.

    The target depends on ``x1``, the plan and a word in the note, so a real model beats a constant.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.integers(0, 10, n).astype(float)
    plan = rng.choice(np.array(["basic", "pro", 3, 7], dtype=object), n)
    words = rng.choice(["great service", "slow support", "billing issue", "fine"], n)
    score = 2 * x1 + np.where(plan == "pro", 1.5, 0.0) + np.where(words == "slow support", -1.5, 0.0)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "plan": plan, "note": words})
    frame.loc[::9, "x2"] = np.nan
    frame.loc[::11, "note"] = None
    frame.loc[::13, "plan"] = None
    if task == "binary":
        frame["y"] = np.where(score > 0.3, "churn", "stay")
    elif task == "multiclass":
        frame["y"] = np.digitize(score, [-1.0, 1.0])  # ints 0, 1, 2
    else:
        frame["y"] = score + rng.normal(0, 0.1, n)
    return frame
