"""Training: preprocessing, candidate models and the isolated fit loop.

Import the pieces from their modules (``evergreen.training.fit`` etc.); this package module stays
light so that importing it does not pull in XGBoost and LightGBM.
"""

from evergreen.training.serialization import (
    MLFLOW_SERIALIZATION_FORMAT,
    SKOPS_TRUSTED_TYPES,
    skops_trusted_types,
)

__all__ = ["MLFLOW_SERIALIZATION_FORMAT", "SKOPS_TRUSTED_TYPES", "skops_trusted_types"]
