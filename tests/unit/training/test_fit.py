"""train_candidates: isolation (failure, timeout), selection, refit, events."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import numpy as np
import pytest

from evergreen.config import TrainingConfig
from evergreen.errors import ConfigError, RunStoppedError, TrainingError
from evergreen.evaluation.metrics import compute_metrics
from evergreen.training.candidates import build_pipeline
from evergreen.training.fit import split_validation, train_candidates
from evergreen.training.preprocessing import FeatureKinds
from tests.support.training import BROKEN, CONSTANT, CONSTANT_TWIN, STALLED, make_frame

KINDS = FeatureKinds(numeric=("x1", "x2"), categorical=("plan",), text=("note",))


def _config(*candidates: str, **kw: Any) -> TrainingConfig:
    return TrainingConfig(candidates=candidates, seed=7, **kw)


def test_best_candidate_is_selected_scored_and_refit_on_all_rows() -> None:
    frame = make_frame("binary", n=200)
    events: list[tuple[str, dict[str, Any]]] = []
    result = train_candidates(
        frame,
        "y",
        KINDS,
        "binary",
        _config(CONSTANT, "logistic_regression"),
        "f1_macro",
        on_event=lambda e, p: events.append((e, p)),
    )
    assert result.best_name == "logistic_regression"
    assert [c.status for c in result.candidates] == ["ok", "ok"]
    assert (result.validation_rows, result.training_rows) == (40, 200)
    # The validation numbers are exactly what the same seeded split and fit give outside the child.
    fit_part, val_part = split_validation(frame, "y", "binary", 0.2, 7)
    assert len(val_part) == 40 and sorted(val_part["y"].value_counts().tolist()) == sorted(
        (frame["y"].value_counts() * 0.2).round().astype(int).tolist()
    )
    expected_pipe = build_pipeline("logistic_regression", "binary", KINDS, 7).fit(fit_part, fit_part["y"])
    expected = compute_metrics(
        "binary",
        val_part["y"],
        expected_pipe.predict(val_part),
        expected_pipe.predict_proba(val_part),
        expected_pipe.classes_,
    )
    assert result.best.val_metrics == expected
    assert result.candidates[0].val_metrics["f1_macro"] < expected["f1_macro"]
    # Refit: the final model saw all 200 rows; the candidate's own pipeline only the 160 fit rows.
    assert (
        result.model.named_steps["preprocess"].named_transformers_["numeric"]["scale"].n_samples_seen_ == 200
    )
    assert result.best.pipeline is not None
    assert (
        result.best.pipeline.named_steps["preprocess"].named_transformers_["numeric"]["scale"].n_samples_seen_
        == 160
    )
    assert result.model.predict(frame.head(3)).tolist()[0] in {"churn", "stay"}
    assert result.fit_seconds_total >= sum(c.fit_seconds for c in result.candidates) > 0
    assert result.candidates[1].params["C"] == 1.0 and result.candidates[1].params["random_state"] == 7
    assert [e for e, _ in events] == [
        "candidate_started",
        "candidate_finished",
        "candidate_started",
        "candidate_finished",
        "refit_started",
        "refit_finished",
    ]
    assert events[3][1]["value"] == expected["f1_macro"]


def test_a_stop_asked_mid_fit_kills_the_fit_and_ends_the_training() -> None:
    # The scheduler's SIGTERM handler only sets the flag: the fit's own wait must see it. Without
    # that the hour-long fit below would run to its end (or to the timeout) before anything stops.
    frame = make_frame("binary", n=120)
    stop = threading.Event()
    events: list[str] = []
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    try:
        with pytest.raises(RunStoppedError, match="the candidates' fitting was cut short"):
            train_candidates(
                frame,
                "y",
                KINDS,
                "binary",
                _config(STALLED, CONSTANT, timeout_minutes=120),
                "accuracy",
                on_event=lambda e, _p: events.append(e),
                stop=stop,
            )
    finally:
        timer.cancel()
    assert events == ["candidate_started"]  # the next candidate never started, no refit
    assert multiprocessing.active_children() == []  # the stalled child was killed and reaped


def test_a_stop_already_asked_fits_nothing() -> None:
    stop = threading.Event()
    stop.set()
    events: list[str] = []
    with pytest.raises(RunStoppedError):
        train_candidates(
            make_frame("binary", n=120),
            "y",
            KINDS,
            "binary",
            _config(CONSTANT),
            "accuracy",
            on_event=lambda e, _p: events.append(e),
            stop=stop,
        )
    # No candidate announced as started (the dashboard's progress would show a fit that never ran).
    assert events == [] and multiprocessing.active_children() == []


def test_failed_candidate_is_recorded_and_others_go_on() -> None:
    frame = make_frame("binary", n=120)
    result = train_candidates(frame, "y", KINDS, "binary", _config(BROKEN, CONSTANT), "f1_macro")
    broken, constant = result.candidates
    assert (broken.status, broken.pipeline, broken.val_metrics) == ("failed", None, {})
    assert broken.error == "ValueError: boom: this model cannot fit"
    assert constant.status == "ok" and result.best_name == CONSTANT


def test_timeout_candidate_is_killed() -> None:
    # The stalled fit sleeps an hour: this call returns at all only because it was killed at the
    # timeout (else pytest-timeout fails the test), which is what a clock check used to stand for.
    # The timeout is the constant candidate's budget too, so it leaves room for a loaded machine.
    frame = make_frame("binary", n=120)
    result = train_candidates(
        frame, "y", KINDS, "binary", _config(STALLED, CONSTANT, timeout_minutes=0.1), "accuracy"
    )
    stalled = result.candidates[0]
    assert stalled.status == "timeout"
    assert stalled.error == "fit exceeded the timeout of 6 s and was killed"
    assert result.candidates[1].status == "ok" and result.best_name == CONSTANT
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]


def test_ties_go_to_the_first_candidate_in_config_order() -> None:
    frame = make_frame("multiclass", n=120)
    result = train_candidates(frame, "y", KINDS, "multiclass", _config(CONSTANT_TWIN, CONSTANT), "f1_macro")
    a, b = result.candidates
    assert a.val_metrics == b.val_metrics
    assert result.best_name == CONSTANT_TWIN


def test_lower_is_better_selection_for_regression() -> None:
    frame = make_frame("regression", n=150)
    result = train_candidates(
        frame, "y", KINDS, "regression", _config(CONSTANT, "logistic_regression"), "rmse"
    )
    assert result.best_name == "logistic_regression"
    assert result.best.val_metrics["rmse"] < result.candidates[0].val_metrics["rmse"]
    assert isinstance(result.model.predict(frame.head(2))[0], float | np.floating)


def test_every_candidate_failing_raises() -> None:
    frame = make_frame("binary", n=80)
    with pytest.raises(TrainingError, match="every candidate failed") as info:
        train_candidates(
            frame,
            "y",
            KINDS,
            "binary",
            _config(BROKEN, "tests.support.training:not_an_estimator"),
            "f1_macro",
        )
    assert "not a scikit-learn estimator" in info.value.message


def test_unknown_candidate_fails_before_any_fit() -> None:
    with pytest.raises(ConfigError, match="unknown candidate 'xgboots'"):
        train_candidates(
            make_frame("binary", n=40), "y", KINDS, "binary", _config(CONSTANT, "xgboots"), "f1_macro"
        )


def test_single_class_target_is_a_training_error() -> None:
    frame = make_frame("binary", n=40).assign(y="stay")
    with pytest.raises(TrainingError, match="fewer than two classes"):
        train_candidates(frame, "y", KINDS, "binary", _config(CONSTANT), "f1_macro")


def test_default_candidates_after_openmp_use_in_the_parent() -> None:
    # The parent fits an OpenMP model first: forked children must still run (no inherited-pool hang).
    frame = make_frame("multiclass", n=150)
    build_pipeline("hist_gradient_boosting", "multiclass", KINDS, 0).fit(frame, frame["y"])
    result = train_candidates(frame, "y", KINDS, "multiclass", TrainingConfig(timeout_minutes=1), "f1_macro")
    assert [c.status for c in result.candidates] == ["ok", "ok", "ok"]
    assert [c.name for c in result.candidates] == [
        "logistic_regression",
        "random_forest",
        "hist_gradient_boosting",
    ]
    assert set(result.model.predict(frame).tolist()) <= {0, 1, 2}
