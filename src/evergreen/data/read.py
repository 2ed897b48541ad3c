"""Read one incoming batch file (CSV, Parquet, JSON lines) into a DataFrame.

Every failure is a :class:`DataValidationError` with a stable ``reason`` code and a one-line message
that starts with the file name, so the CLI can print it as-is and the quarantine sidecar can store it.
The size limit is checked from ``stat()`` before a single byte is read: a 1 GB file must never be
loaded into memory just to be refused.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from evergreen.errors import DataValidationError
from evergreen.files import utf8_name

FORMATS: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}

_MB = 1024 * 1024


def file_format(path: Path) -> str | None:
    return FORMATS.get(path.suffix.lower())


def _fail(path: Path, reason: str, text: str, **extra: Any) -> DataValidationError:
    # Parser messages can span lines; the contract is one line per error.
    one_line = " ".join(f"{path.name}: {text}".split())
    return DataValidationError(one_line, reason=reason, file=path.name, extra=extra or None)


def bad_file_name(name: str) -> DataValidationError | None:
    """The refusal of a file name that is not UTF-8 (None: it is), which can be recorded nowhere (the
    database, the logs, JSON): a landing directory and a ``file://`` landing both ask."""
    shown = utf8_name(name)
    if shown == name:
        return None
    return DataValidationError(
        f"{shown}: the file name is not valid UTF-8; rename it", reason="bad_file_name", file=shown
    )


def max_file_bytes(max_file_mb: float) -> int:
    """``data.max_file_mb`` in whole bytes: a size in bytes is over one exactly when over the other."""
    return int(max_file_mb * _MB)


def too_large(name: str, size: int, max_file_mb: float) -> DataValidationError | None:
    """The refusal of a file of ``size`` bytes over ``data.max_file_mb`` (None: within it); an
    object-store landing asks before downloading."""
    if size <= max_file_bytes(max_file_mb):
        return None
    return _fail(
        Path(name),
        "file_too_large",
        f"file is {size / _MB:.1f} MB, over the limit of {max_file_mb:g} MB (data.max_file_mb)",
        size_bytes=size,
        limit_mb=max_file_mb,
    )


def check_size(path: Path, max_file_mb: float) -> int:
    """Return the file size in bytes, refusing empty or oversized files without opening them."""
    size = path.stat().st_size
    if size == 0:
        raise _fail(path, "empty_file", "file is empty (0 bytes)")
    refusal = too_large(path.name, size, max_file_mb)
    if refusal is not None:
        raise refusal
    return size


def read_batch(path: Path, max_file_mb: float) -> pd.DataFrame:
    """Read ``path`` into a DataFrame; raises DataValidationError with a reason code."""
    fmt = file_format(path)
    if fmt is None:
        raise _fail(
            path,
            "unsupported_format",
            f"unsupported file type '{path.suffix or '(none)'}' (expected .csv, .parquet, .jsonl or .ndjson)",
        )
    check_size(path, max_file_mb)
    frame = _read_parquet(path) if fmt == "parquet" else _read_text(path, fmt)
    if len(frame.columns) == 0:
        raise _fail(path, "empty_file", "file has no columns")
    if len(frame) == 0:
        raise _fail(path, "header_only", f"file has columns ({len(frame.columns)}) but no rows")
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _fail(path, "corrupt_file", f"not a readable Parquet file: {exc}") from None
    return table.to_pandas()


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        # utf-8-sig: a BOM written by Excel is not an encoding error.
        text = raw.decode("utf-8-sig", errors="strict")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex()
        raise _fail(
            path,
            "bad_encoding",
            f"not valid UTF-8: byte 0x{bad} at offset {exc.start} (save the file as UTF-8)",
            offset=exc.start,
        ) from None
    if "\x00" in text:  # the CSV parser ends a cell at a NUL: "1\x00.5" was read as 1.0, silently
        offset = raw.find(b"\x00")
        raise _fail(
            path,
            "bad_encoding",
            f"a NUL byte at offset {offset}: UTF-16 or a binary file? (save the file as UTF-8 text)",
            offset=offset,
        )
    return text


