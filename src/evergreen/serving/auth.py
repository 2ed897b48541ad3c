"""Control-API authentication: bearer tokens from the environment, roles viewer < operator < admin.

``auth.tokens_env`` names a variable holding ``name:role:token,...``. Only the SHA-256 of each token
is kept, and a presented token is hashed and compared with every stored hash using
``hmac.compare_digest``, so neither the comparison nor which entry matched leaks through timing.
No tokens configured: the control API is disabled, unless the server was started with
``--insecure-local`` (``app.state.insecure_local``), and then only for loopback clients.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass

from evergreen.errors import AuthError, ConfigError, ControlAPIDisabledError, ForbiddenError

ROLES = ("viewer", "operator", "admin")
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def role_rank(role: str) -> int:
    return ROLES.index(role)


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
        for i, item in enumerate(p.strip() for p in raw.split(",")):
            if not item:
                continue
            parts = item.split(":", 2)
            # The error names the position and the field, never the token itself.
            if len(parts) != 3 or not parts[0] or not parts[2]:
                raise ConfigError(f"{source}: entry {i + 1} must be name:role:token")
            name, role, token = parts
            if role not in ROLES:
                raise ConfigError(
                    f"{source}: entry {i + 1} ({name}) has role {role!r}; use {', '.join(ROLES)}"
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
    table: TokenTable, header: str | None, need: str, *, insecure_local: bool, client_host: str | None
) -> Principal:
    """The caller, if allowed ``need``; else 401 (no or unknown token) or 403 (role too low, disabled)."""
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
        raise AuthError("unknown token")
    if role_rank(principal.role) < role_rank(need):
        raise ForbiddenError(
            f"{principal.name} is {principal.role}; this needs {need} or higher",
            details={"role": principal.role, "required": need},
        )
    return principal
