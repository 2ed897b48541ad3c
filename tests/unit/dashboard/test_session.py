"""The session cookie and its CSRF token: signed, bound to the session, refused when forged or foreign."""

from __future__ import annotations

import time

import pytest
from starlette.requests import Request
from starlette.responses import Response

from evergreen.dashboard.services import Identity
from evergreen.dashboard.session import COOKIE, SessionCodec, same_origin, session_secret


def _request(cookie: str | None = None, **headers: str) -> Request:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"host", b"dash.example:8000"))
    if cookie is not None:
        raw.append((b"cookie", f"{COOKIE}={cookie}".encode()))
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": "http",
            "path": "/",
            "headers": raw,
            "server": ("dash.example", 8000),
            "query_string": b"",
        }
    )


def _cookie_of(codec: SessionCodec, session: object) -> tuple[str, str]:
    response = Response()
    codec.save(response, session, secure=False)  # type: ignore[arg-type]
    header = response.headers["set-cookie"]
    return header.split(";", 1)[0].split("=", 1)[1], header


def test_login_round_trip_cookie_flags_and_no_token_inside() -> None:
    codec = SessionCodec(b"s" * 32, max_age=3600)
    session = codec.login(Identity("otto", "operator"))
    value, header = _cookie_of(codec, session)
    assert "HttpOnly" in header and "SameSite=strict" in header and "Max-Age=3600" in header
    loaded = codec.load(_request(value))
    assert (loaded.sid, loaded.who, loaded.dirty) == (session.sid, Identity("otto", "operator"), False)
    # Another secret (or a tampered value) is a new anonymous session, never an error.
    other = SessionCodec(b"t" * 32, max_age=3600).load(_request(value))
    assert other.who is None and other.dirty and other.sid != session.sid
    assert codec.load(_request(value[:-2] + "xx")).who is None


def test_csrf_token_is_bound_to_the_session_and_refused_on_a_new_one() -> None:
    codec = SessionCodec(b"s" * 32, max_age=3600)
    value, _ = _cookie_of(codec, codec.logout())
    session = codec.load(_request(value))
    token = codec.csrf_token(session)
    assert len(token) == 64 and codec.csrf_ok(session, token)
    assert not codec.csrf_ok(session, None) and not codec.csrf_ok(session, "0" * 64)
    other = codec.load(_request(_cookie_of(codec, codec.logout())[0]))
    assert not codec.csrf_ok(other, token)  # another session's token
    fresh = codec.load(_request())
    assert fresh.dirty and not codec.csrf_ok(fresh, codec.csrf_token(fresh))  # no form of it exists yet


def test_same_origin_by_origin_referer_and_fetch_metadata() -> None:
    assert same_origin(_request())  # a client sending neither (it still needs the CSRF token)
    assert same_origin(_request(origin="http://dash.example:8000"))
    assert same_origin(_request(referer="http://dash.example:8000/models?x=1"))
    assert not same_origin(_request(origin="http://evil.example"))
    assert not same_origin(_request(origin="https://dash.example:8000"))  # another scheme
    assert not same_origin(_request(origin="null"))
    assert not same_origin(_request(sec_fetch_site="cross-site"))


def test_secret_from_the_environment_or_random_per_call() -> None:
    assert session_secret("SECRET_VAR", {"SECRET_VAR": "abc"}) == b"abc"
    a, b = session_secret("SECRET_VAR", {}), session_secret("SECRET_VAR", {})
    assert len(a) == 32 and a != b


def test_an_expired_cookie_is_a_new_anonymous_session(monkeypatch: pytest.MonkeyPatch) -> None:
    import itsdangerous.timed

    codec = SessionCodec(b"s" * 32, max_age=3600)
    session = codec.login(Identity("otto", "operator"))
    value, _ = _cookie_of(codec, session)
    assert codec.load(_request(value)).who == Identity("otto", "operator")
    later = time.time() + 3601
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    expired = codec.load(_request(value))
    assert expired.who is None and expired.dirty and expired.sid != session.sid
