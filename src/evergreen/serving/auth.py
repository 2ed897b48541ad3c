"""Bearer tokens from the environment, roles client < viewer < operator < admin (``ROLES``).

``ROLES`` is the one place the roles and their order are written; everything that compares roles
(the control API, the data endpoints, the dashboard) asks :func:`has_role`.

``auth.tokens_env`` names a variable holding ``name:role:token,...``. Only the SHA-256 of each token
is kept, and a presented token is hashed and compared with every stored hash using
``hmac.compare_digest``, so neither the comparison nor which entry matched leaks through timing.
No tokens configured: the control API is disabled, unless the server was started with
``--insecure-local`` (``app.state.insecure_local``), and then only for loopback clients.

The data endpoints (``/predict``, ``/feedback``) are open unless ``auth.require_token_for`` names
them; then they need a ``client`` token or higher: 401 without a token, 403 with one nobody issued.
:class:`RateLimiter` caps each token's requests per minute (``auth.rate_limit_per_minute``).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from evergreen.errors import (
    AuthError,
    ConfigError,
    ControlAPIDisabledError,
    ForbiddenError,
    RateLimitedError,
    UnknownTokenError,
)
from evergreen.ratelimit import SlidingLog
from evergreen.redact import token_entries

# Lowest first: a role may do everything the roles before it may.
ROLES = ("client", "viewer", "operator", "admin")
# The audit names a caller "api:<name>" or "dashboard:<name>" in 100-character columns: a longer name
# failed every action on PostgreSQL after MLflow's alias had moved, leaving no audit or decision row.
MAX_TOKEN_NAME = 90
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def role_rank(role: str) -> int:
    return ROLES.index(role)


def has_role(role: str, need: str) -> bool:
    """Whether ``role`` grants what ``need`` grants (it is ``need`` or higher)."""
    return role_rank(role) >= role_rank(need)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True)
class Principal:
    name: str
    role: str

    @property
    def actor(self) -> str:
        """How the audit trail names this caller."""
        return f"api:{self.name}"


@dataclass(frozen=True)
class _Entry:
    name: str
    role: str
    digest: bytes


@dataclass(frozen=True)
class TokenTable:
    entries: tuple[_Entry, ...]
    source: str  # the environment variable's name (never its value)

    @classmethod
    def parse(cls, raw: str, source: str) -> TokenTable:
        entries = []
        for i, parts in enumerate(token_entries(raw)):
            if parts == [""]:
                continue
            # The error names the position and the field, never the token itself.
            if len(parts) != 3 or not parts[0] or not parts[2]:
                raise ConfigError(f"{source}: entry {i + 1} must be name:role:token")
            name, role, token = parts
            if len(name) > MAX_TOKEN_NAME:
                raise ConfigError(
                    f"{source}: entry {i + 1} has a name of {len(name)} characters; at most {MAX_TOKEN_NAME}"
                )
            if role not in ROLES:
                raise ConfigError(
                    f"{source}: entry {i + 1} ({name}) has role {role!r}; use {', '.join(ROLES)}"
                )
            # Starlette reads a header's bytes as latin-1 and bearer() strips the value: a token
            # outside printable ASCII, or with spaces around it, could never match (a silent 401).
            if not (token.isascii() and token.isprintable()) or token != token.strip():
                raise ConfigError(
                    f"{source}: entry {i + 1} ({name}) has a token a header cannot carry as written: "
                    "use printable ASCII, no spaces around it"
                )
            entries.append(_Entry(name, role, _digest(token)))
        return cls(tuple(entries), source)

    @classmethod
    def from_env(cls, var: str, env: Mapping[str, str] | None = None) -> TokenTable:
        return cls.parse((os.environ if env is None else env).get(var, ""), var)

    @property
    def enabled(self) -> bool:
        return bool(self.entries)

    def lookup(self, token: str) -> Principal | None:
        presented = _digest(token)
        found = None
        for e in self.entries:  # no early exit: the time taken does not depend on which entry matches
            if hmac.compare_digest(presented, e.digest):
                found = Principal(e.name, e.role)
        return found


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def authorize(
    table: TokenTable,
    header: str | None,
    need: str,
    *,
    insecure_local: bool,
    client_host: str | None,
    unknown: type[AuthError] = AuthError,
) -> Principal:
    """The caller, if allowed ``need``; else 401 (no token, or an unknown one raised as ``unknown``)
    or 403 (role too low, or no tokens configured and not a local server)."""
    if not table.enabled:
        if insecure_local and client_host in LOOPBACK:
            return Principal("local", "admin")
        raise ControlAPIDisabledError(
            f"the control API is disabled: no tokens are configured in ${table.source} "
            "(name:role:token,...); set it, or start `evergreen serve --insecure-local` bound to 127.0.0.1"
        )
    token = bearer(header)
    if token is None:
        raise AuthError("missing bearer token (Authorization: Bearer <token>)")
    principal = table.lookup(token)
    if principal is None:
        raise unknown("unknown token")
    if not has_role(principal.role, need):
        raise ForbiddenError(
            f"{principal.name} is {principal.role}; this needs {need} or higher",
            details={"role": principal.role, "required": need},
        )
    return principal


def authorize_data(
    table: TokenTable, header: str | None, *, insecure_local: bool, client_host: str | None
) -> Principal:
    """The caller of a data endpoint that requires a token: ``client`` or higher; an unknown token is
    a 403 (``unknown_token``): the client did present credentials, they open nothing here."""
    return authorize(
        table,
        header,
        "client",
        insecure_local=insecure_local,
        client_host=client_host,
        unknown=UnknownTokenError,
    )


@dataclass
class RateLimiter(SlidingLog):
    """At most ``limit`` (``auth.rate_limit_per_minute``) requests per token in any 60-second window:
    the sliding log of :mod:`evergreen.ratelimit`. Keys are token names (a fixed, configured set);
    :meth:`check` reads ``clock``."""

    clock: Callable[[], float] = time.monotonic

    @property
    def per_minute(self) -> int:
        return self.limit

    def check(self, principal: Principal) -> None:
        """RateLimitedError (429, with the whole seconds to wait) when ``principal`` is over its rate."""
        wait = self.retry_after(principal.name, self.clock())
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            raise RateLimitedError(
                f"{principal.name} made {self.per_minute} requests in the last minute "
                f"(auth.rate_limit_per_minute); retry in {seconds} s",
                details={"limit_per_minute": self.per_minute, "retry_after_seconds": seconds},
            )
