"""Seeded frames for the golden comparison with Evidently 0.7.

Imported both by the test (project venv) and by make_golden.py (.venv-evidently), so it may use
only numpy and pandas. Changing anything here means regenerating golden_evidently.json.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class GoldenCase:
    reference: pd.DataFrame
    current: pd.DataFrame
    methods: dict[str, str] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)


def _auto_frame(rng: np.random.Generator, rows: int, shifted: bool) -> pd.DataFrame:
    """Every branch of the automatic test choice, with categories missing on either side."""
    s = 1.0 if shifted else 0.0
    with_gaps = rng.normal(0.1 * s, 1.0, rows)
    with_gaps[rng.choice(rows, rows // 20, replace=False)] = np.nan
    with_gaps[rng.choice(rows, 3, replace=False)] = np.inf
    with_gaps[rng.choice(rows, 2, replace=False)] = -np.inf
    new_level = ["a", "b", "c", "new"] if shifted else ["a", "b", "c"]
    gone_level = ["p", "q", "r"] if shifted else ["p", "q", "r", "gone"]
    return pd.DataFrame(
        {
            "num_shift": rng.normal(0.25 * s, 1.0, rows),
            "num_same": rng.normal(0.0, 1.0, rows),
            "num_nan_inf": with_gaps,
            "num_few": rng.choice([0.5, 1.5, 2.5, 3.5], rows, p=[0.4, 0.3, 0.2 - 0.05 * s, 0.1 + 0.05 * s]),
            "num_five": rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], rows),
            "num_six": rng.choice([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], rows),
            "num_binary": rng.choice([0.0, 1.0], rows, p=[0.7 - 0.1 * s, 0.3 + 0.1 * s]),
            "num_lognormal": rng.lognormal(0.05 * s, 0.8, rows),
            "int_many": rng.integers(0, 40 + int(4 * s), rows),
            "cat_int": rng.integers(0, 7, rows),
            "cat_new": rng.choice(new_level, rows),
            "cat_gone": rng.choice(gone_level, rows),
            "cat_bool": rng.random(rows) < 0.5 + 0.08 * s,
            "cat_const": np.full(rows, "k", dtype=object),
            "cat_yes_no": rng.choice(["yes", "no"], rows, p=[0.5, 0.5]).astype(object),
            "cat_dtype": pd.Categorical(
                rng.choice(["u", "v", "w"], rows), categories=["u", "v", "w", "unused"]
            ),
        }
    )


OVERRIDE_METHODS = {
    "psi_num": "psi",
    "kl_num": "kl_div",
    "js_num": "jensenshannon",
    "hell_num": "hellinger",
    "psi_int": "psi",
    "psi_cat": "psi",
    "kl_cat": "kl_div",
    "js_few": "jensenshannon",
    "hell_cat": "hellinger",
    "ks_num": "ks",
    "wass_num": "wasserstein",
    "chi_cat": "chisquare",
    "z_bin": "z",
    "psi_int_raw": "psi",
    "hell_int_raw": "hellinger",
}


def _override_frame(rng: np.random.Generator, rows: int, shifted: bool) -> pd.DataFrame:
    s = 1.0 if shifted else 0.0
    sparse = ["a", "b", "c", "d", "e", "f"] + (["x"] if shifted else ["y"])
    weights = np.array([30, 25, 20, 15, 9.9, 0.05, 0.05])
    return pd.DataFrame(
        {
            "psi_num": rng.normal(0.2 * s, 1.0, rows),
            "kl_num": rng.normal(0.0, 1.0 + 0.2 * s, rows),
            "js_num": rng.exponential(1.0 + 0.1 * s, rows),
            "hell_num": rng.normal(0.1 * s, 1.0, rows),
            "psi_int": rng.integers(0, 100 + int(10 * s), rows).astype(float),
            "psi_cat": rng.choice(sparse, rows, p=weights / weights.sum()),
            "kl_cat": rng.choice(sparse, rows, p=weights / weights.sum()),
            "js_few": rng.choice([1.0, 2.0, 3.0], rows),
            "hell_cat": rng.choice(["m", "n", "o"], rows, p=[0.5, 0.3 + 0.05 * s, 0.2 - 0.05 * s]),
            "ks_num": rng.normal(0.05 * s, 1.0, rows),
            "wass_num": rng.normal(0.05 * s, 1.0, rows),
            "chi_cat": rng.choice(["g", "h", "i"], rows),
            "z_bin": rng.choice(["on", "off"], rows, p=[0.5 + 0.04 * s, 0.5 - 0.04 * s]),
            # Integer dtype kept (numeric: more than 10 values): Sturges and Hellinger bins on ints.
            "psi_int_raw": rng.integers(0, 60 + int(5 * s), rows),
            "hell_int_raw": rng.integers(0, 30, rows),
        }
    )


def prediction_outputs(
    rng: np.random.Generator, rows: int, shifted: bool, classes: int
) -> tuple[list[str], np.ndarray]:
    """A classifier's outputs: predicted class labels and a (rows, classes) probability matrix."""
    if classes == 2:
        pos = rng.beta(2.0 + 0.6 * shifted, 2.0, rows)
        proba = np.column_stack([1.0 - pos, pos])
        labels = np.array(["no", "yes"])
    else:
        proba = rng.dirichlet([2.0, 1.5 + 0.5 * shifted, 1.0], rows)
        labels = np.array(["0", "1", "2"])
    return labels[proba.argmax(axis=1)].tolist(), proba


