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
