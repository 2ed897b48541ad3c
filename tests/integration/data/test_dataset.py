"""Training-set assembly from stored batches: windows, --as-of, dedupe, versions, holdout."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import update

from evergreen.data.dataset import assemble_dataset, split_holdout
from evergreen.data.ingest import ingest_paths
from evergreen.errors import DataValidationError
from evergreen.store.tables import batches
from tests.support.data import ENV, Project, churn

AS_OF = datetime(2024, 6, 30, tzinfo=UTC)


def _ingest(p: Project, name: str, df: pd.DataFrame) -> int:
    [res] = ingest_paths(p.settings, p.store, [p.write_csv(name, df)], ENV)
    assert res.status == "accepted", res.message
    assert res.batch_id is not None
    return res.batch_id


def _stamped(start: int, days: list[str], **overrides: object) -> pd.DataFrame:
    return churn(n=len(days), start=start, event_time=[f"2024-{d}T12:00:00Z" for d in days], **overrides)


def test_no_labelled_data(project: Project) -> None:
    with pytest.raises(DataValidationError) as info:
        assemble_dataset(project.settings, project.store)
    assert info.value.reason == "no_training_data"
    _ingest(project, "unlabelled.csv", churn().drop(columns=["churned"]))
    with pytest.raises(DataValidationError) as info:
        assemble_dataset(project.settings, project.store)
    assert info.value.reason == "no_training_data"


def test_only_labelled_rows_in_canonical_order(project: Project) -> None:
    b1 = _ingest(project, "b1.csv", churn(n=6, churned=[0, 1, None, 1, 0, None]))
    b2 = _ingest(project, "b2.csv", churn(n=4, start=100))
    ds = assemble_dataset(project.settings, project.store)
    assert ds.batch_ids == (b1, b2)
    assert ds.rows == 8
    assert ds.frame["customer_id"].tolist() == ["0", "1", "3", "4", "100", "101", "102", "103"]
    assert list(ds.frame.columns) == list(ds.contract.columns)
    assert ds.frame["churned"].notna().all()


def test_row_window_by_timestamp_and_as_of(make_project: Callable[..., Project]) -> None:
    p = make_project(timestamp_column="event_time", window={"max_age_days": 30})
    _ingest(p, "b.csv", _stamped(0, ["05-01", "06-05", "06-20", "06-29", "07-02", "07-10"]))
    ds = assemble_dataset(p.settings, p.store, as_of=AS_OF)
    # 05-01 is older than 30 days before 06-30; 07-02 and 07-10 are after as_of.
    assert ds.frame["customer_id"].tolist() == ["1", "2", "3"]
    earlier = assemble_dataset(p.settings, p.store, as_of=datetime(2024, 6, 10, tzinfo=UTC))
    assert earlier.frame["customer_id"].tolist() == ["1"]
    assert earlier.version != ds.version
    later = assemble_dataset(p.settings, p.store, as_of=datetime(2024, 7, 31, tzinfo=UTC))
    assert later.frame["customer_id"].tolist() == ["4", "5"]


def test_batch_window_by_received_at(make_project: Callable[..., Project]) -> None:
    p = make_project(window={"max_age_days": 10})
    old = _ingest(p, "old.csv", churn(n=4))
    new = _ingest(p, "new.csv", churn(n=4, start=10))
    with p.store.begin() as conn:
        conn.execute(
            update(batches).where(batches.c.id == old).values(received_at=AS_OF - timedelta(days=20))
        )
        conn.execute(update(batches).where(batches.c.id == new).values(received_at=AS_OF - timedelta(days=2)))
    assert assemble_dataset(p.settings, p.store, as_of=AS_OF).batch_ids == (new,)
    # As of 15 days earlier, "new" had not arrived yet and "old" was 5 days old.
    assert assemble_dataset(p.settings, p.store, as_of=AS_OF - timedelta(days=15)).batch_ids == (old,)
    with pytest.raises(DataValidationError):
        assemble_dataset(p.settings, p.store, as_of=AS_OF - timedelta(days=25))


def test_max_batches_keeps_newest(make_project: Callable[..., Project]) -> None:
    p = make_project(window={"max_age_days": None, "max_batches": 2})
    ids = [_ingest(p, f"b{i}.csv", churn(n=4, start=10 * i)) for i in range(3)]
    assert assemble_dataset(p.settings, p.store).batch_ids == tuple(ids[1:])


def test_dedupe_on_id_latest_wins(make_project: Callable[..., Project]) -> None:
    p = make_project(timestamp_column="event_time", window={"max_age_days": None})
    _ingest(p, "b1.csv", _stamped(0, ["01-01", "01-02", "01-03"], tenure=[1.0, 1.0, 1.0]))
    # customer 1 appears again in a later batch: that row wins, whatever its position.
    later = _stamped(1, ["01-01", "01-09"], tenure=[2.0, 2.0], churned=[1, 1])
    b2 = _ingest(p, "b2.csv", later)
    # Within one batch the later timestamp wins.
    same_batch = _stamped(7, ["02-05", "02-01"], customer_id=[7, 7], tenure=[3.0, 4.0], plan=["pro", "basic"])
    b3 = _ingest(p, "b3.csv", same_batch)
    ds = assemble_dataset(p.settings, p.store, as_of=AS_OF)
    got = ds.frame.set_index("customer_id")["tenure"].to_dict()
    assert got == {"0": 1.0, "1": 2.0, "2": 2.0, "7": 3.0}
    assert ds.frame["customer_id"].tolist() == ["0", "1", "2", "7"]
    assert ds.batch_ids[-2:] == (b2, b3)


def test_dedupe_whole_rows_without_id(make_project: Callable[..., Project]) -> None:
    p = make_project(id_column=None)
    df = churn(n=4).drop(columns=["customer_id"])
    _ingest(p, "a.csv", df)
    _ingest(p, "b.csv", pd.concat([df.iloc[[0, 1]], churn(n=2, start=5).drop(columns=["customer_id"])]))
    assert assemble_dataset(p.settings, p.store).rows == 6


def test_version_and_holdout_are_reproducible(project: Project) -> None:
    _ingest(project, "b1.csv", churn(n=40))
    first = assemble_dataset(project.settings, project.store)
    again = assemble_dataset(project.settings, project.store)
    assert first.version == again.version and len(first.version) == 16
    pd.testing.assert_frame_equal(first.frame, again.frame)
    train, hold = split_holdout(first, 0.25, seed=42, task="binary")
    train2, hold2 = split_holdout(again, 0.25, seed=42, task="binary")
    assert hold.index.tolist() == hold2.index.tolist()
    assert train.index.tolist() == train2.index.tolist()
    assert len(hold) + len(train) == 40 and 0 < len(hold) < 40
    assert set(hold.index).isdisjoint(train.index)
    other_seed = split_holdout(first, 0.25, seed=7, task="binary")[1]
    assert other_seed.index.tolist() != hold.index.tolist()

    _ingest(project, "b2.csv", churn(n=10, start=1000))
    grown = assemble_dataset(project.settings, project.store)
    assert grown.version != first.version
    assert grown.rows == 50


def test_holdout_refuses_to_leave_training_with_one_class(project: Project) -> None:
    _ingest(project, "b.csv", churn(n=12, churned=[1] + [0] * 11))
    ds = assemble_dataset(project.settings, project.store)
    outcomes = set()
    for seed in range(20):
        try:
            train, hold = split_holdout(ds, 0.25, seed=seed, task="binary")
        except DataValidationError as exc:
            assert exc.reason == "too_few_rows"
            outcomes.add("refused")
        else:
            assert train["churned"].nunique() == 2 and len(train) + len(hold) == 12
            outcomes.add("split")
    assert outcomes == {"refused", "split"}
