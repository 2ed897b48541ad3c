"""The one redaction step: exact outputs for URLs, configured secrets, log events and records."""

from __future__ import annotations

import logging
from pathlib import Path

from evergreen.logs import RedactFilter, RedactProcessor
from evergreen.redact import Redactor, redactor_for
from tests.support.project import make_project_settings


def test_url_passwords_go_without_settings() -> None:
    r = Redactor()
    assert (
        r("at postgresql+psycopg://ev:s3cr%40t@db:5432/x failed")
        == "at postgresql+psycopg://ev:***@db:5432/x failed"
    )
    assert r("redis://:pw@h/0 and http://h:8080/p@x") == "redis://:***@h/0 and http://h:8080/p@x"
    assert r("no url here: a:b@c") == "no url here: a:b@c"
    # A raw '@' or ':' in the password: all of it goes, up to the authority's last '@'.
    assert r("at postgresql://ev:pa@ss:w0rd@db:5432/x") == "at postgresql://ev:***@db:5432/x"
    # A quote ends it: the next string of a compact JSON document is not eaten.
    assert r('{"u":"http://u:pw@h","to":"a@b"}') == '{"u":"http://u:***@h","to":"a@b"}'


def test_credentials_in_a_url_query_go_too(tmp_path: Path) -> None:
    # `mlflow_tracking_uri: http://…/?token=…` was echoed four times (urllib3's warnings, the error).
    r = Redactor()
    assert r("GET http://127.0.0.1:1/?token=MlflowSecretTok&x=1") == "GET http://127.0.0.1:1/?token=***&x=1"
    assert (
        r("https://b.s3.amazonaws.com/k?X-Amz-Signature=abc123&X-Amz-Credential=AKIA/x&v=2")
        == "https://b.s3.amazonaws.com/k?X-Amz-Signature=***&X-Amz-Credential=***&v=2"
    )
    assert r("http://h/p?monkey=banana&key=zzz") == "http://h/p?monkey=banana&key=***"
    settings = make_project_settings(
        tmp_path, storage={"mlflow_tracking_uri": "http://127.0.0.1:1/?token=MlflowSecretTok"}
    )
    # A log line that shows the path and query alone: the configured token goes verbatim.
    assert (
        redactor_for(settings, env={})("Retrying after: /?token=MlflowSecretTok")
        == "Retrying after: /?token=***"
    )


def test_a_password_with_a_raw_at_sign_goes_in_pieces(tmp_path: Path) -> None:
    # SQLAlchemy splits at the first '@' and psycopg echoes the rest as the host it cannot resolve.
    settings = make_project_settings(
        tmp_path, storage={"database_url": "postgresql+psycopg://ev:Pw@Sekret-4242@db:5432/ev"}
    )
    r = redactor_for(settings, env={})
    assert r("failed to resolve host 'Sekret-4242@db'") == "failed to resolve host '***@db'"


def test_configured_secrets_in_every_form(tmp_path: Path) -> None:
    settings = make_project_settings(
        tmp_path,
        storage={
            "database_url": "postgresql+psycopg://ev:Db%2FPass-123@db/ev",
            "mlflow_tracking_uri": "http://u:MlPass-456@m",
        },
        alerts={
            "channels": [
                {"type": "slack", "url": "https://hooks.slack.com/services/T000/B000/XyzSecretPath"},
                {"type": "email", "smtp": "smtps://me:SmtpPass-789@mail:465", "to": ["a@b.c"]},
                {"type": "webhook", "url": "http://127.0.0.1:9/hook", "token": "HookToken-abc"},
            ]
        },
    )
    r = redactor_for(
        settings,
        env={
            "EVERGREEN_TOKENS": "ops:admin:ApiToken-xyz1,bot:client:ApiToken-xyz2,c:viewer:Tok:with:colons",
            "EVERGREEN_SESSION_SECRET": "SessionSecret-0123",
        },
    )
    assert r("cookie key SessionSecret-0123") == "cookie key ***"
    assert r("password Db/Pass-123 or Db%2FPass-123") == "password *** or ***"
    assert r("MlPass-456 SmtpPass-789 HookToken-abc ApiToken-xyz1 ApiToken-xyz2") == "*** *** *** *** ***"
    assert r("bearer Tok:with:colons") == "bearer ***"
    assert r("POST https://hooks.slack.com/services/T000/B000/XyzSecretPath: 500") == "POST ***: 500"
    assert r("path /services/T000/B000/XyzSecretPath only") == "path *** only"
    assert r("http://127.0.0.1:9/hook") == "***"  # a channel URL is a secret whole
    assert r.value({"a": ["MlPass-456", 3], "b": ("x", "HookToken-abc")}) == {
        "a": ["***", 3],
        "b": ("x", "***"),
    }


