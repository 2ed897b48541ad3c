"""E-mail addresses and phone numbers out of free text: pure regular expressions, no pandas, so that
a quick CLI verb (``evergreen alerts``) and the alert rules can use them without loading it."""

from __future__ import annotations

import re

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
