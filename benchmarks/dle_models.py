"""Would a smaller DLE error model do? LightGBM's default trees (NannyML's) against smaller ones.

    .venv/bin/python benchmarks/dle_models.py [--rows 1000000] [--kinds bench pair three bias]

Issue 11 allows DLE to differ from NannyML's model if its error against the realised values is no
worse. This measures, on four seeded data sets whose regression errors depend on the inputs in
different ways, the fit and predict times of the two error models (absolute and squared error;
the reference 100 000 rows, the analysis ``--rows`` rows in ten chunks with a growing covariate
shift) and the mean absolute difference between each chunk's estimated and realised MAE / RMSE:

- bench: the estimation benchmark's data (noise grows with |x2|; the model misses 0.1 x1^2);
- pair:  noise grows with |x0 * x2| (an interaction of two inputs);
- three: noise grows with |x0 * x2 * x3| (three inputs);
- bias:  the model misses a sign interaction of x1 and x2.

The smaller models are shallower trees, or NannyML's 31-leaf trees in fewer and larger steps.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd

CHUNKS = 10
REFERENCE = 100_000
MODELS: dict[str, dict[str, Any]] = {
    "default (NannyML's)": {},
    "depth 2, 100 trees": {"max_depth": 2, "num_leaves": 4, "n_estimators": 100},
    "depth 2, 200 trees": {"max_depth": 2, "num_leaves": 4, "n_estimators": 200},
    "depth 3, 100 trees": {"max_depth": 3, "num_leaves": 8, "n_estimators": 100},
    # NannyML's leaves, fewer and larger steps (about the same total learning rate x trees).
    "50 trees, step 0.2": {"n_estimators": 50, "learning_rate": 0.2},
    "30 trees, step 0.3": {"n_estimators": 30, "learning_rate": 0.3},
    "20 trees, step 0.5": {"n_estimators": 20, "learning_rate": 0.5},
}


def data(kind: str, n: int, shift: np.ndarray, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    x = rng.standard_normal((n, 4))
    x[:, 0] += shift
    x[:, 2] += 0.5 * shift
    if kind == "bench":
        noise = (0.3 + 0.4 * np.abs(x[:, 2])) * rng.standard_normal(n)
        y = np.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2 + 0.3 * x[:, 3] + noise
        pred = np.sin(x[:, 0]) + 0.4 * x[:, 1] ** 2 + 0.3 * x[:, 3]
    elif kind == "pair":
        y = x[:, 0] + x[:, 1] + (0.2 + 0.5 * np.abs(x[:, 0] * x[:, 2])) * rng.standard_normal(n)
        pred = x[:, 0] + x[:, 1]
    elif kind == "three":
        scale = 0.2 + 0.6 * np.abs(x[:, 0] * x[:, 2] * x[:, 3]) ** 0.66
        y = x[:, 0] - x[:, 3] + scale * rng.standard_normal(n)
        pred = x[:, 0] - x[:, 3]
    else:  # bias
        y = x[:, 0] + np.where(x[:, 1] * x[:, 2] > 0, 1.0, -0.5) * x[:, 0] + 0.3 * rng.standard_normal(n)
        pred = 1.25 * x[:, 0]
    return pd.DataFrame({**{f"x{i}": x[:, i] for i in range(4)}, "pred": pred}), y


def run(kind: str, params: dict[str, Any], rows: int) -> tuple[float, float, float, float]:
    from lightgbm import LGBMRegressor

    rng = np.random.default_rng(11)
    ref, y_ref = data(kind, REFERENCE, np.zeros(REFERENCE), rng)
    ana, y_ana = data(kind, rows, np.repeat(np.linspace(0.0, 1.0, CHUNKS), rows // CHUNKS), rng)
    err = y_ref - ref["pred"].to_numpy()
    start = time.perf_counter()
    models = [
        LGBMRegressor(
            random_state=42, n_jobs=1, deterministic=True, force_row_wise=True, verbose=-1, **params
        ).fit(ref, target)
        for target in (np.abs(err), err**2)
    ]
    fitted = time.perf_counter() - start
    start = time.perf_counter()
    absolute, squared = (np.maximum(0.0, m.predict(ana, num_threads=0)) for m in models)
    predicted = time.perf_counter() - start
    mae_err, rmse_err = [], []
    for c in range(CHUNKS):
        part = slice(c * rows // CHUNKS, (c + 1) * rows // CHUNKS)
        e = y_ana[part] - ana["pred"].to_numpy()[part]
        mae_err.append(abs(absolute[part].mean() - np.abs(e).mean()))
        rmse_err.append(abs(np.sqrt(squared[part].mean()) - np.sqrt((e**2).mean())))
    return fitted, predicted, float(np.mean(mae_err)), float(np.mean(rmse_err))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--kinds", nargs="+", default=["bench", "pair", "three", "bias"])
    args = parser.parse_args()
    print(
        f"{'data':6} {'error models':20} {'fit s':>6} {'predict s':>9} {'MAE error':>10} {'RMSE error':>10}"
    )
    for kind in args.kinds:
        for name, params in MODELS.items():
            fitted, predicted, mae, rmse = run(kind, params, args.rows)
            print(f"{kind:6} {name:20} {fitted:6.2f} {predicted:9.2f} {mae:10.5f} {rmse:10.5f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
