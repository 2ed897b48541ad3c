from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evergreen.data.read import read_batch
from evergreen.errors import DataValidationError


def _reason(path: Path, max_mb: float = 512) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        read_batch(path, max_mb)
    err = info.value
    assert err.message.startswith(f"{path.name}: ")
    assert "\n" not in err.message
    assert err.file == path.name
    return err


def test_reads_csv_with_standard_na(tmp_path: Path) -> None:
    p = tmp_path / "b.csv"
    p.write_text("a,b,c\n1,x,NA\n2,,3.5\n", encoding="utf-8")
    df = read_batch(p, 512)
    assert list(df.columns) == ["a", "b", "c"]
    assert df["a"].tolist() == [1, 2]
    assert df["b"].isna().tolist() == [False, True]
    assert df["c"].isna().tolist() == [True, False]


def test_reads_csv_with_utf8_bom(tmp_path: Path) -> None:
    p = tmp_path / "bom.csv"
    p.write_bytes("\ufeffa,b\n1,é\n".encode())
    df = read_batch(p, 512)
    assert list(df.columns) == ["a", "b"]
    assert df["b"].tolist() == ["é"]


def test_reads_parquet(tmp_path: Path) -> None:
    p = tmp_path / "b.parquet"
    pd.DataFrame({"a": [1.5, 2.5], "s": ["x", "y"]}).to_parquet(p)
    df = read_batch(p, 512)
    assert df["a"].tolist() == [1.5, 2.5]
    assert df["s"].tolist() == ["x", "y"]


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson"])
def test_reads_json_lines(tmp_path: Path, suffix: str) -> None:
    p = tmp_path / f"b{suffix}"
    p.write_text('{"a": 1, "b": "x"}\n\n{"a": 2, "b": null}\n', encoding="utf-8")
    df = read_batch(p, 512)
    assert df["a"].tolist() == [1, 2]
    assert df["b"].tolist()[0] == "x"
    assert df["b"].isna().tolist() == [False, True]


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    assert _reason(p).reason == "empty_file"


def test_whitespace_only_file_is_empty(tmp_path: Path) -> None:
    p = tmp_path / "blank.jsonl"
    p.write_text("\n\n  \n", encoding="utf-8")
    assert _reason(p).reason == "empty_file"


def test_header_only_csv(tmp_path: Path) -> None:
    p = tmp_path / "head.csv"
    p.write_text("a,b,y\n", encoding="utf-8")
    err = _reason(p)
    assert err.reason == "header_only"
    assert "no rows" in err.message


def test_header_only_parquet(tmp_path: Path) -> None:
    p = tmp_path / "head.parquet"
    pd.DataFrame({"a": pd.Series([], dtype="float64")}).to_parquet(p)
    assert _reason(p).reason == "header_only"


def test_corrupt_parquet(tmp_path: Path) -> None:
    p = tmp_path / "bad.parquet"
    p.write_bytes(b"PAR1 this is not really parquet")
    assert _reason(p).reason == "corrupt_file"


def test_unparsable_csv(tmp_path: Path) -> None:
    p = tmp_path / "ragged.csv"
    p.write_text("a,b\n1,2\n3,4,5,6\n", encoding="utf-8")
    err = _reason(p)
    assert err.reason == "corrupt_file"
    assert "unparsable CSV" in err.message


def test_bad_json_line_names_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"a": 1}\n{"a": \n', encoding="utf-8")
    err = _reason(p)
    assert err.reason == "corrupt_file"
    assert "line 2" in err.message


def test_json_line_that_is_not_an_object(tmp_path: Path) -> None:
    p = tmp_path / "list.jsonl"
    p.write_text("[1, 2]\n", encoding="utf-8")
    assert _reason(p).reason == "corrupt_file"


def test_latin1_bytes_are_bad_encoding_with_offset(tmp_path: Path) -> None:
    p = tmp_path / "latin.csv"
    p.write_bytes("name,y\nJosé,1\n".encode("latin-1"))
    err = _reason(p)
    assert err.reason == "bad_encoding"
    # "name,y\nJos" is 10 bytes: the é (0xe9) is at offset 10.
    assert "offset 10" in err.message
    assert "0xe9" in err.message
    assert err.details["offset"] == 10


def test_too_large_is_refused_by_size_without_reading(tmp_path: Path) -> None:
    p = tmp_path / "big.csv"
    with p.open("wb") as f:
        f.truncate(1_100_000_000)  # sparse: takes no disk space, but would take seconds to read
    err = _reason(p, 512)
    # Read, its NUL bytes would be refused as a corrupt file or a bad encoding: the size decided first.
    assert err.reason == "file_too_large"
    assert "512 MB" in err.message


def test_limit_is_configurable(tmp_path: Path) -> None:
    p = tmp_path / "small.csv"
    p.write_text("a\n" + "1\n" * 2000, encoding="utf-8")
    err = _reason(p, 0.001)
    assert err.reason == "file_too_large"
    assert "0.001 MB" in err.message


def test_unsupported_format(tmp_path: Path) -> None:
    p = tmp_path / "data.xlsx"
    p.write_bytes(b"PK\x03\x04")
    assert _reason(p).reason == "unsupported_format"


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("a,b,c\n1,2,3\n4,5\n", (3, 2, 3)),
        ("a,b,c\r\n1,2,3\r\n4,5\r\n", (3, 2, 3)),
        ('a,b,c\n1,"x,y",3\n4,"5\n"\n', (3, 2, 3)),  # quoted: the row spans lines 3-4
        ("a,b,c\n1,2,3\n\n4,5,6\n", None),  # a blank line is no row
        ('a,b,c\n1,"x,y",3\n4,"5\n6",7\n', None),
        ("a,b,c\n1,hello\u2028world,0\n", None),  # U+2028 ends no line for pandas either
        ("a,b,c\n1,2,3,4\n", None),  # a longer row pandas refuses itself
    ],
)
def test_a_row_shorter_than_the_header_is_found(text: str, short: tuple[int, int, int] | None) -> None:
    from evergreen.data.read import _short_row

    assert _short_row(text) == short
