"""MLflow failing to answer which version is the champion, during a retrain."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE

from evergreen.errors import RegistryError
from evergreen.examples import churn
from evergreen.pipeline import RetrainRequest, RetrainRunner
from evergreen.registry import CHAMPION
from evergreen.store.runs import list_runs


def test_a_retrain_that_cannot_read_the_champion_fails_instead_of_promoting_a_first_model(
    trained_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any MLflow error used to read as "no aliases": the run judged its candidate as the first
    # model (value gates only, no comparison) and moved the alias over the champion it never saw.
    p = trained_project
    landing = p.settings.data.landing
    churn.make_batch(9, 1200, drifted=False).to_csv(landing / "late.csv", index=False)
    champion = p.registry.version_by_alias(CHAMPION)
    assert champion is not None

    real = p.registry.client.get_registered_model

    def unavailable_to_alias_reads(*a: Any, **k: Any) -> Any:
        # Registration (which reads the model too) still works: the outage hits each read of the
        # aliases, the dataset stage's and the promote stage's, as a flapping server would.
        if sys._getframe(1).f_code.co_name == "aliases":
            raise MlflowException("the registry is overloaded", error_code=TEMPORARILY_UNAVAILABLE)
        return real(*a, **k)

    monkeypatch.setattr(p.registry.client, "get_registered_model", unavailable_to_alias_reads)
    with pytest.raises(RegistryError, match="MLflow registry unavailable"):
        RetrainRunner(p).run(RetrainRequest(trigger="manual", force=True))
    monkeypatch.undo()

    newest = list_runs(p.store, limit=1)[0]
    assert newest["status"] == "failed" and newest["error"].startswith("registry_error: ")
    assert p.registry.version_by_alias(CHAMPION) == champion
    assert newest["candidate_version"] is None  # it stopped before training anything
