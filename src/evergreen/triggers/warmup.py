"""Load, before a long-running process says it is ready, what its first retrain would load on demand.

Short commands import as little as they can (DESIGN.md §2); a scheduler does the opposite. Without
this, the first file that lands after ``scheduler_started`` pays the cold imports (MLflow's store,
scikit-learn, skops, pyarrow's dataset layer) and MLflow's client start-up (its schema check) before
its retrain row exists — seconds, where every later arrival waits a fraction of one. The candidates'
fits run in forked processes, so what is imported here is imported there too.
"""

from __future__ import annotations

import contextlib
import importlib
import time

from evergreen.errors import one_line
from evergreen.logs import get_logger
from evergreen.project import Project

log = get_logger("evergreen.scheduler")

# What the first retrain, monitoring pass and alert evaluation import on demand.
MODULES = (
    "evergreen.pipeline",  # the retrain: data, training, evaluation, registry (MLflow)
    "evergreen.training.candidates",  # the built-in estimators' libraries (scikit-learn, XGBoost, LightGBM)
    "evergreen.monitoring.job",
    "evergreen.alerts.service",  # alerts are raised after each run
    "mlflow.pyfunc",  # loaded lazily by MLflow: the registry logs and loads models with these
    "mlflow.sklearn",
    "skops.io",  # the model format evergreen logs
    "pyarrow.dataset",  # reading the snapshots of the training window
)
# Imported when installed: the landing watcher (an optional dependency) starts at once after this.
OPTIONAL_MODULES = ("watchfiles",)


def warm_up(project: Project) -> float:
    """Import :data:`MODULES` and the custom candidates' modules, and open the MLflow client.

    Returns the seconds it took (logged). Failures are not raised: the scheduler still starts and the
    first retrain reports the problem where it belongs.
    """
    started = time.perf_counter()
    try:
        for name in MODULES:
            importlib.import_module(name)
        for name in OPTIONAL_MODULES:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        from evergreen.training.candidates import load_factory

        for spec in project.settings.training.candidates:
            if ":" in spec:  # a custom candidate ("pkg.mod:factory"): its module, not a call
                load_factory(spec)
        # MLflow's client checks its store's schema when created; the champion alias is what a
        # trigger evaluation reads first.
        project.registry.aliases()
    except Exception as exc:  # a broken candidate or an unreachable store: the first retrain says so
        log.warning("warm_up_failed", error=one_line(exc))
    seconds = time.perf_counter() - started
    log.info("warmed_up", seconds=round(seconds, 3))
    return seconds