def prediction_frame(rng: np.random.Generator, rows: int, shifted: bool, classes: int) -> pd.DataFrame:
    """The frame evergreen's prediction drift compares (see monitoring.columns.prediction_frame):
    the predicted class, and each class's probability (binary: the positive class only)."""
    predicted, proba = prediction_outputs(rng, rows, shifted, classes)
    frame = pd.DataFrame({"prediction": pd.Series(predicted, dtype=object)})
    if classes == 2:
        frame["proba_yes"] = proba[:, 1]
    else:
        for k in range(classes):
            frame[f"proba_{k}"] = proba[:, k]
    return frame


Builder = Callable[[np.random.Generator, int, bool], pd.DataFrame]


def _pair(seed: int, build: Builder, ref_rows: int, cur_rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    return build(rng, ref_rows, False), build(rng, cur_rows, True)


def golden_cases() -> dict[str, GoldenCase]:
    """Sizes on both sides of Evidently's 1000-reference-row rule, equal and unequal lengths."""
    cases: dict[str, GoldenCase] = {}
    for name, seed, ref_rows, cur_rows in [
        ("auto_small", 11, 600, 700),
        ("auto_boundary_1000", 12, 1000, 900),
        ("auto_boundary_1001", 13, 1001, 900),
        ("auto_large", 14, 2500, 1800),
        ("auto_equal", 15, 1500, 1500),
    ]:
        ref, cur = _pair(seed, _auto_frame, ref_rows, cur_rows)
        cases[name] = GoldenCase(ref, cur)
    for name, seed, ref_rows, cur_rows in [
        ("override_small", 21, 500, 800),
        ("override_large", 22, 3000, 2000),
    ]:
        ref, cur = _pair(seed, _override_frame, ref_rows, cur_rows)
        thresholds = {"psi_num": 0.05, "chi_cat": 0.2, "ks_num": 0.5}
        cases[name] = GoldenCase(ref, cur, dict(OVERRIDE_METHODS), thresholds)
    # Prediction drift: a binary and a three-class model's outputs, on both sides of the row rule.
    for name, seed, ref_rows, cur_rows, classes in [
        ("prediction_binary_small", 31, 485, 600, 2),
        ("prediction_binary_large", 32, 2000, 1500, 2),
        ("prediction_multiclass_small", 33, 700, 400, 3),
        ("prediction_multiclass_large", 34, 1800, 900, 3),
    ]:
        rng = np.random.default_rng(seed)
        cases[name] = GoldenCase(
            prediction_frame(rng, ref_rows, False, classes), prediction_frame(rng, cur_rows, True, classes)
        )
    return cases
