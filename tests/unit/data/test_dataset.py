from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
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


def test_seeded_and_stratified_in_expectation(make_settings: Callable[..., Settings]) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=20000), "y": np.where(rng.random(20000) < 0.2, "b", "a")})
    ds = _dataset(make_settings(), frame)
    train, hold = split_holdout(ds, 0.25, seed=3, task="binary")
    assert len(train) + len(hold) == 20000 and set(train.index).isdisjoint(hold.index)
    shares = hold["y"].value_counts() / frame["y"].value_counts()
    assert abs(shares["a"] - 0.25) < 0.015 and abs(shares["b"] - 0.25) < 0.015
    again = split_holdout(ds, 0.25, seed=3, task="binary")
    assert again[1].index.tolist() == hold.index.tolist()
    assert again[0].index.tolist() == train.index.tolist()
    assert split_holdout(ds, 0.25, seed=4, task="binary")[1].index.tolist() != hold.index.tolist()


def test_a_row_never_changes_sides_between_versions(make_settings: Callable[..., Settings]) -> None:
    """The champion must never be scored on rows it trained on: rows keep their side as data grows."""
    rng = np.random.default_rng(1)
    big = pd.DataFrame({"x": rng.normal(size=3000), "y": rng.choice(["a", "b"], 3000)})
    s = make_settings()
    _, hold_small = split_holdout(_dataset(s, big.iloc[1000:2000]), 0.2, seed=42, task="binary")
    train_big, hold_big = split_holdout(_dataset(s, big), 0.2, seed=42, task="binary")
    assert set(hold_small.index) <= set(hold_big.index)
    assert set(hold_small.index).isdisjoint(train_big.index)


def test_regression_split_is_plain(make_settings: Callable[..., Settings]) -> None:
    frame = pd.DataFrame({"x": range(1000), "y": [float(i) for i in range(1000)]})
    train, hold = split_holdout(_dataset(make_settings(task="regression"), frame), 0.3, 0, "regression")
    assert 250 < len(hold) < 350
    assert sorted([*train.index, *hold.index]) == list(range(1000))


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
