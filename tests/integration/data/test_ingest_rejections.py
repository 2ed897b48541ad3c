"""Every kind of bad file is quarantined with the right reason, and nothing else changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from evergreen.data.ingest import ingest_paths
from evergreen.data.landing import ingest_landing
from evergreen.store.tables import batches, contracts
from tests.support.data import ENV, Project, churn


def _missing_column(p: Project) -> Path:
    return p.write_csv("missing.csv", churn().drop(columns=["plan"]))


def _wrong_type(p: Project) -> Path:
    df = churn().astype({"tenure": object})
    df.loc[3, "tenure"] = "abc"
    return p.write_csv("wrong_type.csv", df)


def _unseen_label(p: Project) -> Path:
    return p.write_csv("label.csv", churn(churned=[0, 1, 2, 0, 1, 0, 1, 0, 1, 0]))


def _empty(p: Project) -> Path:
    return p.write_bytes("empty.csv", b"")


def _header_only(p: Project) -> Path:
    return p.write_bytes("header.csv", b"customer_id,tenure,plan,churned\n")


def _corrupt_parquet(p: Project) -> Path:
    good = p.root / "good.parquet"
    churn().to_parquet(good)
    return p.write_bytes("corrupt.parquet", good.read_bytes()[:-40])  # truncated footer


def _latin1(p: Project) -> Path:
    return p.write_bytes("latin1.csv", "customer_id,tenure,plan,churned\n1,2.5,básico,0\n".encode("latin-1"))


def _all_null(p: Project) -> Path:
    return p.write_csv("allnull.csv", churn(plan=None))


def _inf(p: Project) -> Path:
    return p.write_csv("inf.csv", churn(tenure=[1.0, np.inf] + [2.0] * 8))


def _too_many_nulls(p: Project) -> Path:
    return p.write_csv("nulls.csv", churn(tenure=[np.nan] * 6 + [1.0] * 4))  # 60% > 50%


def _duplicates(p: Project) -> Path:
    df = churn()
    return p.write_csv("dups.csv", pd.concat([df, df.iloc[[0, 1, 2]]]))


def _nul(p: Project) -> Path:
    # The CSV parser ends a cell at a NUL: "1\x00.5" was stored as 1.0, silently.
    return p.write_bytes("nul.csv", b"customer_id,tenure,plan,churned\n1,1\x00.5,basic,0\n2,2.5,pro,1\n")


def _lone_surrogate(p: Project) -> Path:
    # Valid JSON, but no character: nothing stores it as UTF-8 (it stopped the whole pass).
    line = '{"customer_id": 1, "tenure": 1.5, "plan": "basic\\ud800", "churned": 0}\n'
    return p.write_bytes("surrogate.jsonl", line.encode())


def _short_row(p: Project) -> Path:
    # pandas padded the row with missing values: accepted with 1 of 2 rows unlabelled, silently.
    return p.write_bytes("short.csv", b"customer_id,tenure,plan,churned\n1,1.5,basic,0\n2,2.5,pro\n")


def _big(p: Project) -> Path:
    path = p.root / "incoming" / "big.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.truncate(1_100_000_000)  # sparse "1 GB": must be refused from its size alone
    return path


CASES: list[tuple[Callable[[Project], Path], str, str | None]] = [
    (_missing_column, "missing_column", "plan"),
    (_wrong_type, "wrong_type", "tenure"),
    (_unseen_label, "unseen_target_label", "churned"),
    (_empty, "empty_file", None),
    (_header_only, "header_only", None),
    (_corrupt_parquet, "corrupt_file", None),
    (_latin1, "bad_encoding", None),
    (_all_null, "all_null_column", "plan"),
    (_inf, "non_finite_values", "tenure"),
    (_too_many_nulls, "null_rate_exceeded", "tenure"),
    (_duplicates, "duplicate_rows", None),
    (_big, "file_too_large", None),
    (_nul, "bad_encoding", None),
    (_lone_surrogate, "corrupt_file", None),
    (_short_row, "corrupt_file", None),
]


@pytest.mark.parametrize(("make_file", "reason", "column"), CASES, ids=[c[0].__name__ for c in CASES])
def test_bad_file_is_quarantined(
    project: Project, make_file: Callable[[Project], Path], reason: str, column: str | None
) -> None:
    [first] = ingest_paths(project.settings, project.store, [project.write_csv("first.csv", churn())], ENV)
    assert first.status == "accepted"
    before = project.state()
    path = make_file(project)

    [res] = ingest_paths(project.settings, project.store, [path], ENV)

    assert (res.status, res.reason, res.column) == ("quarantined", reason, column), res.message
    assert res.message.startswith(f"{path.name}: ")
    assert "\n" not in res.message
    if column:
        assert f"'{column}'" in res.message
    assert path.exists(), "files named on the command line are copied, never moved"
    assert project.state() == before
    sidecars = list(project.settings.storage.quarantine_dir.glob(f"*-{path.name}.reason.json"))
    assert len(sidecars) == 1
    record = json.loads(sidecars[0].read_text())
    assert (record["reason"], record["column"], record["message"]) == (reason, column, res.message)
    copy = sidecars[0].with_name(sidecars[0].name.removesuffix(".reason.json"))
    if reason == "file_too_large":
        assert not copy.exists()  # not duplicated on disk; the sidecar names the original
        assert record["original"] == str(path)
    else:
        assert copy.read_bytes() == path.read_bytes()
    row = project.batch_rows()[-1]
    assert (row.status, row.reason, row.id) == ("quarantined", reason, res.batch_id)


def test_too_large_file_in_landing_is_moved_to_quarantine(make_project: Callable[..., Project]) -> None:
    p = make_project()
    landing = p.settings.data.landing
    landing.mkdir(parents=True)
    with (landing / "big.csv").open("wb") as f:
        f.truncate(1_100_000_000)
    [res] = ingest_landing(p.settings, p.store, ENV)
    assert res.reason == "file_too_large"
    assert not (landing / "big.csv").exists()
    moved = list(p.settings.storage.quarantine_dir.glob("*-big.csv"))
    assert len(moved) == 1 and moved[0].stat().st_size == 1_100_000_000
    assert moved[0].with_name(moved[0].name + ".reason.json").exists()


def test_rejected_first_batch_stores_no_contract(project: Project) -> None:
    bad = project.write_csv("three_classes.csv", churn(churned=[0, 1, 2] * 3 + [0]))
    [res] = ingest_paths(project.settings, project.store, [bad], ENV)
    assert (res.status, res.reason, res.column) == ("quarantined", "bad_target", "churned")
    with project.store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(contracts)).scalar_one() == 0
        statuses = conn.execute(select(batches.c.status)).scalars().all()
    assert statuses == ["quarantined"]
    assert project.state()["snapshots"] == []


def test_missing_path_is_reported_not_raised(project: Project) -> None:
    [res] = ingest_paths(project.settings, project.store, [project.root / "nope.csv"], ENV)
    assert (res.status, res.reason) == ("quarantined", "file_not_found")
    assert res.message.startswith("nope.csv: ")


def test_a_directory_is_reported_as_one_not_as_missing(project: Project) -> None:
    folder = project.root / "exports"
    folder.mkdir()
    [res] = ingest_paths(project.settings, project.store, [folder], ENV)
    assert (res.status, res.reason) == ("quarantined", "file_not_found")
    # was "exports: file not found (...)" for a directory that is there
    assert (
        res.message == "exports: is a directory, not a file; name its files (no PATH ingests the landing dir)"
    )


def test_a_symlink_in_the_landing_dir_is_quarantined_without_being_read(project: Project) -> None:
    import os

    secret = project.root / "outside" / "secret.csv"
    secret.parent.mkdir()
    churn(4).to_csv(secret, index=False)
    landing = project.settings.data.landing
    landing.mkdir(parents=True)
    os.symlink(secret, landing / "innocent.csv")
    [result] = ingest_landing(project.settings, project.store, ENV)
    assert (result.status, result.reason) == ("quarantined", "symlink")
    assert not (landing / "innocent.csv").is_symlink() and secret.is_file()  # the link gone, not its target
    quarantined = list(project.settings.storage.quarantine_dir.iterdir())
    assert [p.name.endswith(".reason.json") for p in quarantined] == [True]  # no copy of the target
    assert project.state()["accepted"] == 0


def _landing(project: Project) -> Path:
    landing = project.settings.data.landing
    landing.mkdir(parents=True, exist_ok=True)
    return landing


def test_a_file_name_that_is_not_utf8_is_quarantined_and_the_next_file_goes_in(project: Project) -> None:
    # Before: UnicodeEncodeError on the batch row, the pass failed, the good file never went in,
    # and the same happened on every later pass.
    import os

    landing = _landing(project)
    bad = os.path.join(os.fsencode(landing), b"a_\xff.csv")
    churn().to_csv(os.fsdecode(bad), index=False)
    project.write_csv("b_good.csv", churn(start=100), where=landing)
    first, second = ingest_landing(project.settings, project.store, ENV)
    assert (first.status, first.reason) == ("quarantined", "bad_file_name")
    assert first.message == "a_\\xff.csv: the file name is not valid UTF-8; rename it"
    assert first.source.endswith("a_\\xff.csv")
    assert (second.status, second.rows) == ("accepted", 10)
    assert sorted(os.listdir(landing)) == [".processed"]  # nothing left to fail the next pass


def test_a_long_name_is_cut_to_fit_in_quarantine(project: Project) -> None:
    landing = _landing(project)
    name = "x" * 240 + ".csv"  # the time stamp in front made it longer than 255 bytes
    project.write_bytes(name, b"", where=landing)
    [res] = ingest_landing(project.settings, project.store, ENV)
    assert (res.status, res.reason) == ("quarantined", "empty_file")
    [sidecar] = project.settings.storage.quarantine_dir.glob("*.reason.json")
    assert len(sidecar.name.encode()) <= 255 and sidecar.name.endswith(".csv.reason.json")
    assert json.loads(sidecar.read_text())["file"] == name


def test_an_unforeseen_failure_quarantines_that_file_only(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evergreen.data import ingest

    landing = _landing(project)
    project.write_csv("a_poison.csv", churn(), where=landing)
    project.write_csv("b_good.csv", churn(start=100), where=landing)
    real = ingest.read_batch

    def read_batch(path: Path, max_mb: float) -> pd.DataFrame:
        if path.name == "a_poison.csv":  # a failure no check foresaw, quoting a value of the file
            raise OverflowError("cannot convert 'bob.secret@example.com' to a C long")
        return real(path, max_mb)

    monkeypatch.setattr(ingest, "read_batch", read_batch)
    poison, good = ingest_landing(project.settings, project.store, ENV)
    assert (poison.status, poison.reason) == ("quarantined", "ingest_error")
    assert (
        poison.message
        == "a_poison.csv: could not be ingested: OverflowError: cannot convert '<EMAIL>' to a C long"
    )
    assert (good.status, good.rows) == ("accepted", 10)
    sidecar = next(project.settings.storage.quarantine_dir.glob("*a_poison.csv.reason.json"))
    assert "bob.secret" not in sidecar.read_text()


@pytest.mark.parametrize(
    "failure",
    [
        OperationalError("INSERT", {}, Exception("server closed the connection")),
        # the data volume gone under a running scheduler: a good file was quarantined for it
        FileExistsError(17, "File exists", "data/snapshots"),
        TypeError("a bug of evergreen's while storing"),
    ],
    ids=["database", "disk", "bug"],
)
def test_a_failure_storing_a_good_file_is_not_blamed_on_the_file(
    project: Project, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    from evergreen.data import ingest

    landing = _landing(project)
    path = project.write_csv("good.csv", churn(), where=landing)

    def down(*_a: object, **_k: object) -> None:
        raise failure

    monkeypatch.setattr(ingest, "_commit", down)
    with pytest.raises(type(failure)):
        ingest_landing(project.settings, project.store, ENV)
    assert path.exists() and not list(project.settings.storage.quarantine_dir.glob("*"))


def test_a_full_disk_while_reading_is_not_blamed_on_the_file(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from evergreen.data import ingest

    path = project.write_csv("good.csv", churn(), where=_landing(project))

    def full(*_a: object, **_k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ingest, "read_batch", full)
    with pytest.raises(OSError, match="No space left"):
        ingest_landing(project.settings, project.store, ENV)
    assert path.exists()


def test_values_quoted_by_a_refusal_are_scrubbed_of_pii(project: Project) -> None:
    [first] = ingest_paths(project.settings, project.store, [project.write_csv("first.csv", churn())], ENV)
    assert first.status == "accepted"
    df = churn().astype({"tenure": object})
    df.loc[3, "tenure"] = "bob.secret@example.com"
    [res] = ingest_paths(project.settings, project.store, [project.write_csv("pii.csv", df)], ENV)
    assert (res.status, res.reason) == ("quarantined", "wrong_type")
    assert "'<EMAIL>'" in res.message and "bob.secret" not in res.message
    row = project.batch_rows()[-1]
    assert "bob.secret" not in json.dumps(row.details)
    [sidecar] = project.settings.storage.quarantine_dir.glob("*-pii.csv.reason.json")
    assert "bob.secret" not in sidecar.read_text()


def test_a_first_batch_of_numbers_with_a_stray_word_is_refused_not_frozen_categorical(
    project: Project,
) -> None:
    # The stray word made the column categorical in the contract for good: every later number was
    # then accepted as a "new category".
    df = churn(20).astype({"tenure": object})
    df.loc[5, "tenure"] = "abc"
    [res] = ingest_paths(project.settings, project.store, [project.write_csv("first.csv", df)], ENV)
    assert (res.status, res.reason, res.column) == ("quarantined", "wrong_type", "tenure")
    assert "19 of 20 values are numbers, the rest text like 'abc'" in res.message
    assert project.state()["contracts"] == 0
    words = churn(20, plan=["basic", "pro", "team", "x"] * 5)  # a real categorical column is one
    [ok] = ingest_paths(project.settings, project.store, [project.write_csv("ok.csv", words)], ENV)
    assert ok.status == "accepted"
