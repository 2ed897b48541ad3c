"""How evergreen pipelines are written by MLflow.

MLflow 3 saves scikit-learn models with skops by default. skops refuses, at save time already (MLflow
loads the file back to check it), every type it does not know, and our pipelines contain some: the
preprocessing helper functions, the XGBoost label wrapper, boosters and sklearn tree internals.
Pass :func:`skops_trusted_types` as ``skops_trusted_types=`` to ``mlflow.sklearn.log_model`` /
``save_model``; MLflow stores the list in the MLmodel file and uses it again on load.

MLflow (>= 3.x) also refuses to *load* any sklearn model, skops included, unless the environment
has ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true``; whoever loads the champion must set it.
"""

from __future__ import annotations

from typing import Any

MLFLOW_SERIALIZATION_FORMAT = "skops"

# Every non-default type the built-in candidates need (binary, multiclass and regression).
SKOPS_TRUSTED_TYPES: tuple[str, ...] = (
    "collections.OrderedDict",
    "evergreen.training.candidates.LabelEncodedClassifier",
    "evergreen.training.preprocessing.categories_as_str",
    "evergreen.training.preprocessing.text_column",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
)


def skops_trusted_types(model: Any) -> list[str]:
    """The types ``model`` needs trusted: the built-in list plus whatever a custom candidate adds.

    Custom candidates come from the project's own configuration ("package.module:factory"), so
    their types are as trusted as the configuration itself.
    """
    import skops.io

    found = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    return sorted(set(SKOPS_TRUSTED_TYPES) | set(found))
