"""The dashboard's session: a signed cookie, a CSRF token bound to it, and the same-origin check.

The cookie holds a random session id and, once logged in, the token's name and role (never the
token). It is signed with ``auth.session_secret_env``'s value (itsdangerous, with a timestamp so it
expires after ``auth.session_max_age_seconds``), HttpOnly and ``SameSite=Strict``. Every visitor gets
a session id on the first page, so the login form itself carries a CSRF token; logging in issues a
new id (no session fixation). The CSRF token is an HMAC of the session id: a form from another
session, or none, is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from evergreen.dashboard.services import Identity

COOKIE = "evergreen_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_SALT = "evergreen.dashboard.session"


def session_secret(env_var: str, env: Mapping[str, str] | None = None) -> bytes:
    """The configured secret, or a random one for this process (a restart then logs everyone out)."""
    value = (os.environ if env is None else env).get(env_var, "")
    return value.encode("utf-8") if value else secrets.token_bytes(32)


@dataclass(frozen=True)
class Session:
    sid: str
    who: Identity | None = None
    dirty: bool = False  # new or changed: the response must set the cookie


class SessionCodec:
    def __init__(self, secret: bytes, max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self._csrf_key = hashlib.sha256(b"csrf:" + secret).digest()
        self.max_age = max_age

    def load(self, request: Request) -> Session:
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                data = self._serializer.loads(raw, max_age=self.max_age)
            except BadSignature:  # forged, from another secret, or expired: start afresh
                data = None
            if isinstance(data, dict) and isinstance(data.get("sid"), str):
                who = None
                if isinstance(data.get("name"), str) and isinstance(data.get("role"), str):
                    who = Identity(data["name"], data["role"])
                return Session(data["sid"], who)
        return Session(secrets.token_urlsafe(18), None, dirty=True)

    def login(self, who: Identity) -> Session:
        return Session(secrets.token_urlsafe(18), who, dirty=True)

    def logout(self) -> Session:
        return Session(secrets.token_urlsafe(18), None, dirty=True)

    def save(self, response: Response, session: Session, *, secure: bool) -> None:
        if not session.dirty:
            return
        data: dict[str, str] = {"sid": session.sid}
        if session.who is not None:
            data |= {"name": session.who.name, "role": session.who.role}
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(data),
            max_age=self.max_age,
            httponly=True,
            samesite="strict",
            secure=secure,
            path="/",
        )

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._csrf_key, session.sid.encode("ascii"), hashlib.sha256).hexdigest()

    def notice_mac(self, session: Session, notice: str, ok: bool) -> str:
        """What lets a page show the ``?notice=`` after an action: only this session's action wrote it
        (a link from elsewhere cannot put words, say "paste your token at ...", on this site's pages)."""
        text = f"notice\x00{session.sid}\x00{int(ok)}\x00{notice}".encode()
        return hmac.new(self._csrf_key, text, hashlib.sha256).hexdigest()[:32]

    def csrf_ok(self, session: Session, presented: str | None) -> bool:
        # A brand-new session has no form out there yet: nothing can carry its token.
        if not presented or session.dirty:
            return False
        return hmac.compare_digest(self.csrf_token(session), presented)


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another origin (Origin or Referer header).

    Browsers send ``Origin`` on every cross-origin POST; a client that sends neither must still
    carry the session's CSRF token, which it cannot read from another origin.
    """
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source != "null"
    parts = urlsplit(source)
    host = request.headers.get("host", "")
    return parts.scheme == request.url.scheme and parts.netloc == host
