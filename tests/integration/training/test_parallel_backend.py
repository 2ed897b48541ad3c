"""training.parallel_backend: the candidates fitted by a real Dask cluster through joblib's backend.

A ``LocalCluster`` in this process (one worker, two threads: light on a shared machine) stands in
for a remote one: the scheduler address is all evergreen is given, as in production.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from evergreen.config import TrainingConfig
from evergreen.errors import ConfigError, RunStoppedError
from evergreen.training.fit import train_candidates
from evergreen.training.preprocessing import FeatureKinds
from tests.support import training as gated
from tests.support.training import BROKEN, CONSTANT, GATED, SLOW, make_frame

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

KINDS = FeatureKinds(numeric=("x1", "x2"), categorical=("plan",), text=("note",))
CANDIDATES = (CONSTANT, "logistic_regression", "random_forest")


def _config(*candidates: str, **kw: Any) -> TrainingConfig:
    return TrainingConfig(candidates=candidates, seed=7, **kw)


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


def test_dask_fits_every_candidate_and_the_refit_with_the_same_numbers_as_loky(scheduler: str) -> None:
    frame = make_frame("binary", n=200)
    local = train_candidates(frame, "y", KINDS, "binary", _config(*CANDIDATES), "f1_macro")
    events: list[tuple[str, dict[str, Any]]] = []
    with distributed.Client(scheduler) as client, distributed.get_task_stream(client) as stream:
        on_dask = train_candidates(
            frame,
            "y",
            KINDS,
            "binary",
            _config(*CANDIDATES, parallel_backend="dask", cluster_address=scheduler),
            "f1_macro",
            on_event=lambda e, p: events.append((e, p)),
        )
    # The cluster ran the fits: three candidates and the refit, each a joblib batch on the worker.
    ran = [t["key"] for t in stream.data if "_remote" in str(t["key"])]
    assert len(ran) == 4, ran
    # Seeded fits give the same validation numbers wherever they run.
    assert [c.name for c in on_dask.candidates] == list(CANDIDATES)
    assert [c.status for c in on_dask.candidates] == ["ok", "ok", "ok"]
    for a, b in zip(local.candidates, on_dask.candidates, strict=True):
        assert a.val_metrics == b.val_metrics
    assert on_dask.best_name == local.best_name
    assert on_dask.model.predict(frame).tolist() == local.model.predict(frame).tolist()
    # Every candidate was started before any finished (handed to the cluster at once), each finished once.
    names = [e for e, _ in events]
    assert names[:3] == ["candidate_started"] * 3
    assert sorted(p["name"] for e, p in events if e == "candidate_finished") == sorted(CANDIDATES)


def test_a_candidate_failing_on_the_cluster_fails_alone(scheduler: str) -> None:
    frame = make_frame("binary", n=160)
    result = train_candidates(
        frame,
        "y",
        KINDS,
        "binary",
        _config(BROKEN, "logistic_regression", parallel_backend="dask", cluster_address=scheduler),
        "f1_macro",
    )
    broken, logistic = result.candidates
    assert (broken.status, logistic.status) == ("failed", "ok")
    assert broken.error and "boom" in broken.error.lower()
    assert result.best_name == "logistic_regression"


@pytest.mark.skipif(importlib.util.find_spec("ray") is not None, reason="ray is installed here")
def test_a_backend_whose_package_is_missing_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"training\.parallel_backend: ray needs ray.*evergreen-ml\[ray\]"):
        train_candidates(
            make_frame("binary", n=80),
            "y",
            KINDS,
            "binary",
            _config("logistic_regression", parallel_backend="ray"),
            "f1_macro",
        )


def test_a_fit_the_cluster_does_not_finish_in_time_is_a_timeout_alone(scheduler: str) -> None:
    # A remote task cannot be killed: past timeout_minutes it is given up on, recorded as timed out,
    # and the candidates that answered still compete (the sleeper occupies one of the two threads).
    frame = make_frame("binary", n=120)
    result = train_candidates(
        frame,
        "y",
        KINDS,
        "binary",
        _config(SLOW, CONSTANT, timeout_minutes=0.1, parallel_backend="dask", cluster_address=scheduler),
        "f1_macro",
    )
    slow, constant = result.candidates
    assert (slow.status, constant.status) == ("timeout", "ok")
    assert slow.error and "did not finish the fit within the timeout of 6 s" in slow.error
    assert result.best_name == CONSTANT


def _stopped_once_started(candidate: str, timeout_minutes: float, scheduler: str) -> None:
    """Fit ``candidate`` on the cluster; the stop flag is set once its fit is handed over."""
    stop = threading.Event()
    config = _config(
        candidate, timeout_minutes=timeout_minutes, parallel_backend="dask", cluster_address=scheduler
    )
    train_candidates(
        make_frame("binary", n=120),
        "y",
        KINDS,
        "binary",
        config,
        "f1_macro",
        on_event=lambda event, _payload: stop.set() if event == "candidate_started" else None,
        stop=stop,
    )


def test_a_stop_while_the_cluster_fits_ends_the_fitting_as_stopped_not_as_timed_out(scheduler: str) -> None:
    # The stop comes once the fits are handed over (the scheduler's SIGTERM); no answer comes before
    # the timeout. The run must end as stopped (abandoned), not as every candidate timed out (failed,
    # its causes given up on and a failure alert raised).
    with pytest.raises(RunStoppedError, match="cut short"):
        _stopped_once_started(SLOW, 0.05, scheduler)


def test_a_stop_while_a_cluster_fit_runs_is_not_waited_out(scheduler: str) -> None:
    # The scheduler's SIGTERM only sets the flag. Before, the flag was looked at only when the cluster
    # answered: the stop waited for the fit (up to timeout_minutes). The fit below ends only when the
    # test opens its gate (or after GATE_SECONDS): the stop must be honoured while it still runs.
    gated.GATE.clear()
    gated.FINISHED.clear()
    try:
        with pytest.raises(RunStoppedError, match="on the cluster was cut short"):
            _stopped_once_started(GATED, 60, scheduler)
        assert not gated.FINISHED.is_set()
    finally:
        gated.GATE.set()  # the worker's thread goes free; the cluster's late answer is dropped