def _read_text(path: Path, fmt: str) -> pd.DataFrame:
    text = _decode(path)
    if not text.strip():
        raise _fail(path, "empty_file", "file contains only whitespace")
    return _parse_csv(path, text) if fmt == "csv" else _parse_jsonl(path, text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        names = [k for k, _ in pairs]
        dup = next(k for k in names if names.count(k) > 1)
        raise ValueError(f"key {dup[:100]!r} appears twice in one record")
    return out


def _duplicate_header(text: str) -> str | None:
    """pandas renames a repeated column ``a`` to ``a.1``; a file with two ``a`` columns is refused."""
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error:
        return None  # pandas reports the parse error itself
    seen: set[str] = set()
    for name in header:
        if name in seen:
            return name
        seen.add(name)
    return None


def _short_row(text: str) -> tuple[int, int, int] | None:
    """The first row with fewer fields than the header, as (row, fields, header fields), the header
    being row 1: pandas pads such a row with missing values, silently (a longer one it refuses
    itself). Without quotes a line is a row and its commas count its fields (lines end at "\\n"
    only, as for pandas: a U+2028 in a cell is no line end); with quotes pyarrow's reader counts
    them (3.5x faster than the csv module on a 60 MB file)."""
    if '"' not in text:
        lines = text.split("\n")
        width = lines[0].count(",")
        for number, line in enumerate(lines[1:], start=2):
            if line.strip() and line.count(",") < width:
                return number, line.count(",") + 1, width + 1
        return None
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error:
        return None  # pandas reports the parse error itself
    found: list[tuple[int, int, int]] = []

    def short(row: Any) -> str:
        if row.actual_columns < row.expected_columns:
            found.append((row.number, row.actual_columns, row.expected_columns))
            return "error"
        return "skip"  # a longer row: pandas refuses it itself

    with contextlib.suppress(pa.ArrowException):  # the row found, or a problem pandas names itself
        pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True, use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=short),
            convert_options=pacsv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(len(header))}
            ),
        )
    return found[0] if found else None


def _parse_csv(path: Path, text: str) -> pd.DataFrame:
    if (dup := _duplicate_header(text)) is not None:
        raise _fail(path, "corrupt_file", f"column {dup[:100]!r} appears twice in the header")
    if (short := _short_row(text)) is not None:
        line, fields, width = short
        raise _fail(
            path,
            "corrupt_file",
            f"unparsable CSV: row {line} has {fields} fields, the header {width} "
            "(a cell or a comma missing?)",
            line=line,
        )
    try:
        return pd.read_csv(io.StringIO(text))
    except pd.errors.EmptyDataError:
        raise _fail(path, "empty_file", "file has no columns") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise _fail(path, "corrupt_file", f"unparsable CSV: {exc}") from None


_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _encodable(record: object) -> bool:
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _parse_jsonl(path: Path, text: str) -> pd.DataFrame:
    records: list[dict[str, Any]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            raise _fail(
                path, "corrupt_file", f"line {lineno}: invalid JSON ({exc.msg})", line=lineno
            ) from None
        except RecursionError:
            raise _fail(path, "corrupt_file", f"line {lineno}: JSON nested too deeply", line=lineno) from None
        except ValueError as exc:  # a repeated key, or an integer over Python's 4300-digit limit
            raise _fail(path, "corrupt_file", f"line {lineno}: {exc}"[:300], line=lineno) from None
        if _ESCAPED_SURROGATE.search(line) and not _encodable(record):
            # "\ud800" alone is valid JSON but no character: nothing can store it as UTF-8.
            raise _fail(
                path,
                "corrupt_file",
                f"line {lineno}: a lone UTF-16 surrogate escape (\\ud800-\\udfff)",
                line=lineno,
            )
        if not isinstance(record, dict):
            raise _fail(
                path,
                "corrupt_file",
                f"line {lineno}: expected a JSON object, found {type(record).__name__}",
                line=lineno,
            )
        records.append(record)
    return pd.DataFrame.from_records(records)
