"""Feature preprocessing shared by every candidate.

Helper functions are module-level (no lambdas, no closures) because the fitted pipeline is
serialised by MLflow with skops, which can only restore functions it can import by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from evergreen.data.values import canonical_str
from evergreen.errors import ConfigError

MISSING_CATEGORY = "__missing__"
TEXT_MAX_FEATURES = 2000
# Dense models (HistGradientBoosting) get a smaller vocabulary: a dense 2000-column TF-IDF block
# per text column costs memory and histogram time without helping tree models much.
DENSE_TEXT_MAX_FEATURES = 300


@dataclass(frozen=True)
class FeatureKinds:
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    text: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.numeric, *self.categorical, *self.text)


def _is_missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _category_str(value: Any) -> Any:
    # canonical_str: an int column with a gap is read as float, and 3.0 must stay the category "3".
    return np.nan if _is_missing(value) else canonical_str(value)


def categories_as_str(x: Any) -> NDArray[Any]:
    """Cast categories to ``str`` (missing stays NaN) so mixed int/str columns encode cleanly."""
    frame = pd.DataFrame(x)
    out = np.empty(frame.shape, dtype=object)
    for j in range(frame.shape[1]):
        out[:, j] = [_category_str(v) for v in frame.iloc[:, j].tolist()]
    return out


def text_column(x: Any) -> NDArray[Any]:
    """One text column → 1-D array of ``str`` with missing values as "" (what TfidfVectorizer wants)."""
    values = x.iloc[:, 0] if isinstance(x, pd.DataFrame) else pd.Series(np.asarray(x, dtype=object).ravel())
    return np.array(["" if _is_missing(v) else str(v) for v in values.tolist()], dtype=object)


def build_preprocessor(
    kinds: FeatureKinds, *, dense: bool = False, text_max_features: int | None = None
) -> ColumnTransformer:
    """ColumnTransformer over ``kinds``; other columns are dropped, so extra inputs are harmless.

    ``dense=True`` always returns a dense array (for estimators that reject sparse input).
    """
    if not kinds.columns:
        raise ConfigError("no feature columns: data.features lists no numeric, categorical or text column")
    max_features = text_max_features or (DENSE_TEXT_MAX_FEATURES if dense else TEXT_MAX_FEATURES)
    transformers: list[tuple[str, Any, Any]] = []
    if kinds.numeric:
        numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
        transformers.append(("numeric", numeric, list(kinds.numeric)))
    if kinds.categorical:
        categorical = Pipeline(
            [
                ("as_str", FunctionTransformer(categories_as_str, feature_names_out="one-to-one")),
                ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
                ("onehot", OneHotEncoder(handle_unknown="ignore")),
            ]
        )
        transformers.append(("categorical", categorical, list(kinds.categorical)))
    for i, column in enumerate(kinds.text):
        text = Pipeline(
            [
                ("fill", FunctionTransformer(text_column)),
                ("tfidf", TfidfVectorizer(max_features=max_features, sublinear_tf=True)),
            ]
        )
        transformers.append((f"text_{i}", text, [column]))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0 if dense else 0.3)
