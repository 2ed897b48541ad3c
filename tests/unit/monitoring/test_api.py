"""``estimate_performance`` and ``multivariate_drift`` on plain DataFrames (no project), seeded."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from evergreen.errors import BadInputError
from evergreen.monitoring import data_drift, estimate_performance, multivariate_drift


def _regression(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    x[:, 2] += shift
    noise = (0.2 + 0.5 * np.abs(x[:, 2])) * rng.standard_normal(n)  # the error grows with |c|
    return pd.DataFrame(
        {
            "a": x[:, 0],
            "b": x[:, 1],
            "c": x[:, 2],
            "plan": rng.choice(["s", "m", "l"], n),
            "y": x[:, 0] + 0.5 * x[:, 1] + noise,
            "pred": x[:, 0] + 0.5 * x[:, 1],
        }
    )


def _binary(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) + shift
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-2 * x)), "yes", "no")
    p = 1 / (1 + np.exp(-3 * x))  # over-confident: calibration is needed
    return pd.DataFrame({"x": x, "y": y, "p_yes": p, "p_no": 1 - p, "pred": np.where(p >= 0.5, "yes", "no")})


def test_direct_loss_estimation_by_chunk() -> None:
    est = estimate_performance(
        _regression(3000, 0.0, 1), _regression(2000, 1.0, 2), task="regression", y_pred="pred", y_true="y",
        chunk_size=1000,
    )  # fmt: skip
    assert [(c.start, c.stop) for c in est.chunks] == [(0, 1000), (1000, 2000)]
    mae, rmse = est.chunks[0].metrics["mae"], est.chunks[0].metrics["rmse"]
    assert (mae.estimated, mae.sampling_error, mae.realised) == pytest.approx(
        (0.6236122391703758, 0.014898308692467516, 0.5960230922523496), abs=1e-9
    )
    half = 3 * 0.014898308692467516
    assert (mae.lower, mae.upper) == pytest.approx((0.6236122391703758 - half, 0.6236122391703758 + half))
    assert (rmse.estimated, rmse.realised) == pytest.approx((0.8902179133212552, 0.842616579623642), abs=1e-9)
    for chunk in est.chunks:  # the shift raised the error; the estimate followed, inside its band
        for name in ("mae", "rmse"):
            m = chunk.metrics[name]
            assert m.lower is not None and m.upper is not None and m.realised is not None
            assert m.lower <= m.realised <= m.upper
    assert est.chunks[0].metrics["r2"].estimated is None  # realised only: DLE estimates MAE and RMSE


def test_cbpe_by_chunk_with_a_shorter_last_chunk() -> None:
    est = estimate_performance(
        _binary(4000, 0.0, 3), _binary(2500, 0.5, 4), task="binary", y_pred="pred", y_true="y",
        y_pred_proba={"no": "p_no", "yes": "p_yes"}, chunk_size=1000,
    )  # fmt: skip
    assert est.classes == ("no", "yes") and est.calibrated == (True,)
    assert [c.rows for c in est.chunks] == [1000, 1000, 500]
    first, last = est.chunks[0].metrics, est.chunks[2].metrics
    assert (first["accuracy"].estimated, first["accuracy"].sampling_error) == pytest.approx(
        (0.7997380382401118, 0.013051242756917826), abs=1e-12
    )
    assert (first["roc_auc"].estimated, first["roc_auc"].realised) == pytest.approx(
        (0.8706565802873595, 0.8560553843219365), abs=1e-12
    )
    assert first["f1_macro"].estimated == pytest.approx(0.7743685882197353, abs=1e-12)
    # half the rows: the sampling error grows by sqrt(2)
    assert last["accuracy"].sampling_error == pytest.approx(0.013051242756917826 * np.sqrt(2), abs=1e-12)
    frame = est.to_frame()
    assert set(frame.columns) >= {"chunk", "rows", "metric", "estimated", "sampling_error", "lower", "upper"}


def test_whole_frame_without_labels() -> None:
    cur = _binary(800, 0.0, 5).drop(columns=["y"])
    est = estimate_performance(_binary(2000, 0.0, 6), cur, task="binary", y_pred="pred", y_true="y",
                               y_pred_proba={"no": "p_no", "yes": "p_yes"})  # fmt: skip
    (chunk,) = est.chunks
    assert chunk.rows == 800 and all(m.realised is None for m in chunk.metrics.values())


def test_bad_arguments_name_the_field() -> None:
    ref = _binary(200, 0.0, 7)
    with pytest.raises(BadInputError) as exc:
        estimate_performance(ref, ref, task="multiclass", y_pred="pred", y_true="y", y_pred_proba="p_yes")
    assert exc.value.details == "y_pred_proba"
    with pytest.raises(BadInputError) as exc:
        estimate_performance(ref.drop(columns=["y"]), ref, task="binary", y_pred="pred", y_true="y")
    assert exc.value.details == "y_true"
    with pytest.raises(BadInputError) as exc:
        estimate_performance(
            ref, ref, task="binary", y_pred="pred", y_true="y", y_pred_proba="p_yes", chunk_size=0
        )
    assert exc.value.details == "chunk_size"


def _pair(n: int, rho: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n)
    b = rho * a + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    return pd.DataFrame({"a": a, "b": b, "noise": rng.uniform(size=n), "plan": rng.choice(["x", "y"], n)})


def test_swapped_correlation_is_seen_by_the_multivariate_test_only() -> None:
    ref, cur = _pair(3000, 0.9, 1), _pair(3000, -0.9, 2)
    columns = data_drift(ref, cur)
    assert columns.number_of_drifted_columns == 0  # every marginal is unchanged
    result = multivariate_drift(ref, cur)
    assert result.drifted and result.status == "drift"
    assert result.auc == pytest.approx(0.9406841666666667, abs=1e-9)
    assert set(result.top_columns[:2]) == {"a", "b"}  # the two columns that swapped
    same = multivariate_drift(ref, _pair(3000, 0.9, 3))
    assert not same.drifted and same.auc < 0.55
    assert same.to_dict()["method"] == "domain_classifier"


def test_multivariate_needs_rows_and_columns() -> None:
    with pytest.raises(BadInputError):
        multivariate_drift(_pair(3, 0.0, 1), _pair(3, 0.0, 2))
    with pytest.raises(BadInputError):
        multivariate_drift(pd.DataFrame({"t": pd.to_datetime(["2024-01-01"] * 10)}),
                           pd.DataFrame({"t": pd.to_datetime(["2024-01-02"] * 10)}))  # fmt: skip


def test_importing_the_package_is_light() -> None:
    code = (
        "import sys, evergreen.monitoring as m; "
        "heavy = [k for k in ('sklearn', 'scipy', 'lightgbm') if k in sys.modules]; "
        "print(heavy, sorted(m.__all__) == m.__all__, callable(m.estimate_performance))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] True True"


def test_current_outputs_that_cbpe_cannot_read_name_the_field() -> None:
    ref = _binary(2000, 0.0, 8)
    args = {"task": "binary", "y_pred": "pred", "y_true": "y", "y_pred_proba": {"no": "p_no", "yes": "p_yes"}}
    cur = _binary(500, 0.0, 9)
    cur.loc[3, "pred"] = "maybe"  # was counted as the last class ("yes"), silently
    with pytest.raises(BadInputError, match="'maybe'") as exc:
        estimate_performance(ref, cur, **args)
    assert exc.value.details == "y_pred"
    for bad in (np.nan, 1.7, -0.2):  # was a NaN estimate, or a row more than certain
        cur = _binary(500, 0.0, 9)
        cur.loc[3, "p_yes"] = bad
        with pytest.raises(BadInputError) as exc:
            estimate_performance(ref, cur, **args)
        assert exc.value.details == "y_pred_proba"
