"""Request guards that run before any route: JSON-only, uncompressed bodies, and the local-only server.

**JSON only.** A POST or PUT to ``/predict``, ``/feedback`` or ``/api/*`` must say
``Content-Type: application/json`` (415 otherwise, naming the type it got). Besides refusing what no
route could parse, this is what makes a cross-site request impossible without a CORS preflight: a web
page can send ``text/plain``, a form type, or no body at all without asking, never JSON.
:func:`json_only` is the one rule of which paths this covers; the dashboard's form posts (under
``/``, protected by their own CSRF token) are outside it on purpose.

**No content coding.** Nothing here decodes a compressed body: a POST, PUT or PATCH sent with a
``Content-Encoding`` other than ``identity`` (gzip, br, …) is refused on every path (415 naming
Content-Encoding, RFC 9110 §15.5.16) rather than read as plain bytes.

**Local only** (``evergreen serve --insecure-local``): the control API opens to loopback clients
without a token, so the server also refuses a request whose ``Host`` is not a loopback name (a DNS
rebinding page reaches 127.0.0.1 under its own name) and one whose ``Origin`` is a page of another
origin (403, ``foreign_host`` / ``foreign_origin``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from evergreen.errors import (
    EvergreenError,
    ForeignHostError,
    ForeignOriginError,
    UnsupportedMediaTypeError,
    shown,
)
from evergreen.serving.errors import render

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
JSON_TYPES = ("application/json",)


def json_only(path: str) -> bool:
    """Whether a body sent to ``path`` must be JSON (the dashboard's pages under ``/`` may take forms)."""
    return path in ("/predict", "/feedback") or path.startswith("/api/")


def is_json(content_type: str | None) -> bool:
    """``application/json`` or a ``+json`` type, with any parameters (``; charset=utf-8``)."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def encoding_error(content_encoding: str | None) -> EvergreenError | None:
    """A body with a content coding (gzip, br, deflate, …): refused, the server decodes none."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    if all(c in ("", "identity") for c in codings):
        return None
    return UnsupportedMediaTypeError(
        f"Content-Encoding {_shown(content_encoding)} is not accepted: send the body uncompressed",
        details={"field": "Content-Encoding", "content_encoding": content_encoding},
    )


def _split_host(value: str) -> tuple[str, int | None] | None:
    """``localhost:8000`` → (``localhost``, 8000); ``[::1]`` → (``::1``, None); None if unparsable.

    A Host is a name and a port, nothing else: with user info, a path, a query or a space in it
    (``evil.example@localhost``), urlsplit would pick some part as the host name, so it is refused.
    """
    if any(c in value for c in "@/?#\\ \t"):
        return None
    try:
        parts = urlsplit(f"//{value}")
        return (parts.hostname or "", parts.port)
    except ValueError:  # a port that is not a number, an unclosed bracket
        return None


def host_error(host: str | None) -> EvergreenError | None:
    split = _split_host(host or "")
    if split is None or split[0] not in LOOPBACK_NAMES:
        return ForeignHostError(
            f"Host {_shown(host)} is not a loopback name: this server (--insecure-local) answers "
            "only http://localhost, http://127.0.0.1 or http://[::1]",
            details={"field": "Host"},
        )
    return None


def origin_error(origin: str | None, host: str | None, scheme: str) -> EvergreenError | None:
    """A page's Origin is accepted when it is this server: a loopback name on the Host's port."""
    if origin is None:  # not sent by a browser page (curl, a script): the Host check is enough
        return None
    parts = urlsplit(origin) if origin != "null" else None
    ok = False
    if parts is not None and parts.scheme in ("http", "https"):
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            port = None
        own = _split_host(host or "")
        own_port = (own[1] or (443 if scheme == "https" else 80)) if own else None
        ok = parts.hostname in LOOPBACK_NAMES and port == own_port
    if ok:
        return None
    return ForeignOriginError(
        f"Origin {_shown(origin)} is not this server: a page of another origin cannot use a "
        "--insecure-local server",
        details={"field": "Origin"},
    )


def _shown(value: str | None) -> str:
    return "(none)" if value is None else shown(value)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class GuardMiddleware:
    """Refuses, before any route runs, what :func:`json_only` and local-only mode forbid."""

    def __init__(self, app: ASGIApp, *, local_only: bool) -> None:
        self.app = app
        self.local_only = local_only

    def check(self, scope: Scope) -> EvergreenError | None:
        host = _header(scope, b"host")
        if self.local_only:
            err = host_error(host) or origin_error(
                _header(scope, b"origin"), host, str(scope.get("scheme", "http"))
            )
            if err is not None:
                return err
        if scope["method"] in BODY_METHODS and json_only(scope["path"]):
            content_type = _header(scope, b"content-type")
            if not is_json(content_type):
                return UnsupportedMediaTypeError(
                    f"Content-Type {_shown(content_type)} is not accepted: send the body as application/json",
                    details={"field": "Content-Type", "content_type": content_type},
                )
        if scope["method"] in BODY_METHODS:
            return encoding_error(_header(scope, b"content-encoding"))
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        err = self.check(scope)
        if err is None:
            await self.app(scope, receive, send)
            return
        await render(err)(scope, receive, send)  # the app's one error shape, before any route runs
