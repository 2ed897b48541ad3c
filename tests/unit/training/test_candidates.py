"""Preprocessing and candidate pipelines: original labels, unseen categories, MLflow round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import skops.io

from evergreen.errors import ConfigError, TrainingError
from evergreen.training import MLFLOW_SERIALIZATION_FORMAT, SKOPS_TRUSTED_TYPES, skops_trusted_types
from evergreen.training.candidates import BUILTIN_CANDIDATES, build_pipeline
from evergreen.training.preprocessing import (
    FeatureKinds,
    build_preprocessor,
    categories_as_str,
    text_column,
)
from tests.support.training import make_frame, seeded_factory

KINDS = FeatureKinds(numeric=("x1", "x2"), categorical=("plan",), text=("note",))
UNSEEN = pd.DataFrame(
    {
        "x1": [0.5, -2.0],
        "x2": [np.nan, 4.0],
        "plan": ["enterprise", 99],
        "note": [None, "never seen words"],
        "extra": [1, 2],
    }
)


def test_feature_kinds_columns_order() -> None:
    assert FeatureKinds(("a",), ("b", "c"), ("d",)).columns == ("a", "b", "c", "d")


def test_categories_cast_to_str_and_integral_floats_match_ints() -> None:
    out = categories_as_str(pd.DataFrame({"c": [3, 3.0, "x", None, np.nan, True]}))
    assert out[:, 0].tolist()[:3] == ["3", "3", "x"]
    assert all(isinstance(v, float) and np.isnan(v) for v in out[3:5, 0])
    assert out[5, 0] == "True"


def test_text_column_fills_missing_with_empty_string() -> None:
    out = text_column(pd.DataFrame({"t": ["a b", None, np.nan, 5]}))
    assert out.tolist() == ["a b", "", "", "5"]
    assert out.ndim == 1


def test_preprocessor_dense_and_sparse_output() -> None:
    frame = make_frame("binary", n=60)
    assert build_preprocessor(KINDS).sparse_threshold > 0
    # A text vocabulary large enough to stay sparse for the linear models...
    wordy = frame.assign(note=[f"w{i} w{i + 1} w{i + 2}" for i in range(60)])
    assert sp.issparse(build_preprocessor(KINDS).fit_transform(wordy))
    # ...but always dense for the models that need it.
    dense_out = build_preprocessor(KINDS, dense=True).fit_transform(frame)
    assert isinstance(dense_out, np.ndarray)
    # 2 numeric + 5 categories (basic, pro, 3, 7, __missing__) + the text vocabulary (7 words).
    assert dense_out.shape == (60, 2 + 5 + 7)


def test_preprocessor_needs_columns() -> None:
    with pytest.raises(ConfigError, match="no feature columns"):
        build_preprocessor(FeatureKinds())


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("name", BUILTIN_CANDIDATES)
def test_builtin_candidate_fits_and_predicts_original_labels(name: str, task: str) -> None:
    frame = make_frame(task, n=200)
    pipe = build_pipeline(name, task, KINDS, seed=1).fit(frame, frame["y"].to_numpy())
    assert list(pipe.named_steps) == ["preprocess", "model"]
    pred = pipe.predict(UNSEEN)
    assert len(pred) == 2
    if task == "regression":
        assert pipe.score(frame, frame["y"]) > 0.5  # R2 on the training rows
        return
    labels = sorted(frame["y"].unique().tolist())
    assert pipe.classes_.tolist() == labels
    assert set(pred.tolist()) <= set(labels)
    proba = pipe.predict_proba(UNSEEN)
    assert proba.shape == (2, len(labels))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert (pipe.predict(frame) == frame["y"].to_numpy()).mean() > 0.7


def test_candidates_are_seeded() -> None:
    frame = make_frame("binary", n=120)
    a = build_pipeline("random_forest", "binary", KINDS, seed=3).fit(frame, frame["y"])
    b = build_pipeline("random_forest", "binary", KINDS, seed=3).fit(frame, frame["y"])
    np.testing.assert_array_equal(a.predict_proba(frame), b.predict_proba(frame))
    assert a.named_steps["model"].random_state == 3
    assert a.named_steps["model"].n_jobs == 1


def test_params_override_constructor_defaults() -> None:
    pipe = build_pipeline("random_forest", "regression", KINDS, 0, {"n_estimators": 7, "max_depth": 3})
    model = pipe.named_steps["model"]
    assert (model.n_estimators, model.max_depth) == (7, 3)
    xgb = build_pipeline("xgboost", "binary", KINDS, 0, {"n_estimators": 5}).named_steps["model"]
    assert xgb.estimator.n_estimators == 5


def test_unknown_candidate_and_bad_param_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown candidate 'random_frost'"):
        build_pipeline("random_frost", "binary", KINDS, 0)
    with pytest.raises(ConfigError, match=r"training\.params\.random_forest"):
        build_pipeline("random_forest", "binary", KINDS, 0, {"n_trees": 5})


def test_custom_factory_receives_only_the_arguments_it_accepts() -> None:
    pipe = build_pipeline("tests.support.training:seeded_factory", "binary", KINDS, seed=11)
    assert pipe.named_steps["model"].random_state == 11
    assert seeded_factory(2).random_state == 2


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz:make", "cannot import module 'no_such_module_xyz': ModuleNotFoundError"),
        ("tests.support.training:missing", "has no callable 'missing'"),
        (
            "tests.support.training:not_an_estimator",
            "returned str, which is not a scikit-learn estimator",
        ),
        ("tests.support.training:raising_factory", "factory raised RuntimeError: no GPU here"),
        (":make", "must look like 'package.module:factory'"),
    ],
)
def test_custom_factory_errors(spec: str, message: str) -> None:
    with pytest.raises(TrainingError, match=message) as info:
        build_pipeline(spec, "binary", KINDS, 0)
    assert spec in str(info.value)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_builtin_trusted_types_cover_every_candidate(task: str) -> None:
    frame = make_frame(task, n=80)
    for name in BUILTIN_CANDIDATES:
        params = {"n_estimators": 5} if name in ("random_forest", "xgboost", "lightgbm") else None
        pipe = build_pipeline(name, task, KINDS, 0, params).fit(frame, frame["y"])
        needed = set(skops.io.get_untrusted_types(data=skops.io.dumps(pipe)))
        assert needed <= set(SKOPS_TRUSTED_TYPES), (name, needed - set(SKOPS_TRUSTED_TYPES))


def test_mlflow_save_and_load_round_trip(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow.pyfunc
    import mlflow.sklearn

    # MLflow refuses to deserialise any sklearn model (skops too) without this opt-in.
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    frame = make_frame("binary", n=120)
    # XGBoost: the pipeline with our own label wrapper class inside.
    pipe = build_pipeline("xgboost", "binary", KINDS, 0, {"n_estimators": 10}).fit(frame, frame["y"])
    path = f"{tmp_path}/model"
    # Explicit pip requirements skip MLflow's requirement inference, which takes seconds.
    mlflow.sklearn.save_model(
        pipe,
        path,
        serialization_format=MLFLOW_SERIALIZATION_FORMAT,
        skops_trusted_types=skops_trusted_types(pipe),
        pip_requirements=["scikit-learn", "xgboost"],
    )
    loaded = mlflow.sklearn.load_model(path)
    np.testing.assert_array_equal(loaded.predict(UNSEEN), pipe.predict(UNSEEN))
    np.testing.assert_array_equal(loaded.predict_proba(frame), pipe.predict_proba(frame))
    pyfunc = mlflow.pyfunc.load_model(path)
    np.testing.assert_array_equal(np.asarray(pyfunc.predict(frame[list(KINDS.columns)])), pipe.predict(frame))
