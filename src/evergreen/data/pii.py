"""Remove personal data from a batch before anything derived from it is written.

Three operations, configured under ``data.pii``: drop a column, replace a column by a salted SHA-256
of its values (joins still work, the raw value is gone), and scrub e-mail addresses and phone numbers
out of free text. The salt comes from the environment, never from the config file, so a leaked
``evergreen.yaml`` does not make the hashes reversible by dictionary attack.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from evergreen.config import PIIConfig
from evergreen.data.values import canonical_str, is_missing
from evergreen.errors import ConfigError

EMAIL_TOKEN = "<EMAIL>"
PHONE_TOKEN = "<PHONE>"

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# A run of digits with common phone separators, optionally starting with "+", "00" or "(".
# Candidates are filtered by _looks_like_phone, which is easier to read than one giant regex.
_PHONE_CANDIDATE = re.compile(r"(?<![\w+])(?:\+|\(\+?)?\d[\d ().\-/]{4,}\d(?![\w@])")
# A date, or an ISO date and its hour (the candidate stops at the ':' of "2026-12-03 06:47:05").
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{4}-\d{2}-\d{2}[ T]\d{2}")
_DECIMAL = re.compile(r"\d+\.\d+")
_SEPARATORS = re.compile(r"[ ().\-/]")


def _looks_like_phone(candidate: str) -> bool:
    digits = sum(ch.isdigit() for ch in candidate)
    if not 7 <= digits <= 15:  # E.164 allows at most 15 digits; fewer than 7 is not a phone number
        return False
    if _DATE.fullmatch(candidate) or _DECIMAL.fullmatch(candidate):
        return False
    international = candidate.startswith(("+", "(+", "00"))
    separated = bool(_SEPARATORS.search(candidate))
    # A bare digit run of 7-9 digits is more often an order number than a phone number.
    return international or separated or digits >= 10


def scrub_text(text: str) -> str:
    """Replace e-mail addresses by ``<EMAIL>`` and phone numbers by ``<PHONE>``."""
    text = _EMAIL.sub(EMAIL_TOKEN, text)

    def phone(match: re.Match[str]) -> str:
        candidate = match.group(0)
        # The candidate may have swallowed a trailing ")" or space-separated neighbour; trim it.
        stripped = candidate.rstrip(" .-/")
        if _looks_like_phone(stripped):
            return PHONE_TOKEN + candidate[len(stripped) :]
        return candidate

    return _PHONE_CANDIDATE.sub(phone, text)


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
