"""Multivariate drift: can a classifier tell the reference rows from the window's rows?

Column tests look at one marginal at a time, so a change in how columns move together (two
columns that swap their correlation, say) passes every one of them. The domain classifier sees all
input columns at once: a gradient-boosted classifier is trained, in stratified k-fold cross
validation, to say whether a row comes from the window; its out-of-fold ROC AUC is 0.5 when the two
sets are indistinguishable and rises with any difference, joint or marginal. Drift when the AUC
exceeds ``monitoring.multivariate_threshold`` (0.55 by default), as NannyML's domain classifier.

Both sides are first sampled (seeded) to at most ``max_rows`` rows each and to the same size, so
the AUC does not depend on the window's size and the test stays fast on a million rows. The
columns that separate the sets most are the classifier's normalised split gains. Text columns
are left out (the column test already compares their vocabularies).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from evergreen.errors import BadInputError, shown
from evergreen.monitoring.arguments import (
    Family,
    check_column_options,
    check_frames,
    check_number,
    check_same_family,
    check_whole_number,
)
from evergreen.monitoring.columntests import KINDS
from evergreen.monitoring.drift import infer_kind

DEFAULT_THRESHOLD = 0.55
DEFAULT_MAX_ROWS = 5000
FOLDS = 5
SEED = 42
TOP_COLUMNS = 5
NUMBERS_TEXT: frozenset[Family] = frozenset({"numbers", "text"})


@dataclass(frozen=True)
class MultivariateDriftResult:
    auc: float  # out-of-fold ROC AUC of the domain classifier
    fold_aucs: tuple[float, ...]
    threshold: float
    importances: tuple[tuple[str, float], ...]  # (column, share of the split gain), largest first
    reference_rows: int  # rows of each side that the classifier saw
    current_rows: int
    status: Literal["drift", "ok"]

    @property
    def drifted(self) -> bool:
        return self.status == "drift"

    @property
    def top_columns(self) -> tuple[str, ...]:
        return tuple(name for name, share in self.importances[:TOP_COLUMNS] if share > 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "domain_classifier",
            "auc": self.auc,
            "fold_aucs": list(self.fold_aucs),
            "threshold": self.threshold,
            "status": self.status,
            "drifted": self.drifted,
            "top_columns": list(self.top_columns),
            "importances": dict(self.importances),
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
        }


def _encode(frame: pd.DataFrame, kinds: Mapping[Any, str]) -> pd.DataFrame:
    """Numeric columns as floats, categorical ones as categories (their text, NaN kept missing),
    named by position: LightGBM refuses some names (JSON characters such as "price[usd]", tuples)."""
    out: dict[str, Any] = {}
    for i, (name, kind) in enumerate(kinds.items()):
        if kind == "numeric":
            out[f"c{i}"] = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
        else:
            text = [None if pd.isna(v) else str(v) for v in frame[name].tolist()]
            out[f"c{i}"] = pd.Categorical(text)
    return pd.DataFrame(out)


def multivariate_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    kinds: Mapping[str, str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    max_rows: int = DEFAULT_MAX_ROWS,
    seed: int = SEED,
) -> MultivariateDriftResult:
    """Domain-classifier test over every numeric and categorical column of ``current``."""
    from lightgbm import LGBMClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    check_frames(reference, current)
    check_column_options(current, KINDS, kinds=kinds or {})
    given = dict(kinds or {})
    threshold = check_number(threshold, "threshold", above=0.0, at_most=1.0)
    max_rows = check_whole_number(max_rows, "max_rows", minimum=FOLDS)
    seed = check_whole_number(seed, "seed", minimum=0)
    use: dict[Any, str] = {}
    for name in current.columns:
        kind = given.get(name) or infer_kind(current[name])
        if name not in given and name in reference.columns:
            # A column the test keeps must hold the same sort of values on both sides; one it
            # leaves out, only when numbers turned into text made it leave it out.
            kept = kind in ("numeric", "categorical")
            check_same_family(name, reference[name], current[name], only=None if kept else NUMBERS_TEXT)
        if kind in ("numeric", "categorical"):
            if name not in reference.columns:
                raise BadInputError(f"column {shown(name)} is not in the reference data", details=name)
            use[name] = kind
    if not use:
        raise BadInputError("no numeric or categorical column to compare")
    size = min(len(reference), len(current), max_rows)
    if size < FOLDS:
        raise BadInputError(f"the domain classifier needs at least {FOLDS} rows on each side")
    rng = np.random.default_rng(seed)
    ref = reference.iloc[np.sort(rng.choice(len(reference), size, replace=False))].reset_index(drop=True)
    cur = current.iloc[np.sort(rng.choice(len(current), size, replace=False))].reset_index(drop=True)
    both = pd.concat([ref[list(use)], cur[list(use)]], ignore_index=True)
    x = _encode(both, use)
    y = np.r_[np.zeros(size), np.ones(size)]
    oof = np.zeros(y.size)
    gains = np.zeros(len(use))
    fold_aucs = []
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    for train, test in folds.split(x, y):
        model = LGBMClassifier(
            random_state=seed,
            n_jobs=1,
            deterministic=True,
            force_row_wise=True,
            importance_type="gain",
            verbose=-1,
        ).fit(x.iloc[train], y[train])
        oof[test] = np.asarray(model.predict_proba(x.iloc[test]))[:, 1]
        fold_aucs.append(float(roc_auc_score(y[test], oof[test])))
        gains += np.asarray(model.feature_importances_, dtype=np.float64)
    auc = float(roc_auc_score(y, oof))
    shares = gains / gains.sum() if gains.sum() > 0 else gains
    pairs: list[tuple[Any, float]] = list(zip(use, shares.tolist(), strict=True))
    ranked = sorted(pairs, key=lambda t: (-t[1], str(t[0])))  # names may mix types (0, "a")
    return MultivariateDriftResult(
        auc=auc,
        fold_aucs=tuple(fold_aucs),
        threshold=threshold,
        importances=tuple((name, float(s)) for name, s in ranked),
        reference_rows=size,
        current_rows=size,
        status="drift" if auc > threshold else "ok",
    )
