"""Direct loss estimation (DLE): a regressor's MAE and RMSE before the labels arrive.

As NannyML's DLE: on the reference holdout, where labels are known, two gradient-boosted models
learn the absolute and the squared error of each row from the row's inputs and the model's
prediction. On a window, the mean of the predicted absolute errors estimates MAE and the root of
the mean predicted squared error estimates RMSE (negative predictions are clipped to 0). Like
CBPE it assumes P(y | x) did not change; unlike CBPE it needs the inputs, not only the outputs.

LightGBM with its default trees is what NannyML fits; here it is seeded, single-threaded and
``deterministic`` so that the same reference gives the same numbers on every machine. Text columns
are left out (a bag of words would need its own model); categorical columns keep the reference's
categories, so a value the reference never saw counts as missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evergreen.monitoring.calibration import FloatArray

PREDICTION_COLUMN = "__evergreen_prediction__"
SEED = 42


@dataclass(frozen=True)
class LossModel:
    numeric: tuple[str, ...]
    categories: Mapping[str, tuple[Any, ...]]  # categorical column -> the reference's categories
    absolute: Any  # LGBMRegressor of |y - y_pred|
    squared: Any  # LGBMRegressor of (y - y_pred)^2

    def frame(self, features: pd.DataFrame, y_pred: FloatArray) -> pd.DataFrame:
        return _design(features, y_pred, self.numeric, self.categories)

    def estimate(self, features: pd.DataFrame, y_pred: FloatArray) -> dict[str, float]:
        """Estimated ``mae``, ``mse`` and ``rmse`` of a window."""
        absolute, squared = self.losses(features, y_pred)
        return summarize_losses(absolute, squared)

    def losses(self, features: pd.DataFrame, y_pred: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Each row's predicted absolute and squared error (negative predictions clipped to 0).
        A row's prediction does not depend on the others, so a caller may predict many windows
        at once and average each window's rows (:func:`summarize_losses`)."""
        x = self.frame(features, y_pred)
        if len(x) == 0:
            return np.zeros(0), np.zeros(0)
        # Trained on one thread (reproducible trees); predicted on all of them, as NannyML does:
        # each row is scored on its own, so the numbers do not depend on the thread count.
        absolute = np.maximum(0.0, self.absolute.predict(x, num_threads=0))
        squared = np.maximum(0.0, self.squared.predict(x, num_threads=0))
        return np.asarray(absolute, dtype=np.float64), np.asarray(squared, dtype=np.float64)


def summarize_losses(absolute: FloatArray, squared: FloatArray) -> dict[str, float]:
    """``mae``, ``mse`` and ``rmse`` of a window from its rows' predicted errors ({} without rows)."""
    if len(absolute) == 0:
        return {}
    mse = float(np.mean(squared))
    return {"mae": float(np.mean(absolute)), "mse": mse, "rmse": float(np.sqrt(mse))}


def _design(
    features: pd.DataFrame,
    y_pred: FloatArray,
    numeric: tuple[str, ...],
    categories: Mapping[str, tuple[Any, ...]],
) -> pd.DataFrame:
    # Named by position: LightGBM refuses some names (JSON characters such as "price[usd]", tuples).
    values: list[Any] = [
        pd.to_numeric(features[name], errors="coerce").to_numpy(dtype=np.float64) for name in numeric
    ]
    for name, levels in categories.items():
        values.append(pd.Categorical(features[name].to_numpy(dtype=object), categories=list(levels)))
    columns = {f"c{i}": v for i, v in enumerate(values)}
    columns[PREDICTION_COLUMN] = np.asarray(y_pred, dtype=np.float64)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(features)))


def _regressor() -> Any:
    from lightgbm import LGBMRegressor

    return LGBMRegressor(random_state=SEED, n_jobs=1, deterministic=True, force_row_wise=True, verbose=-1)


def fit_loss_model(
    features: pd.DataFrame,
    kinds: Mapping[str, str],
    y_true: FloatArray,
    y_pred: FloatArray,
) -> LossModel:
    """Fit both error models on the reference holdout (``kinds``: numeric | categorical | text)."""
    numeric = tuple(c for c in features.columns if kinds.get(c) == "numeric")
    categories: dict[str, tuple[Any, ...]] = {}
    for c in features.columns:
        if kinds.get(c) == "categorical":
            present = pd.Series(features[c].to_numpy(dtype=object)).dropna().unique().tolist()
            try:
                present.sort()
            except TypeError:  # mixed types: any fixed order will do
                present.sort(key=repr)
            categories[c] = tuple(present)
    x = _design(features, y_pred, numeric, categories)
    err = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    # Each model is fitted on one thread (reproducible trees), so the two can run side by side:
    # LightGBM releases the GIL while it trains.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="evergreen-dle-fit") as pool:
        absolute = pool.submit(_regressor().fit, x, np.abs(err))
        squared = pool.submit(_regressor().fit, x, err**2)
        return LossModel(numeric, categories, absolute.result(), squared.result())
