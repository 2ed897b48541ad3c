"""The public Python API is pinned, and importing evergreen (or any module of it) has no side effect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import evergreen

PUBLIC = [
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


def test_all_is_the_curated_list_and_every_name_resolves() -> None:
    assert evergreen.__all__ == PUBLIC
    for name in PUBLIC:
        assert getattr(evergreen, name) is not None, name
    assert set(PUBLIC) <= set(dir(evergreen))
    assert evergreen.EvergreenError is __import__("evergreen.errors").errors.EvergreenError
    assert isinstance(evergreen.__version__, str) and evergreen.__version__


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        evergreen.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


# Run in a fresh interpreter: what `import evergreen` and each submodule import does to the process.
PROBE = textwrap.dedent(
    """
    import atexit, importlib, json, logging, os, pkgutil, sys

    def handlers():
        loggers = [logging.getLogger()] + [
            l for l in logging.Logger.manager.loggerDict.values() if isinstance(l, logging.Logger)
        ]
        return sum(len(l.handlers) for l in loggers)

    def state():
        return dict(os.environ), atexit._ncallbacks(), handlers()

    env0, hooks0, handlers0 = state()
    import evergreen
    light = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
    evergreen_modules = sorted(m for m in sys.modules if m.startswith("evergreen"))
    assert state() == (env0, hooks0, handlers0), "import evergreen had a side effect"

    # The third-party libraries first: what they do when imported is theirs, not evergreen's.
    # (`python -m evergreen` is the CLI itself: __main__ runs, it is not imported.)
    for lib in THIRD_PARTY:
        importlib.import_module(lib)
    env1, hooks1, handlers1 = state()
    names = sorted(
        m.name for m in pkgutil.walk_packages(evergreen.__path__, "evergreen.")
        if ".migrations." not in m.name + "." and not m.name.endswith("__main__")
    )
    optional = []  # modules of an extra that is not installed in this venv (airflow, prefect)
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if (exc.name or "evergreen").startswith("evergreen"):
                raise
            optional.append(name)
    env2, hooks2, handlers2 = state()
    print(json.dumps({
        "light": light,
        "evergreen_modules": evergreen_modules,
        "modules": len(names) - len(optional),
        "optional": optional,
        "env": sorted(set(env2.items()) ^ set(env1.items())),
        "hooks": hooks2 - hooks1,
        "handlers": handlers2 - handlers1,
    }))
    """
)
HEAVY = ["mlflow", "sklearn", "pandas", "numpy", "sqlalchemy", "fastapi", "pydantic", "structlog", "yaml"]
THIRD_PARTY = [
    "mlflow",
    "mlflow.sklearn",
    "sklearn",
    "pandas",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "uvicorn",
    "typer",
    "rich",
    "httpx",
    "structlog",
    "prometheus_client",
    "scipy.stats",
]


def test_importing_evergreen_and_every_module_has_no_side_effect() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_DISABLE_TELEMETRY", "EVERGREEN_PII_SALT")}
    # MLflow's own opt-out, so that an evergreen module setting MLFLOW_DISABLE_TELEMETRY would show.
    env["DO_NOT_TRACK"] = "true"
    code = f"HEAVY = {HEAVY!r}\nTHIRD_PARTY = {THIRD_PARTY!r}\n{PROBE}"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["light"] == []  # `import evergreen` loads none of the heavy libraries ...
    assert report["evergreen_modules"] == ["evergreen"]  # ... and no module of its own
    assert report["modules"] > 80  # the walk really imported the package
    assert set(report["optional"]) <= {
        "evergreen.integrations.airflow",
        "evergreen.integrations.airflow_landing",  # the Asset watcher's trigger, run by the triggerer
        "evergreen.integrations.prefect",
    }
    assert report["env"] == []
    assert report["hooks"] == 0
    assert report["handlers"] == 0
