"""The one redaction step: secrets out of every log line, stored row, HTTP error and alert.

A :class:`Redactor` is built from the loaded settings (:func:`redactor_for`) by whoever opens the
project, and handed to the sinks: the metadata store (every string bound to a statement), the
structlog processor and stdlib logging filter (:mod:`evergreen.logs`), the HTTP error renderer and
the alert channels. What it removes:

- the password of any URL (``scheme://user:password@host``), configured or not, and the value of
  a credential in its query (``?token=…``, ``&X-Amz-Signature=…``);
- every configured secret verbatim (and URL-encoded): the passwords of ``storage.database_url`` and
  ``storage.mlflow_tracking_uri``, alert channel URLs, tokens and SMTP passwords, the API tokens in
  ``auth.tokens_env`` and the dashboard's session secret.

Secrets shorter than :data:`MIN_SECRET_LENGTH` are not searched for verbatim (a 2-letter password
would blank every word containing it); inside a URL they are still removed by the URL rule.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:
    from evergreen.config import Settings

__all__ = ["MASK", "MIN_SECRET_LENGTH", "Redactor", "redactor_for", "token_entries"]

MASK = "***"
MIN_SECRET_LENGTH = 6
# scheme://[user]:password@ — the password runs to the authority's last '@' (a raw '@' in it is
# still the password), stopping at whitespace, a quote or '/', so a path is never eaten.
_URL_PASSWORD = re.compile(r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]*:)[^\s/\"']+@")
# SQLAlchemy's reading of user:password@ (the password runs to the first '@', '/' included).
_RAW_SLASH_PASSWORD = re.compile(r"[^:/@]*:(?P<password>[^@]*)@")
# A query parameter that carries a credential (``?token=…``, ``&X-Amz-Signature=…``).
_SECRET_PARAM = (
    r"(?:[a-z_\-]*(?:token|password|passwd|pwd|secret|signature|credential|api[_\-]?key)|key|sig|auth)"
)
_URL_QUERY_SECRET = re.compile(rf"(?P<pre>[?&]{_SECRET_PARAM}=)[^&#\s\"']+", re.IGNORECASE)


@dataclass(frozen=True)
class Redactor:
    """Replaces secrets in text; ``Redactor()`` alone still removes URL passwords."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, secrets: Iterable[str]) -> Redactor:
        forms: set[str] = set()
        for s in secrets:
            if s and len(s) >= MIN_SECRET_LENGTH:
                forms.update({s, quote(s, safe=""), quote(s, safe=":/"), unquote(s)})
        # Longest first, so a URL is replaced whole before a secret inside it.
        return cls(tuple(sorted((f for f in forms if len(f) >= MIN_SECRET_LENGTH), key=len, reverse=True)))

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, MASK)
        if "://" in text:
            text = _URL_PASSWORD.sub(rf"\g<pre>{MASK}@", text)
            text = _URL_QUERY_SECRET.sub(rf"\g<pre>{MASK}", text)
        return text

    def value(self, value: Any) -> Any:
        """``value`` with every string inside it (dicts, lists, tuples) redacted; numbers, None and
        objects whose text holds no secret as they are; any other object (an exception) as its
        redacted text, which is how a log line or a message would show it."""
        if isinstance(value, str):
            return self(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(v) for v in value)
        text = str(value)
        cleaned = self(text)
        return value if cleaned == text else cleaned


def _url_secrets(url: str | None) -> list[str]:
    if not url or "://" not in url:
        return []
    # A raw '/' in the password (an AWS secret key often has one): urlsplit ends the authority
    # there and sees no password, SQLAlchemy reads up to the first '@' and connects with it.
    raw = _RAW_SLASH_PASSWORD.match(url.split("://", 1)[1])
    slashed = (
        [raw["password"], unquote(raw["password"])]
        if raw and "/" in raw["password"] and not raw["password"].split("/", 1)[0].isdigit()
        else []  # digits before the '/' are a port: host:587/?from=alerts@example.com
    )
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # an unparsable URL: the URL rule still covers "user:pass@"
        return slashed
    # A token in the query (``?token=…``) is a secret wherever the URL's pieces are quoted alone
    # (a client's log line may show the path and query without the scheme).
    query = [m.group(0).split("=", 1)[1] for m in _URL_QUERY_SECRET.finditer("?" + parts.query)]
    if not password:
        return [*slashed, *query]
    # A raw '@' in the password: urlsplit reads up to the last '@', SQLAlchemy up to the first and
    # takes the rest for the host, which the driver then echoes ("failed to resolve host
    # 'rest@db'"). Each piece is a secret too.
    return [password, unquote(password), *password.split("@"), *query]


def token_entries(spec: str) -> list[list[str]]:
    """The entries of an ``auth.tokens_env`` list (``name:role:token,...``), each stripped and split
    at its first two colons (a token may hold colons itself); an empty entry is ``[""]``.

    The one reading of the format: :class:`evergreen.serving.auth.TokenTable` checks and hashes these
    entries; the redactor hides their last field, leniently (an older ``name:token`` list too).
    """
    return [entry.strip().split(":", 2) for entry in spec.split(",")]


def _token_values(spec: str) -> list[str]:
    return [fields[-1].strip() for fields in token_entries(spec) if len(fields) > 1]


def redactor_for(settings: Settings, env: Mapping[str, str] | None = None) -> Redactor:
    """The redactor for one project's settings (and the environment its tokens are read from)."""
    env = os.environ if env is None else env
    st = settings.storage
    secrets: list[str] = [*_url_secrets(st.database_url), *_url_secrets(st.mlflow_tracking_uri)]
    for ch in settings.alerts.channels:
        for sec in (ch.url, ch.token, ch.password):
            if sec is not None:
                value = sec.get_secret_value()
                secrets.append(value)
                secrets.extend(_url_secrets(value))
                path = urlsplit(value).path if "://" in value else ""
                if len(path) >= 16:  # a Slack-style URL's secret is its path; a short one ("/hook") is not
                    secrets.append(path)
    auth = settings.auth
    tokens = env.get(auth.tokens_env, "") if auth.tokens_env else ""
    secrets.extend(_token_values(tokens))
    if auth.session_secret_env and env.get(auth.session_secret_env):
        secrets.append(env[auth.session_secret_env])
    return Redactor.of(secrets)
