"""``analyse`` for a regression champion: drift of the predicted value, realised RMSE, no CBPE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from evergreen.config import settings_from_dict
from evergreen.data.contract import ColumnSpec, Contract
from evergreen.monitoring.columns import coerce_features, prediction_frame
from evergreen.monitoring.current import _targets
from evergreen.monitoring.estimator import fit_regression
from evergreen.monitoring.job import Current, analyse
from evergreen.monitoring.reference import Reference


def _setup(seed: int = 4, current_rows: int = 300, estimator: bool = False):
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"size": rng.normal(50, 10, 600), "kind": rng.choice(["a", "b"], 600)})
    y = 3 * x["size"] + rng.normal(0, 5, 600)
    model = LinearRegression().fit(x[["size"]], y)
    kinds = {"size": "numeric", "kind": "categorical"}
    ref_pred = model.predict(x[["size"]])
    frame, pkinds = prediction_frame("regression", ref_pred.tolist(), None, None)
    contract = Contract(
        target="price",
        task="regression",
        features=(
            ColumnSpec("size", "numeric", "float", 0.5),
            ColumnSpec("kind", "categorical", "string", 0.5),
        ),
    )
    ref = Reference(
        model_version="1",
        dataset_version="d",
        batch_ids=(1,),
        model=model,
        contract=contract,
        kinds=kinds,  # type: ignore[arg-type]
        features=coerce_features(x, kinds),  # type: ignore[arg-type]
        holdout_rows=600,
        classes=None,
        predictions=frame,
        prediction_kinds=pkinds,
        baseline={"rmse": 5.0},
        baseline_source="decisions",
        estimator=fit_regression(coerce_features(x, kinds), kinds, y.to_numpy(), ref_pred)
        if estimator
        else None,  # type: ignore[arg-type]
    )
    cur_x = pd.DataFrame(
        {"size": rng.normal(60, 10, current_rows), "kind": rng.choice(["a", "b"], current_rows)}
    )
    cur_y = 3 * cur_x["size"] + rng.normal(0, 5, current_rows)
    pred = model.predict(cur_x[["size"]])
    cur = Current(
        coerce_features(cur_x, kinds),  # type: ignore[arg-type]
        predicted=_targets("regression", pred.tolist(), None),
        labels=_targets("regression", cur_y.tolist(), None),
    )
    cur.scored_features = cur.features
    return ref, cur


def _settings(min_rows: int):
    return settings_from_dict(
        {
            "project": "p",
            "task": "regression",
            "data": {"target": "price"},
            "monitoring": {"min_rows": min_rows},
        },
        root=Path("."),
    )


def test_regression_window_with_direct_loss_estimation_and_bands() -> None:
    ref, cur = _setup(estimator=True)
    a = analyse(ref, cur, _settings(300))
    assert set(a.estimated) == {"mae", "rmse"} and a.estimated_rows == 300
    assert a.estimated["rmse"] == pytest.approx(a.realised["rmse"], abs=3 * a.sigmas["estimated"]["rmse"])
    assert a.sigmas["realised"]["rmse"] == pytest.approx(a.sigmas["estimated"]["rmse"], abs=1e-15)  # 300 each
    assert a.multivariate is not None and a.multivariate.drifted  # size moved by one sd
    assert a.multivariate.top_columns[0] == "size"


def test_too_few_rows_get_no_verdict_but_are_measured() -> None:
    ref, cur = _setup(current_rows=40, estimator=True)
    a = analyse(ref, cur, _settings(500))
    assert a.data_drift.insufficient and a.data_drift.columns == ()
    assert dict(a.data_drift.untested) == {"size": "numeric", "kind": "categorical"}
    assert a.prediction_drift is not None and a.prediction_drift.insufficient
    assert a.multivariate is None and a.estimated == {}  # the estimate needs min_rows rows too
    assert a.labelled_rows == 40 and "rmse" in a.realised and "rmse" in a.sigmas["realised"]


def test_regression_window() -> None:
    rng = np.random.default_rng(4)
    x = pd.DataFrame({"size": rng.normal(50, 10, 600), "kind": rng.choice(["a", "b"], 600)})
    y = 3 * x["size"] + rng.normal(0, 5, 600)
    model = LinearRegression().fit(x[["size"]], y)
    contract = Contract(
        target="price",
        task="regression",
        features=(
            ColumnSpec("size", "numeric", "float", 0.5),
            ColumnSpec("kind", "categorical", "string", 0.5),
        ),
    )
    kinds = {"size": "numeric", "kind": "categorical"}
    ref_pred = model.predict(x[["size"]])
    frame, pkinds = prediction_frame("regression", ref_pred.tolist(), None, None)
    ref = Reference(
        model_version="1",
        dataset_version="d",
        batch_ids=(1,),
        model=model,
        contract=contract,
        kinds=kinds,  # type: ignore[arg-type]
        features=coerce_features(x, kinds),  # type: ignore[arg-type]
        holdout_rows=600,
        classes=None,
        predictions=frame,
        prediction_kinds=pkinds,
        baseline={"rmse": 5.0},
        baseline_source="decisions",
        estimator=None,
    )
    cur_x = pd.DataFrame({"size": rng.normal(60, 10, 300), "kind": rng.choice(["a", "b"], 300)})
    cur_y = 3 * cur_x["size"] + rng.normal(0, 5, 300)
    pred = model.predict(cur_x[["size"]])
    labels = [float(v) if i % 3 else None for i, v in enumerate(cur_y)]  # two thirds labelled
    cur = Current(
        coerce_features(cur_x, kinds),  # type: ignore[arg-type]
        predicted=_targets("regression", pred.tolist(), None),
        labels=_targets("regression", labels, None),
    )
    settings = settings_from_dict(
        {"project": "p", "task": "regression", "data": {"target": "price"}, "monitoring": {"min_rows": 300}},
        root=Path("."),
    )
    a = analyse(ref, cur, settings)
    assert a.data_drift["size"].method == "ks" and a.data_drift["size"].drifted
    assert not a.data_drift["kind"].drifted
    assert a.prediction_drift is not None and a.prediction_drift["prediction"].drifted
    known = np.array([v is not None for v in labels])
    residual = pred[known] - cur_y.to_numpy()[known]
    assert a.labelled_rows == 200 and a.scored_rows == 300
    assert a.realised["rmse"] == pytest.approx(float(np.sqrt(np.mean(residual**2))), abs=1e-12)
    assert a.estimated == {}  # no estimator fitted on this reference


def _binary_reference(rng: np.random.Generator) -> tuple[Reference, Any]:
    """A logistic regression on one feature and its reference (800 holdout rows, CBPE fitted)."""
    from sklearn.linear_model import LogisticRegression

    from evergreen.monitoring.estimator import fit_classification

    x = pd.DataFrame({"size": rng.normal(0, 1, 800)})
    y = np.where(x["size"] + rng.normal(0, 1, 800) > 0, "yes", "no")
    model = LogisticRegression().fit(x, y)
    classes = list(model.classes_)
    kinds = {"size": "numeric"}
    proba = model.predict_proba(x)
    pred = model.predict(x)
    frame, pkinds = prediction_frame("binary", pred.tolist(), proba, classes)
    ref = Reference(
        model_version="1",
        dataset_version="d",
        batch_ids=(1,),
        model=model,
        contract=Contract(target="t", task="binary", features=(ColumnSpec("size", "numeric", "float", 0.5),)),
        kinds=kinds,  # type: ignore[arg-type]
        features=coerce_features(x, kinds),  # type: ignore[arg-type]
        holdout_rows=800,
        classes=classes,
        predictions=frame,
        prediction_kinds=pkinds,
        baseline={"accuracy": 0.76},
        baseline_source="decisions",
        estimator=fit_classification(y.tolist(), pred.tolist(), proba, classes),
    )
    return ref, model


def test_the_estimate_needs_min_rows_rows_with_usable_probabilities() -> None:
    rng = np.random.default_rng(7)
    ref, model = _binary_reference(rng)
    classes, kinds = ref.classes, ref.kinds
    cur_x = pd.DataFrame({"size": rng.normal(0, 1, 600)})
    cur_proba = model.predict_proba(cur_x)
    cur_proba[10:] = np.nan  # 590 rows were logged without usable probabilities
    cur = Current(
        coerce_features(cur_x, kinds),  # type: ignore[arg-type]
        predicted=_targets("binary", model.predict(cur_x).tolist(), classes),
        proba=cur_proba,
        labels=np.array([None] * 600, dtype=object),
    )
    cur.scored_features = cur.features
    settings = settings_from_dict(
        {"project": "p", "task": "binary", "data": {"target": "t"}, "monitoring": {"min_rows": 500}},
        root=Path("."),
    )
    a = analyse(ref, cur, settings)
    assert a.scored_rows == 600
    assert (a.estimated, a.estimated_rows) == ({}, 0)  # was: 10 rows passed the 600-row gate
    assert any("only 10 of 600 scored rows" in n for n in cur.notes)
    cur.proba = model.predict_proba(cur_x)
    full = analyse(ref, cur, settings)
    assert full.estimated_rows == 600 and "accuracy" in full.estimated


def test_a_window_where_no_column_can_be_tested_has_no_data_drift_verdict() -> None:
    ref, cur = _setup(current_rows=600)
    # The client renamed its fields: every logged record lacks both features (the model imputed).
    cur.features = pd.DataFrame({"size": [np.nan] * 600, "kind": [None] * 600}, dtype=object)
    a = analyse(ref, cur, _settings(500))
    assert a.skipped == {"size": "no values in the current data", "kind": "no values in the current data"}
    d = a.data_drift.to_dict()
    # Was share 0.0, status "ok": read as "no drift" and it cleared an open drift alert.
    assert (a.data_drift.share, a.data_drift.dataset_drift) == (None, None)
    assert (d["status"], d["number_of_columns"], d["number_of_drifted_columns"]) == (
        "insufficient_data",
        0,
        0,
    )


def test_prediction_drift_needs_min_rows_rows_of_the_version_it_describes() -> None:
    ref, cur = _setup(current_rows=600)
    # Just after a promotion: 597 rows were served by the previous version, 3 by this one.
    assert cur.predicted is not None
    cur.predicted[3:] = None
    a = analyse(ref, cur, _settings(500))
    assert a.scored_rows == 3 and not a.data_drift.insufficient  # input drift: all 600 rows
    assert a.prediction_drift is not None and a.prediction_drift.insufficient  # was tested on 3 rows
    assert a.prediction_drift.dataset_drift is None


def test_a_sparse_column_needs_min_rows_values_of_its_own() -> None:
    ref, cur = _setup(current_rows=600)
    kind = cur.features["kind"].copy()
    kind.iloc[6:] = None  # an optional field: 6 values in a 600-row window
    cur.features = cur.features.assign(kind=kind)
    a = analyse(ref, cur, _settings(500))
    assert a.skipped == {"kind": "only 6 values in the current data, fewer than min_rows 500"}
    assert [c.column for c in a.data_drift.columns] == ["size"]  # was tested on its 6 values
    few = analyse(ref, _setup(current_rows=40)[1], _settings(500))
    assert few.data_drift.insufficient and few.skipped == {}  # a short window stays "insufficient"


def test_a_label_of_a_class_the_model_never_learned_counts_as_wrong() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score

    from evergreen.monitoring.estimator import fit_classification
    from evergreen.monitoring.job import current_from_batch

    rng = np.random.default_rng(11)
    x = pd.DataFrame({"size": rng.normal(0, 1, 800)})
    y = np.where(x["size"] + rng.normal(0, 1, 800) > 0, "yes", "no")
    model = LogisticRegression().fit(x, y)  # its training window never saw "maybe"
    classes = list(model.classes_)
    kinds = {"size": "numeric"}
    proba, pred = model.predict_proba(x), model.predict(x)
    frame, pkinds = prediction_frame("binary", pred.tolist(), proba, classes)
    contract = Contract(
        target="t",
        task="binary",
        features=(ColumnSpec("size", "numeric", "float", 0.5),),
        target_classes=("maybe", "no", "yes"),
    )
    ref = Reference(
        model_version="1",
        dataset_version="d",
        batch_ids=(1,),
        model=model,
        contract=contract,
        kinds=kinds,  # type: ignore[arg-type]
        features=coerce_features(x, kinds),  # type: ignore[arg-type]
        holdout_rows=800,
        classes=classes,
        predictions=frame,
        prediction_kinds=pkinds,
        baseline={"accuracy": 0.76},
        baseline_source="decisions",
        estimator=fit_classification(y.tolist(), pred.tolist(), proba, classes),
    )
    batch = pd.DataFrame({"size": rng.normal(0, 1, 600)})
    truth = np.where(batch["size"] > 0, "yes", "no").astype(object)
    truth[::3] = "maybe"  # a third of the batch is of the class the model cannot predict
    batch["t"] = truth
    settings = settings_from_dict(
        {"project": "p", "task": "binary", "data": {"target": "t"}, "monitoring": {"min_rows": 500}},
        root=Path("."),
    )
    a = analyse(ref, current_from_batch(ref, settings, batch), settings)
    expected = accuracy_score(truth, model.predict(batch[["size"]]))
    # Was 400 labelled rows and the accuracy of the two thirds the model can get right.
    assert a.labelled_rows == 600
    assert a.realised["accuracy"] == pytest.approx(expected, abs=1e-15) and expected < 0.67
    assert "roc_auc" not in a.realised  # "maybe" has no probability column to rank


def test_log_labels_a_regression_cannot_read_are_left_out_and_counted() -> None:
    from sklearn.metrics import mean_squared_error

    from evergreen.monitoring.job import current_from_log

    ref, _ = _setup(estimator=True)
    rng = np.random.default_rng(8)
    size = rng.normal(50, 10, 600)
    pred = ref.model.predict(pd.DataFrame({"size": size}))
    truth = 3 * size + rng.normal(0, 5, 600)
    labels: list[object] = [float(v) for v in truth]
    for i in range(0, 600, 6):
        labels[i] = "high"  # a classifier's label sent to a regression
    for i in range(1, 600, 6):
        labels[i] = float("inf")  # SQLite's JSON keeps Infinity
    for i in range(2, 600, 6):
        labels[i] = float("nan")  # no label, as NaN
    for i in range(3, 600, 6):
        labels[i] = None  # no label yet
    rows = pd.DataFrame(
        {
            "record": [{"size": float(s), "kind": "a"} for s in size],
            "model_version": ["1"] * 600,
            "prediction": pred.tolist(),
            "probabilities": [None] * 600,
            "label": labels,
        }
    )
    settings = _settings(300)
    cur = current_from_log(ref, settings, rows)
    a = analyse(ref, cur, settings)
    ok = [i % 6 in (4, 5) for i in range(600)]
    assert a.labelled_rows == 200
    # The infinite labels made the RMSE infinite (stored as null, no verdict) and were not said.
    assert a.realised["rmse"] == pytest.approx(mean_squared_error(truth[ok], pred[ok]) ** 0.5, rel=1e-12)
    assert cur.notes == ["200 of 400 labels are not finite numbers: left out of the realised metrics"]


def test_a_window_of_mixed_probability_rows_says_what_the_estimate_rests_on() -> None:
    from evergreen.monitoring.job import current_from_log

    rng = np.random.default_rng(7)
    ref, model = _binary_reference(rng)
    cur_x = pd.DataFrame({"size": rng.normal(0, 1, 600)})
    proba = model.predict_proba(cur_x)
    truth = np.where(cur_x["size"] + rng.normal(0, 1, 600) > 0, "yes", "no")
    logged: list[Any] = [{"no": float(p[0]), "yes": float(p[1])} for p in proba]
    for i in range(0, 600, 10):
        logged[i] = None  # a model without predict_proba served these
    for i in range(5, 600, 15):
        logged[i] = {"no": float(proba[i, 0]) / 2, "yes": float(proba[i, 1]) / 2}  # sums to 0.5
    rows = pd.DataFrame(
        {
            "record": [{"size": float(v)} for v in cur_x["size"]],
            "model_version": ["1"] * 600,
            "prediction": model.predict(cur_x).tolist(),
            "probabilities": logged,
            "label": truth.tolist(),
        }
    )
    settings = settings_from_dict(
        {"project": "p", "task": "binary", "data": {"target": "t"}, "monitoring": {"min_rows": 500}},
        root=Path("."),
    )
    cur = current_from_log(ref, settings, rows)
    a = analyse(ref, cur, settings)
    usable = [i % 10 != 0 and i % 15 != 5 for i in range(600)]
    assert a.scored_rows == a.labelled_rows == 600 and a.estimated_rows == sum(usable) == 520
    assert ref.estimator is not None
    pred = cur.predicted
    assert pred is not None and cur.proba is not None
    assert a.estimated == ref.estimator.estimate(
        proba=cur.proba[usable], pred_codes=ref.estimator.codes(pred[usable].tolist())
    )
    assert "roc_auc" not in a.realised and "accuracy" in a.realised
    # Both were silent: the estimate on 520 rows read as the window's, and ROC AUC simply missing.
    assert cur.notes == [
        "no realised ROC AUC or log loss: 80 of 600 labelled rows have no usable probabilities",
        "the performance estimate rests on 520 of 600 scored rows: the others have no usable "
        "probabilities (missing, or not a distribution)",
    ]


def test_labels_of_one_class_are_judged_on_the_estimate_once_there_are_min_labels() -> None:
    rng = np.random.default_rng(7)
    ref, model = _binary_reference(rng)
    cur_x = pd.DataFrame({"size": rng.normal(0, 1, 600)})
    labels = np.array([None] * 600, dtype=object)
    cur = Current(
        coerce_features(cur_x, ref.kinds),
        predicted=_targets("binary", model.predict(cur_x).tolist(), ref.classes),
        proba=model.predict_proba(cur_x),
        labels=labels,
    )
    cur.scored_features = cur.features
    settings = settings_from_dict(
        {"project": "p", "task": "binary", "data": {"target": "t"}, "monitoring": {"min_rows": 500}},
        root=Path("."),
    )
    labels[:29] = "yes"  # fewer than min_labels (30): not judged anyway, nothing to say
    assert analyse(ref, cur, settings).realised_judged and cur.notes == []
    labels[29] = "yes"
    a = analyse(ref, cur, settings)
    assert not a.realised_judged and a.labelled_rows == 30
    assert cur.notes == [
        "realised metrics not judged: the 30 labels hold no row of class no, so they do not describe "
        "the mix the holdout baseline was measured on; the verdict rests on the estimate"
    ]
    labels[30] = "no"
    cur.notes.clear()
    assert analyse(ref, cur, settings).realised_judged and cur.notes == []


def test_labels_of_one_class_without_an_estimate_say_there_is_no_verdict() -> None:
    """The note said "the verdict rests on the estimate" where there was none (a window logged
    without probabilities): the report then had no performance verdict at all, and said otherwise."""
    rng = np.random.default_rng(7)
    ref, model = _binary_reference(rng)
    cur_x = pd.DataFrame({"size": rng.normal(0, 1, 600)})
    labels = np.array([None] * 600, dtype=object)
    labels[:40] = "yes"
    cur = Current(
        coerce_features(cur_x, ref.kinds),
        predicted=_targets("binary", model.predict(cur_x).tolist(), ref.classes),
        proba=np.full((600, 2), np.nan),  # served without probabilities: nothing to estimate from
        labels=labels,
    )
    cur.scored_features = cur.features
    settings = settings_from_dict(
        {"project": "p", "task": "binary", "data": {"target": "t"}, "monitoring": {"min_rows": 500}},
        root=Path("."),
    )
    a = analyse(ref, cur, settings)
    assert not a.realised_judged and a.estimated == {} and a.labelled_rows == 40
    assert cur.notes[-1] == (
        "realised metrics not judged: the 40 labels hold no row of class no, so they do not describe "
        "the mix the holdout baseline was measured on; there is no performance estimate either, so "
        "the window has no performance verdict"
    )
    assert not any("rests on the estimate" in n for n in cur.notes), cur.notes
