"""Per-chunk estimates of plain frames: DLE's rows are predicted in blocks whatever the chunk size,
and each chunk's numbers are those of its own rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evergreen.monitoring import chunked, estimate_performance
from evergreen.monitoring.dle import fit_loss_model


def _regression(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    pred = x[:, 0] + 0.5 * x[:, 1]
    return pd.DataFrame(
        {"a": x[:, 0], "b": x[:, 1], "pred": pred, "y": pred + (0.2 + np.abs(x[:, 1])) * rng.normal(size=n)}
    )


def test_dle_chunks_are_their_rows_whatever_the_prediction_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    ref, cur = _regression(2000, 1), _regression(50, 2)
    args = {"task": "regression", "y_pred": "pred", "y_true": "y", "features": ["a", "b"]}
    one_by_one = estimate_performance(ref, cur, chunk_size=1, **args)
    assert len(one_by_one.chunks) == 50
    model = fit_loss_model(
        ref[["a", "b"]], {"a": "numeric", "b": "numeric"}, ref["y"].to_numpy(), ref["pred"].to_numpy()
    )
    for chunk in (one_by_one.chunks[0], one_by_one.chunks[37]):
        row = cur.iloc[chunk.start : chunk.stop]
        alone = model.estimate(row[["a", "b"]].reset_index(drop=True), row["pred"].to_numpy())
        assert chunk.metrics["mae"].estimated == alone["mae"]
        assert chunk.metrics["rmse"].estimated == alone["rmse"]
        assert chunk.metrics["mae"].realised == pytest.approx(abs(row["y"].iloc[0] - row["pred"].iloc[0]))
    monkeypatch.setattr(chunked, "PREDICT_ROWS", 7)  # blocks that cut across the chunks of 10
    in_blocks = estimate_performance(ref, cur, chunk_size=10, **args)
    monkeypatch.setattr(chunked, "PREDICT_ROWS", 100_000)
    in_one = estimate_performance(ref, cur, chunk_size=10, **args)
    assert [c.metrics["mae"].estimated for c in in_blocks.chunks] == pytest.approx(
        [c.metrics["mae"].estimated for c in in_one.chunks], abs=1e-15
    )
    whole = model.estimate(cur[["a", "b"]], cur["pred"].to_numpy())
    assert estimate_performance(ref, cur, **args).chunks[0].metrics["rmse"].estimated == pytest.approx(
        whole["rmse"], abs=1e-15
    )


def _scored(n: int, seed: int, k: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k)) * 2
    p = np.round(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), 3)  # ties
    p[:, -1] = 1 - p[:, :-1].sum(axis=1)
    truth = rng.random(n)[:, None] > (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).cumsum(
        axis=1
    )
    frame = pd.DataFrame({f"p{c}": p[:, c] for c in range(k)})
    frame["pred"], frame["y"] = p.argmax(axis=1), truth.sum(axis=1).clip(0, k - 1).astype(float)
    return frame


@pytest.mark.parametrize("k", [2, 3])
def test_each_chunk_is_the_plain_computation_of_its_rows(k: int) -> None:
    # The reference is fitted on a second thread and the chunks share two threads; each chunk must
    # still get the numbers of a serial fit and a plain computation on its rows alone.
    from sklearn.metrics import accuracy_score, roc_auc_score

    from evergreen.monitoring.estimation import cbpe_metrics
    from evergreen.monitoring.estimator import fit_classification

    ref, cur = _scored(3000, 1, k), _scored(1000, 2, k)
    cur.loc[250:320, "y"] = np.nan  # a chunk with some labels missing, one with none
    cur.loc[500:749, "y"] = np.nan
    columns = [f"p{c}" for c in range(k)]
    proba: dict[str, object] | str = "p1" if k == 2 else {c: f"p{c}" for c in range(k)}
    task = "binary" if k == 2 else "multiclass"
    est = estimate_performance(
        ref, cur, task=task, y_pred="pred", y_true="y", y_pred_proba=proba, chunk_size=250
    )
    serial = fit_classification(
        ref["y"].to_numpy(), ref["pred"].to_numpy(), ref[columns].to_numpy(), list(range(k))
    )
    assert serial.calibrator is not None
    for chunk in est.chunks:
        part = cur.iloc[chunk.start : chunk.stop]
        plain = cbpe_metrics(
            serial.calibrator, part[columns].to_numpy(), part["pred"].to_numpy(), list(range(k))
        )
        for name in ("accuracy", "f1_macro", "roc_auc"):
            assert chunk.metrics[name].estimated == pytest.approx(plain[name], abs=1e-12), (chunk.index, name)
        labelled = part[part["y"].notna()]
        if labelled.empty:
            assert chunk.metrics["accuracy"].realised is None
            continue
        y = labelled["y"].astype(int).to_numpy()
        assert chunk.metrics["accuracy"].realised == pytest.approx(
            accuracy_score(y, labelled["pred"]), abs=1e-15
        )
        aucs = [roc_auc_score(y == c, labelled[f"p{c}"]) for c in ([1] if k == 2 else range(k))]
        assert chunk.metrics["roc_auc"].realised == pytest.approx(float(np.mean(aucs)), abs=1e-12)
    assert [c.metrics["accuracy"].realised is None for c in est.chunks] == [False, False, True, False]
