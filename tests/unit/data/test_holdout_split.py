from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd
import pytest

from evergreen.config import Settings
from evergreen.data.contract import infer_contract
from evergreen.data.dataset import Dataset, feature_kinds, split_holdout
from evergreen.errors import DataValidationError


def _dataset(settings: Settings, frame: pd.DataFrame) -> Dataset:
    return Dataset(
        frame=frame,
        version="v",
        batch_ids=(1,),
        rows=len(frame),
        contract=infer_contract(frame, settings),
        as_of=datetime(2024, 1, 1, tzinfo=UTC),
    )


def test_stratified_and_seeded(make_settings: Callable[..., Settings]) -> None:
    frame = pd.DataFrame({"x": range(20), "y": ["a"] * 16 + ["b"] * 4})
    ds = _dataset(make_settings(), frame)
    train, hold = split_holdout(ds, 0.25, seed=3, task="binary")
    assert len(hold) == 5 and len(train) == 15
    assert hold["y"].value_counts().to_dict() == {"a": 4, "b": 1}
    again = split_holdout(ds, 0.25, seed=3, task="binary")
    assert again[1].index.tolist() == hold.index.tolist()
    assert again[0].index.tolist() == train.index.tolist()


def test_regression_split_is_plain(make_settings: Callable[..., Settings]) -> None:
    frame = pd.DataFrame({"x": range(10), "y": [float(i) for i in range(10)]})
    train, hold = split_holdout(_dataset(make_settings(task="regression"), frame), 0.3, 0, "regression")
    assert (len(train), len(hold)) == (7, 3)
    assert sorted([*train.index, *hold.index]) == list(range(10))


def test_too_few_rows(make_settings: Callable[..., Settings]) -> None:
    frame = pd.DataFrame({"x": [1], "y": [2.0]})
    with pytest.raises(DataValidationError) as info:
        split_holdout(_dataset(make_settings(task="regression"), frame), 0.2, 0, "regression")
    assert info.value.reason == "too_few_rows"


def test_feature_kinds(make_settings: Callable[..., Settings]) -> None:
    s = make_settings(
        task="regression", features={"numeric": ["a", "b"], "categorical": ["c"], "text": ["d"]}
    )
    frame = pd.DataFrame({"a": [1], "b": [2], "c": ["x"], "d": ["t"], "y": [0.5]})
    contract = infer_contract(frame, s)
    assert feature_kinds(contract) == (("a", "b"), ("c",), ("d",))
