"""How evergreen pipelines are written by MLflow.

MLflow 3 saves scikit-learn models with skops by default. skops refuses, at save time already (MLflow
loads the file back to check it), every type it does not know, and our pipelines contain some: the
preprocessing helper functions, the XGBoost label wrapper, boosters and sklearn tree internals.
The registry saves with evergreen's list plus ``training.trusted_types`` (:func:`evergreen.trust.
trusted_types`), so a model needing anything else is refused at registration already. MLflow stores
that list in the MLmodel file for other MLflow clients; evergreen itself never reads it back: it loads
the skops file with its own list (:func:`evergreen.trust.load_trusted`).
"""

from __future__ import annotations

from typing import Any

from evergreen.trust import BUILTIN_TRUSTED_TYPES

MLFLOW_SERIALIZATION_FORMAT = "skops"

# evergreen's own list lives with the loader (evergreen.trust), which never reads one from an artifact.
SKOPS_TRUSTED_TYPES: tuple[str, ...] = BUILTIN_TRUSTED_TYPES


def skops_trusted_types(model: Any) -> list[str]:
    """The types ``model`` needs trusted: the built-in list plus whatever a custom candidate adds.

    Custom candidates come from the project's own configuration ("package.module:factory"), so
    their types are as trusted as the configuration itself.
    """
    import skops.io

    found = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    return sorted(set(SKOPS_TRUSTED_TYPES) | set(found))
