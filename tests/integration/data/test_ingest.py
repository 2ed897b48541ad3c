"""Accepted, duplicate and unlabelled batches; PII in snapshots; the landing directory."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from evergreen.data.catalog import load_contract
from evergreen.data.dataset import assemble_dataset
from evergreen.data.ingest import ingest_paths
from evergreen.data.landing import ingest_landing
from evergreen.data.snapshot import read_snapshot
from evergreen.errors import ConfigError
from evergreen.store.engine import as_utc
from evergreen.store.tables import contracts
from tests.support.data import ENV, Project, churn


def test_accepted_batch_is_snapshotted_with_contract(project: Project) -> None:
    path = project.write_csv("b1.csv", churn())
    [res] = ingest_paths(project.settings, project.store, [path], ENV)
    assert (res.status, res.rows, res.labelled_rows, res.reason) == ("accepted", 10, 10, None)
    assert res.message == f"b1.csv: accepted 10 rows (10 labelled) as batch {res.batch_id}"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    snap = Path(res.path or "")
    assert snap.name == f"{res.batch_id:06d}-{digest[:12]}.parquet"
    assert [p.name for p in snap.parent.iterdir()] == [snap.name]  # no temp file left behind
    frame = read_snapshot(snap)
    assert list(frame.columns) == ["customer_id", "tenure", "plan", "churned"]
    row = project.batch_rows()[0]
    assert (row.status, row.content_hash, row.path, row.rows) == ("accepted", digest, str(snap), 10)
    with project.store.connect() as conn:
        loaded = load_contract(conn, "p")
    assert loaded is not None
    assert loaded[1].columns == ("customer_id", "tenure", "plan", "churned")
    assert loaded[1].target_classes == (0, 1)


def test_extra_columns_are_dropped_and_noted(project: Project) -> None:
    ingest_paths(project.settings, project.store, [project.write_csv("b1.csv", churn())], ENV)
    extra = project.write_csv("b2.csv", churn(start=10).assign(unknown_extra="x"))
    [res] = ingest_paths(project.settings, project.store, [extra], ENV)
    assert res.status == "accepted"
    assert res.notes == ("dropped columns not in the contract: unknown_extra",)
    assert "unknown_extra" not in read_snapshot(res.path or "").columns
    assert project.batch_rows()[-1].details["dropped_columns"] == ["unknown_extra"]


def test_contract_is_stored_once(project: Project) -> None:
    paths = [project.write_csv(f"b{i}.csv", churn(start=10 * i)) for i in range(3)]
    results = ingest_paths(project.settings, project.store, paths, ENV)
    assert [r.status for r in results] == ["accepted"] * 3
    assert project.state()["contracts"] == 1


def test_same_file_twice_is_duplicate(project: Project) -> None:
    path = project.write_csv("b.csv", churn())
    [first] = ingest_paths(project.settings, project.store, [path], ENV)
    before = project.state()
    [again] = ingest_paths(project.settings, project.store, [path], ENV)
    assert again.status == "duplicate"
    assert again.reason == f"duplicate_of:{first.batch_id}"
    assert again.rows == 0
    assert project.state() == before
    assert [r.status for r in project.batch_rows()] == ["accepted", "duplicate"]


def test_unlabelled_batch_is_accepted_then_classes_are_learned(project: Project) -> None:
    no_target = project.write_csv("monitor.csv", churn().drop(columns=["churned"]))
    [res] = ingest_paths(project.settings, project.store, [no_target], ENV)
    assert (res.status, res.rows, res.labelled_rows) == ("accepted", 10, 0)
    assert read_snapshot(res.path or "")["churned"].isna().all()
    null_target = project.write_csv("null_target.csv", churn(start=100, churned=None))
    [res2] = ingest_paths(project.settings, project.store, [null_target], ENV)
    assert (res2.status, res2.labelled_rows) == ("accepted", 0)
    with project.store.connect() as conn:
        assert load_contract(conn, "p")[1].target_classes is None  # type: ignore[index]
    partly = churn(start=200, churned=[0, 1, None, 1, 0, None, 1, 0, 1, 0])
    [res3] = ingest_paths(project.settings, project.store, [project.write_csv("part.csv", partly)], ENV)
    assert (res3.status, res3.labelled_rows) == ("accepted", 8)
    with project.store.connect() as conn:
        rows = conn.execute(select(contracts.c.source_batch_id).order_by(contracts.c.id)).scalars().all()
        assert load_contract(conn, "p")[1].target_classes == (0, 1)  # type: ignore[index]
    assert rows == [res.batch_id, res3.batch_id]


def test_pii_is_removed_before_the_snapshot(make_project: Callable[..., Project]) -> None:
    p = make_project(pii={"drop": ["email"], "hash": ["customer_id"], "scrub_text": ["last_ticket"]})
    df = churn(n=4).assign(
        email=["a@x.com", "b@x.com", "c@x.com", "d@x.com"],
        last_ticket=[
            "please email me at jane@example.org about the bill",
            "call me on +1 415 555 0100 tomorrow",
            None,
            "the app keeps crashing when I open my invoices page",
        ],
    )
    [res] = ingest_paths(p.settings, p.store, [p.write_csv("pii.csv", df)], ENV)
    assert res.status == "accepted", res.message
    snap = read_snapshot(res.path or "")
    assert "email" not in snap.columns
    salt = ENV["EVERGREEN_PII_SALT"]
    assert snap["customer_id"].tolist() == [
        hashlib.sha256(f"{salt}{i}".encode()).hexdigest() for i in range(4)
    ]
    assert snap["last_ticket"].tolist()[:2] == [
        "please email me at <EMAIL> about the bill",
        "call me on <PHONE> tomorrow",
    ]
    assert snap["last_ticket"].isna().tolist() == [False, False, True, False]
    text = snap.astype(str).to_csv()
    assert "@" not in text and "555" not in text
    raw = Path(res.path or "").read_bytes()
    assert b"jane@example.org" not in raw and b"a@x.com" not in raw


def test_landing_moves_files_out(project: Project) -> None:
    landing = project.settings.data.landing
    good = project.write_csv("a_good.csv", churn(), where=landing)
    project.write_csv("b_again.csv", churn(), where=landing)  # same bytes as a_good.csv
    project.write_csv("c_bad.csv", churn().drop(columns=["tenure"]), where=landing)
    (landing / "notes.txt").write_text("ignored")
    jsonl = landing / "d_more.jsonl"
    jsonl.write_text(churn(start=50).to_json(orient="records", lines=True))
    results = ingest_landing(project.settings, project.store, ENV)
    assert [(Path(r.source).name, r.status) for r in results] == [
        ("a_good.csv", "accepted"),
        ("b_again.csv", "duplicate"),
        ("c_bad.csv", "quarantined"),
        ("d_more.jsonl", "accepted"),
    ]
    assert sorted(p.name for p in landing.iterdir() if p.is_file()) == ["notes.txt"]
    processed = sorted(p.name for p in (landing / ".processed").iterdir())
    assert processed == ["a_good.csv", "b_again.csv", "d_more.jsonl"]
    assert not good.exists()
    assert len(list(project.settings.storage.quarantine_dir.glob("*-c_bad.csv"))) == 1
    assert ingest_landing(project.settings, project.store, ENV) == []


def test_timestamp_bounds_are_recorded(make_project: Callable[..., Project]) -> None:
    p = make_project(timestamp_column="event_time")
    times = pd.date_range("2024-03-01", periods=10, freq="D", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    [res] = ingest_paths(p.settings, p.store, [p.write_csv("t.csv", churn(event_time=list(times)))], ENV)
    assert res.status == "accepted", res.message
    row = p.batch_rows()[0]
    assert as_utc(row.min_timestamp) == pd.Timestamp("2024-03-01", tz="UTC")
    assert as_utc(row.max_timestamp) == pd.Timestamp("2024-03-10", tz="UTC")


def test_missing_salt_raises_and_leaves_the_file(make_project: Callable[..., Project]) -> None:
    p = make_project(pii={"hash": ["customer_id"]})
    path = p.write_csv("b.csv", churn(), where=p.settings.data.landing)
    with pytest.raises(ConfigError, match="EVERGREEN_PII_SALT"):
        ingest_landing(p.settings, p.store, env={})
    assert path.exists()
    assert p.batch_rows() == []
    assert p.state() == {"accepted": 0, "contracts": 0, "snapshots": []}


def test_dataset_target_has_plain_dtype(project: Project) -> None:
    ingest_paths(project.settings, project.store, [project.write_csv("b.csv", churn())], ENV)
    assert str(assemble_dataset(project.settings, project.store).frame["churned"].dtype) == "int64"
