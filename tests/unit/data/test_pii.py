from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from evergreen.config import PIIConfig
from evergreen.data.pii import apply_pii, scrub_text
from evergreen.errors import ConfigError

ENV = {"EVERGREEN_PII_SALT": "pepper"}


def _sha(text: str) -> str:
    return hashlib.sha256(("pepper" + text).encode()).hexdigest()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe+x@mail.example.com today", "write to <EMAIL> today"),
        ("a@b.io, c_d@e-f.org", "<EMAIL>, <EMAIL>"),
        ("call +44 20 7946 0958 now", "call <PHONE> now"),
        ("call (555) 123-4567.", "call <PHONE>."),
        ("tel 555-1234 or 030/1234567", "tel <PHONE> or <PHONE>"),
        ("ring 0049 30 1234567!", "ring <PHONE>!"),
        ("mobile +4915112345678", "mobile <PHONE>"),
        ("07700 900123", "<PHONE>"),
        ("555.123.4567", "<PHONE>"),
        # Not phone numbers: dates, decimals, short numbers, order ids without separators.
        ("on 2024-01-15 I paid 3.14159265 for 3 items", "on 2024-01-15 I paid 3.14159265 for 3 items"),
        ("order 1234567 room 12-34", "order 1234567 room 12-34"),
        ("as_of 2026-12-03 06:47:05 is after", "as_of 2026-12-03 06:47:05 is after"),  # was <PHONE>:47:05
        ("at 2026-12-03T06:47:05Z", "at 2026-12-03T06:47:05Z"),
        ("no pii here", "no pii here"),
    ],
)
def test_scrub_text_exact(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


def test_drop_hash_and_scrub() -> None:
    df = pd.DataFrame(
        {
            "email": ["a@b.com", "c@d.com", None],
            "customer_id": [17, 18.0, None],
            "note": ["mail me at a@b.com", None, "call 555-123-4567"],
            "x": [1, 2, 3],
        }
    )
    cfg = PIIConfig(drop=("email",), hash=("customer_id",), scrub_text=("note",))
    out = apply_pii(df, cfg, ENV)
    assert list(out.columns) == ["customer_id", "note", "x"]
    # 18.0 hashes like 18: the float is only an artefact of a null elsewhere in the CSV column.
    assert out["customer_id"].tolist()[:2] == [_sha("17"), _sha("18")]
    assert out["customer_id"].isna().tolist() == [False, False, True]
    assert out["note"].tolist()[0] == "mail me at <EMAIL>"
    assert out["note"].isna().tolist() == [False, True, False]
    assert out["note"].tolist()[2] == "call <PHONE>"
    assert out["x"].tolist() == [1, 2, 3]
    assert "email" in df.columns  # input untouched


def test_hash_is_stable_and_salted() -> None:
    df = pd.DataFrame({"id": ["u1"]})
    cfg = PIIConfig(hash=("id",))
    first = apply_pii(df, cfg, ENV)["id"].iloc[0]
    assert first == apply_pii(df, cfg, ENV)["id"].iloc[0] == _sha("u1")
    other = apply_pii(df, cfg, {"EVERGREEN_PII_SALT": "salt2"})["id"].iloc[0]
    assert other != first


def test_missing_salt_is_config_error_naming_variable() -> None:
    cfg = PIIConfig(hash=("id",), salt_env="MY_SALT")
    with pytest.raises(ConfigError, match="MY_SALT"):
        apply_pii(pd.DataFrame({"id": [1]}), cfg, {})


def test_no_salt_needed_without_hash_columns() -> None:
    out = apply_pii(pd.DataFrame({"a": [1], "b": [np.nan]}), PIIConfig(drop=("b", "missing")), {})
    assert list(out.columns) == ["a"]


def test_a_record_gets_the_same_rules_as_a_batch() -> None:
    from evergreen.config import PIIConfig
    from evergreen.data.pii import RecordPII, apply_pii, hash_value

    pii = PIIConfig(drop=("email",), hash=("customer_id",), scrub_text=("note",))
    rules = RecordPII.from_config(pii, {"EVERGREEN_PII_SALT": "s"})
    record = {"customer_id": "C-1", "email": "a@b.co", "note": "mail a@b.co or +44 20 7946 1234", "x": 1}
    out = rules.record(record)
    assert out == {"customer_id": hash_value("C-1", "s"), "note": "mail <EMAIL> or <PHONE>", "x": 1}
    assert record["customer_id"] == "C-1"  # the input is not changed
    frame = apply_pii(pd.DataFrame([record]), pii, {"EVERGREEN_PII_SALT": "s"})
    assert frame.to_dict(orient="records") == [out]  # the same values as ingest: joins still work
    assert rules.record({"customer_id": None}) == {"customer_id": None}
    assert "pepper-91" not in repr(RecordPII.from_config(pii, {"EVERGREEN_PII_SALT": "pepper-91"}))
    assert not RecordPII().active and RecordPII().record(record) is record


def test_record_rules_need_the_salt_when_a_column_is_hashed() -> None:
    from evergreen.config import PIIConfig
    from evergreen.data.pii import RecordPII
    from evergreen.errors import ConfigError

    with pytest.raises(ConfigError, match="EVERGREEN_PII_SALT"):
        RecordPII.from_config(PIIConfig(hash=("id",)), {})
    assert RecordPII.from_config(PIIConfig(drop=("email",)), {}).active


def test_expired_files_are_chosen_by_age() -> None:
    from datetime import UTC, datetime
    from pathlib import Path

    from evergreen.data.quarantine import expired

    now = datetime(2026, 3, 10, tzinfo=UTC)
    day = 86400.0
    entries = [(Path("a"), now.timestamp() - 8 * day), (Path("b"), now.timestamp() - 6 * day)]
    assert expired(entries, now, 7) == [Path("a")]
    assert expired(entries, now, 0) == [Path("a"), Path("b")]
    assert expired(entries, now, 30) == []
