"""Remove personal data from a batch before anything derived from it is written.

Three operations, configured under ``data.pii``: drop a column, replace a column by a salted SHA-256
of its values (joins still work, the raw value is gone), and scrub e-mail addresses and phone numbers
out of free text. The salt comes from the environment, never from the config file, so a leaked
``evergreen.yaml`` does not make the hashes reversible by dictionary attack.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from evergreen.config import PIIConfig
from evergreen.data.scrub import scrub_text
from evergreen.data.values import canonical_str, is_missing
from evergreen.errors import ConfigError


def hash_value(value: Any, salt: str) -> str:
    return hashlib.sha256((salt + canonical_str(value)).encode("utf-8")).hexdigest()


def _salt(pii: PIIConfig, env: Mapping[str, str]) -> str:
    salt = env.get(pii.salt_env, "")
    if not salt:
        raise ConfigError(
            f"environment variable {pii.salt_env} is not set: it is the salt for the hashed PII columns "
            f"({', '.join(pii.hash)}) named in data.pii.hash",
            details={"variable": pii.salt_env},
        )
    return salt


def apply_pii(df: pd.DataFrame, pii: PIIConfig, env: Mapping[str, str]) -> pd.DataFrame:
    """Return a copy of ``df`` with PII dropped, hashed and scrubbed. Nulls stay null."""
    salt = _salt(pii, env) if pii.hash else ""
    out = df.drop(columns=[c for c in pii.drop if c in df.columns])
    for col in pii.hash:
        if col in out.columns:
            out[col] = pd.Series(
                [None if is_missing(v) else hash_value(v, salt) for v in out[col].tolist()],
                index=out.index,
                dtype=object,
            )
    for col in pii.scrub_text:
        if col in out.columns:
            out[col] = pd.Series(
                [scrub_text(v) if isinstance(v, str) else v for v in out[col].tolist()],
                index=out.index,
                dtype=object,
            )
    return out


@dataclass(frozen=True)
class RecordPII:
    """The same rules for one JSON record (a request or a feedback record), built once per process.

    ``hash`` uses the ingest salt, so a hashed id from ``/predict`` joins the hashed id of the same
    customer in an ingested batch.
    """

    drop: frozenset[str] = frozenset()
    hash: frozenset[str] = frozenset()
    scrub_text: frozenset[str] = frozenset()
    salt: str = field(default="", repr=False)

    @classmethod
    def from_config(cls, pii: PIIConfig, env: Mapping[str, str]) -> RecordPII:
        return cls(
            frozenset(pii.drop),
            frozenset(pii.hash),
            frozenset(pii.scrub_text),
            _salt(pii, env) if pii.hash else "",
        )

    @property
    def active(self) -> bool:
        return bool(self.drop or self.hash or self.scrub_text)

    def record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``record`` with the rules applied (the input is not changed). Nulls stay null."""
        if not self.active:
            return record
        out = {}
        for key, value in record.items():
            if key in self.drop:
                continue
            if key in self.hash and not is_missing(value):
                value = hash_value(value, self.salt)
            elif key in self.scrub_text and isinstance(value, str):
                value = scrub_text(value)
            out[key] = value
        return out
