"""Roles in order, the per-token rate limit, and the request guards (JSON only, local only): pure rules."""

from __future__ import annotations

import pytest

from evergreen.errors import ConfigError, RateLimitedError
from evergreen.serving.auth import ROLES, Principal, RateLimiter, TokenTable, bearer, has_role
from evergreen.serving.guards import host_error, is_json, json_only, origin_error


def test_roles_are_ordered_client_viewer_operator_admin() -> None:
    assert ROLES == ("client", "viewer", "operator", "admin")
    assert has_role("admin", "client") and has_role("viewer", "viewer") and has_role("viewer", "client")
    assert not has_role("client", "viewer") and not has_role("operator", "admin")
    table = TokenTable.parse("cl:client:c-1", "EVERGREEN_TOKENS")  # the new role is a valid entry
    assert table.lookup("c-1") == Principal("cl", "client")


def test_a_token_may_hold_colons() -> None:
    table = TokenTable.parse("bot:client:tok:with:colons", "EVERGREEN_TOKENS")
    assert table.lookup(bearer("Bearer tok:with:colons") or "") == Principal("bot", "client")


@pytest.mark.parametrize("token", ["Sekr\u00e9t-1", "Sekr\u00e9t\u2603", " Sekret-1", "Sekret\x07-1"])
def test_a_token_no_header_can_match_is_refused_at_start_naming_no_token(token: str) -> None:
    # What a client sends: the token's UTF-8 bytes, read back by Starlette as latin-1, and stripped
    # (a control character is refused by the HTTP parser before that).
    if token.isprintable():
        assert bearer("Bearer " + token.encode().decode("latin-1")) != token  # it could never match
    with pytest.raises(ConfigError, match=r"EVERGREEN_TOKENS: entry 1 \(ops\)") as exc:
        TokenTable.parse(f"ops:admin:{token}", "EVERGREEN_TOKENS")
    assert "Sekr" not in str(exc.value)


def test_rate_limit_is_a_sliding_minute_per_key_with_exact_waits() -> None:
    lim = RateLimiter(3)
    assert [lim.retry_after("a", t) for t in (0.0, 10.0, 20.0)] == [None, None, None]
    assert lim.retry_after("a", 30.0) == 30.0  # the request at 0.0 leaves the window at 60.0
    assert lim.retry_after("b", 30.0) is None  # another token has its own budget
    assert lim.retry_after("a", 59.5) == 0.5
    assert lim.retry_after("a", 60.0) is None  # 0.0 left; 10, 20, 60 now in the window
    assert lim.retry_after("a", 61.0) == 9.0
    assert lim.retry_after("a", 80.0) is None  # refused requests were not counted


def test_rate_limited_error_names_the_limit_and_whole_seconds() -> None:
    now = [0.0]
    lim = RateLimiter(1, clock=lambda: now[0])
    who = Principal("cl", "client")
    lim.check(who)
    now[0] = 59.2
    with pytest.raises(RateLimitedError) as exc:
        lim.check(who)
    assert exc.value.http_status == 429
    assert exc.value.details == {"limit_per_minute": 1, "retry_after_seconds": 1}
    assert "auth.rate_limit_per_minute" in exc.value.message


def test_json_only_covers_the_data_endpoints_and_the_api_not_the_dashboard() -> None:
    assert json_only("/predict") and json_only("/feedback") and json_only("/api/rollback")
    assert not json_only("/") and not json_only("/login") and not json_only("/runs/1/approve")
    assert is_json("application/json") and is_json("application/json; charset=utf-8")
    assert is_json("Application/JSON") and is_json("application/merge-patch+json")
    for other in (None, "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        assert not is_json(other), other


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]", "[::1]:8000", "LOCALHOST:1"]
)
def test_loopback_hosts_pass(host: str) -> None:
    assert host_error(host) is None


@pytest.mark.parametrize(
    "host",
    [
        *(None, "", "evil.example", "evil.example:8000", "127.0.0.1.evil.example", "10.0.0.1", "[::1"),
        # Not a host name and port: urlsplit would read "localhost" out of each.
        *("evil.example@localhost", "x:y@127.0.0.1:8000", "localhost/evil", "localhost?x", "localhost#x"),
        *("localhost\\evil", "evil.example localhost", "localhost:99999", "localhost:-1"),
    ],
)
def test_other_hosts_are_foreign(host: str | None) -> None:
    err = host_error(host)
    assert err is not None and err.code == "foreign_host" and err.http_status == 403


def test_origin_must_be_this_server() -> None:
    assert origin_error(None, "127.0.0.1:8000", "http") is None  # curl, a script: no Origin
    assert origin_error("http://127.0.0.1:8000", "127.0.0.1:8000", "http") is None
    assert origin_error("http://localhost:8000", "127.0.0.1:8000", "http") is None
    assert origin_error("http://[::1]:8000", "localhost:8000", "http") is None
    assert origin_error("http://localhost", "localhost", "http") is None  # both on port 80
    for foreign in (
        "http://evil.example",
        "http://localhost:3000",  # another local app's page
        "null",  # a sandboxed frame or a file:// page
        "file://",
        "http://localhost:notaport",
    ):
        err = origin_error(foreign, "127.0.0.1:8000", "http")
        assert err is not None and err.code == "foreign_origin", foreign


def test_a_token_name_wider_than_the_audit_keeps_is_refused_at_start() -> None:
    from evergreen.serving.auth import MAX_TOKEN_NAME

    TokenTable.parse(f"{'n' * MAX_TOKEN_NAME}:operator:tok", "EVERGREEN_TOKENS")  # "dashboard:" + 90 fits
    with pytest.raises(
        ConfigError, match=r"^EVERGREEN_TOKENS: entry 2 has a name of 91 characters; at most 90$"
    ):
        TokenTable.parse(f"a:viewer:x,{'n' * 91}:operator:hunter2", "EVERGREEN_TOKENS")
