"""Candidate models: the built-ins and ``"package.module:factory"`` custom ones.

Every pipeline is ``Pipeline([("preprocess", ColumnTransformer), ("model", estimator)])`` and
predicts the original labels (strings or ints), with ``predict_proba`` columns in ``classes_``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from lightgbm import LGBMClassifier, LGBMRegressor
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC, LinearSVR
from xgboost import XGBClassifier, XGBRegressor

from evergreen.errors import ConfigError, TrainingError, one_line
from evergreen.evaluation.metrics import is_classification
from evergreen.training.preprocessing import FeatureKinds, build_preprocessor

BUILTIN_CANDIDATES: tuple[str, ...] = (
    "logistic_regression",
    "random_forest",
    "hist_gradient_boosting",
    "xgboost",
    "lightgbm",
    "linear_svm",
)
# Estimators that reject scipy sparse input.
_DENSE_ONLY = frozenset({"hist_gradient_boosting"})
_LGBM_DEFAULTS: dict[str, Any] = {"n_estimators": 100, "n_jobs": 1, "verbose": -1}
_XGB_DEFAULTS: dict[str, Any] = {
    "n_estimators": 100,
    "max_depth": 6,
    "learning_rate": 0.1,
    "tree_method": "hist",
    "n_jobs": 1,
    "verbosity": 0,
}


class LabelEncodedClassifier(ClassifierMixin, BaseEstimator):
    """Fits ``estimator`` on 0..K-1 codes but speaks the original labels (XGBoost needs codes)."""

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any, **fit_params: Any) -> LabelEncodedClassifier:
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        self.estimator_ = clone(self.estimator).fit(X, codes, **fit_params)
        return self

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        return np.asarray(self.estimator_.predict_proba(X), dtype=np.float64)

    def predict(self, X: Any) -> NDArray[Any]:
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)])


def _classifier(name: str, seed: int, params: dict[str, Any]) -> Any:
    if name == "logistic_regression":
        return LogisticRegression(**{"max_iter": 1000, "random_state": seed, **params})
    if name == "random_forest":
        return RandomForestClassifier(**{"n_estimators": 100, "n_jobs": 1, "random_state": seed, **params})
    if name == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(**{"max_iter": 100, "random_state": seed, **params})
    if name == "xgboost":
        return LabelEncodedClassifier(XGBClassifier(**{**_XGB_DEFAULTS, "random_state": seed, **params}))
    if name == "lightgbm":
        # LGBMClassifier encodes labels itself and reports classes_ in the original labels.
        return LGBMClassifier(**{**_LGBM_DEFAULTS, "random_state": seed, **params})
    # linear_svm: calibration turns decision values into probabilities; cv=3 keeps it cheap.
    svc = LinearSVC(**{"random_state": seed, "max_iter": 5000, **params})
    return CalibratedClassifierCV(svc, cv=3, n_jobs=1)


def _regressor(name: str, seed: int, params: dict[str, Any]) -> Any:
    if name == "logistic_regression":
        return Ridge(**{"random_state": seed, **params})
    if name == "random_forest":
        return RandomForestRegressor(**{"n_estimators": 100, "n_jobs": 1, "random_state": seed, **params})
    if name == "hist_gradient_boosting":
        return HistGradientBoostingRegressor(**{"max_iter": 100, "random_state": seed, **params})
    if name == "xgboost":
        return XGBRegressor(**{**_XGB_DEFAULTS, "random_state": seed, **params})
    if name == "lightgbm":
        return LGBMRegressor(**{**_LGBM_DEFAULTS, "random_state": seed, **params})
    return LinearSVR(**{"random_state": seed, "max_iter": 5000, **params})


def builtin_estimator(name: str, task: str, seed: int, params: dict[str, Any] | None = None) -> Any:
    """The unfitted estimator of a built-in candidate; ``params`` override its constructor defaults."""
    if name not in BUILTIN_CANDIDATES:
        raise ConfigError(
            f"unknown candidate {name!r} in training.candidates: use one of "
            f"{', '.join(BUILTIN_CANDIDATES)} or 'package.module:factory'",
            details={"candidate": name},
        )
    make = _classifier if is_classification(task) else _regressor
    try:
        return make(name, seed, dict(params or {}))
    except TypeError as exc:
        raise ConfigError(f"training.params.{name}: {one_line(exc)}", details={"candidate": name}) from None


def load_factory(spec: str) -> Callable[..., Any]:
    """Import the ``factory`` of ``"package.module:factory"``."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise TrainingError(f"custom candidate {spec!r} must look like 'package.module:factory'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # an import can fail with anything the module raises
        raise TrainingError(
            f"custom candidate {spec!r}: cannot import module {module_name!r}: {one_line(exc)}"
        ) from exc
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise TrainingError(f"custom candidate {spec!r}: module {module_name!r} has no callable {attr!r}")
    return factory


def custom_estimator(spec: str, task: str, seed: int, params: dict[str, Any] | None = None) -> Any:
    """Call the factory with the keywords among (task, seed) it accepts; check what it returns."""
    factory = load_factory(spec)
    offered = {"task": task, "seed": seed}
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        kwargs: dict[str, Any] = {}
    else:
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
        kwargs = {k: v for k, v in offered.items() if takes_any or k in signature.parameters}
    try:
        estimator = factory(**kwargs)
    except Exception as exc:
        raise TrainingError(f"custom candidate {spec!r}: factory raised {one_line(exc)}") from exc
    if not (callable(getattr(estimator, "fit", None)) and callable(getattr(estimator, "predict", None))):
        raise TrainingError(
            f"custom candidate {spec!r}: factory returned {type(estimator).__name__}, "
            "which is not a scikit-learn estimator (needs fit and predict)"
        )
    if params:
        if not callable(getattr(estimator, "set_params", None)):
            raise TrainingError(f"custom candidate {spec!r}: params given but it has no set_params")
        try:
            estimator.set_params(**params)
        except ValueError as exc:
            raise ConfigError(f"training.params.{spec}: {one_line(exc)}") from None
    return estimator


def build_pipeline(
    name: str, task: str, kinds: FeatureKinds, seed: int, params: dict[str, Any] | None = None
) -> Pipeline:
    """Unfitted ``preprocess`` + ``model`` pipeline for one candidate."""
    if ":" in name:
        model = custom_estimator(name, task, seed, params)
        # A custom model may or may not take sparse input; dense is the safe default.
        dense = True
    else:
        model = builtin_estimator(name, task, seed, params)
        dense = name in _DENSE_ONLY
    return Pipeline([("preprocess", build_preprocessor(kinds, dense=dense)), ("model", model)])


def validate_candidates(names: tuple[str, ...] | list[str]) -> None:
    """Fail fast on a misspelt built-in name before any fitting starts."""
    if not names:
        raise ConfigError("training.candidates is empty: list at least one candidate")
    for name in names:
        if ":" not in name and name not in BUILTIN_CANDIDATES:
            builtin_estimator(name, "binary", 0)