def test_a_configured_password_with_a_raw_slash_goes_whole(tmp_path: Path) -> None:
    # SQLAlchemy connects with "Db/Pass-123" (up to the first '@'); urlsplit saw no password at all,
    # and the URL rule stops at '/' so that a path is never eaten.
    settings = make_project_settings(
        tmp_path, storage={"database_url": "postgresql+psycopg://ev:Db/Pass-123@db/ev"}
    )
    r = redactor_for(settings, env={})
    assert r("connect as ev with Db/Pass-123 failed") == "connect as ev with *** failed"
    assert r("http://h:8080/p@x") == "http://h:8080/p@x"


def test_a_port_before_a_path_holding_an_at_is_no_password(tmp_path: Path) -> None:
    settings = make_project_settings(
        tmp_path,
        storage={"database_url": "postgresql+psycopg://db:5432/ev?application_name=a@b"},  # no password
    )
    r = redactor_for(settings, env={})
    assert r("connected to db:5432/ev?application_name=a@b") == "connected to db:5432/ev?application_name=a@b"


def test_short_secrets_are_not_searched_verbatim() -> None:
    assert Redactor.of(["ab"])("tab and lab") == "tab and lab"


def test_structlog_processor_redacts_nested_values_and_exceptions() -> None:
    proc = RedactProcessor(Redactor.of(["Token-123456"]))
    event = proc(
        None, "error", {"event": "x", "n": 3, "d": {"k": ["Token-123456"]}, "e": ValueError("Token-123456")}
    )
    assert event == {"event": "x", "n": 3, "d": {"k": ["***"]}, "e": "***"}


def test_stdlib_filter_redacts_message_args_and_traceback() -> None:
    f = RedactFilter(Redactor.of(["Token-123456"]))
    try:
        raise RuntimeError("boom Token-123456")
    except RuntimeError:
        import sys

        rec = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "at %s (%d)", ("http://u:Token-123456@h", 5), sys.exc_info()
        )
    assert f.filter(rec)
    assert rec.getMessage() == "at http://u:***@h (5)"
    assert rec.exc_text is not None and "Token-123456" not in rec.exc_text and "boom ***" in rec.exc_text


def test_stdlib_filter_redacts_inside_container_and_object_arguments() -> None:
    f = RedactFilter(Redactor.of(["Token-123456"]))
    rec = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "cfg %s %s %d", ({"url": "http://u:pw@h"}, ["Token-123456"], 7), None
    )
    assert f.filter(rec)
    assert rec.getMessage() == "cfg {'url': 'http://u:***@h'} ['***'] 7"
    named = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "%(e)s", ({"e": KeyError("Token-123456")},), None
    )
    assert f.filter(named) and named.getMessage() == "'***'"


def test_the_store_writes_messages_redacted_and_data_as_is(tmp_path: Path) -> None:
    from evergreen.store import open_store
    from evergreen.store.audit import list_actions, record_action
    from evergreen.store.runs import create_run, finish_run, get_run

    # A weak password ("evergreen") is a word too: messages lose it, data columns keep it.
    store = open_store(
        f"sqlite:///{tmp_path / 'm.db'}", "churn", redact=Redactor.of(["evergreen", "Tok-424242"])
    )
    rid = create_run(store, trigger="manual", reason="why Tok-424242", actor="me")
    finish_run(store, rid, "failed", error="at http://u:pw@h: Tok-424242", details={"k": ["evergreen"]})
    record_action(store, actor="me", action="x", reason="Tok-424242", after={"path": "/srv/.evergreen/d"})
    run = get_run(store, rid)
    assert (run["reason"], run["error"], run["details"]) == (
        "why ***",
        "at http://u:***@h: ***",
        {"k": ["***"]},
    )
    assert [(a["reason"], a["after"]) for a in list_actions(store, action="x")] == [
        ("***", {"path": "/srv/.***/d"})
    ]
