"""evergreen: keeps machine-learning models fresh in production.

The public Python API is ``__all__`` below (pinned by ``tests/unit/test_public_api.py``)::

    import evergreen

    settings = evergreen.load_settings("evergreen.yaml")
    with evergreen.open_project(settings) as project:
        outcome = evergreen.RetrainRunner(project).run(evergreen.RetrainRequest(reason="new labels"))

Importing ``evergreen`` is cheap and has no side effect: each name is imported from its module on
first access (PEP 562 module ``__getattr__``), and no module of the package changes the environment,
sets up logging or registers an atexit hook when imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names as type checkers and IDEs see them; at run time they load on first use
    from evergreen.config import Settings, load_settings
    from evergreen.errors import (
        BadInputError,
        ConfigError,
        ConflictError,
        DataValidationError,
        EvergreenError,
        LockHeldError,
        NotFoundError,
    )
    from evergreen.evaluation.policy import Decision, ModelScore, Policy, decide
    from evergreen.monitoring.drift import DriftReport, data_drift
    from evergreen.pipeline import RetrainOutcome, RetrainRequest, RetrainRunner
    from evergreen.project import Project, open_project
    from evergreen.serving.app import create_app
    from evergreen.triggers.scheduler import Scheduler

# name → module that defines it
_EXPORTS: dict[str, str] = {
    # configuration and the project's resources
    "Settings": "evergreen.config",
    "load_settings": "evergreen.config",
    "Project": "evergreen.project",
    "open_project": "evergreen.project",
    # the retrain
    "RetrainRunner": "evergreen.pipeline",
    "RetrainRequest": "evergreen.pipeline",
    "RetrainOutcome": "evergreen.pipeline",
    # the promotion decision (pure)
    "decide": "evergreen.evaluation.policy",
    "Policy": "evergreen.evaluation.policy",
    "ModelScore": "evergreen.evaluation.policy",
    "Decision": "evergreen.evaluation.policy",
    # drift statistics (pure)
    "data_drift": "evergreen.monitoring.drift",
    "DriftReport": "evergreen.monitoring.drift",
    # the long-running parts
    "Scheduler": "evergreen.triggers.scheduler",
    "create_app": "evergreen.serving.app",
    # errors
    "EvergreenError": "evergreen.errors",
    "BadInputError": "evergreen.errors",
    "ConfigError": "evergreen.errors",
    "DataValidationError": "evergreen.errors",
    "NotFoundError": "evergreen.errors",
    "ConflictError": "evergreen.errors",
    "LockHeldError": "evergreen.errors",
}

__all__ = [
    "BadInputError",
    "ConfigError",
    "ConflictError",
    "DataValidationError",
    "Decision",
    "DriftReport",
    "EvergreenError",
    "LockHeldError",
    "ModelScore",
    "NotFoundError",
    "Policy",
    "Project",
    "RetrainOutcome",
    "RetrainRequest",
    "RetrainRunner",
    "Scheduler",
    "Settings",
    "__version__",
    "create_app",
    "data_drift",
    "decide",
    "load_settings",
    "open_project",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'evergreen' has no attribute {name!r}")
    globals()[name] = value  # the next access is a plain attribute lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("evergreen-ml")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "0.0.0"
