"""The one redaction step: exact outputs for URLs, configured secrets, log events and records."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import text

from evergreen.logs import RedactFilter, RedactProcessor
from evergreen.redact import Redactor, redactor_for
from evergreen.store.engine import make_engine
from tests.support.project import make_project_settings


def test_url_passwords_go_without_settings() -> None:
    r = Redactor()
    assert (
        r("at postgresql+psycopg://ev:s3cr%40t@db:5432/x failed")
        == "at postgresql+psycopg://ev:***@db:5432/x failed"
    )
    assert r("redis://:pw@h/0 and http://h:8080/p@x") == "redis://:***@h/0 and http://h:8080/p@x"
    assert r("no url here: a:b@c") == "no url here: a:b@c"


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
    r = redactor_for(settings, env={"EVERGREEN_TOKENS": "ops:admin:ApiToken-xyz1,bot:client:ApiToken-xyz2"})
    assert r("password Db/Pass-123 or Db%2FPass-123") == "password *** or ***"
    assert r("MlPass-456 SmtpPass-789 HookToken-abc ApiToken-xyz1 ApiToken-xyz2") == "*** *** *** *** ***"
    assert r("POST https://hooks.slack.com/services/T000/B000/XyzSecretPath: 500") == "POST ***: 500"
    assert r("path /services/T000/B000/XyzSecretPath only") == "path *** only"
    assert r("http://127.0.0.1:9/hook") == "***"  # a channel URL is a secret whole
    assert r.value({"a": ["MlPass-456", 3], "b": ("x", "HookToken-abc")}) == {
        "a": ["***", 3],
        "b": ("x", "***"),
    }


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


def test_store_engine_never_binds_a_secret(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", Redactor.of(["Secret-424242"]))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (a TEXT, b INTEGER)"))
        conn.execute(
            text("INSERT INTO t VALUES (:a, :b)"), {"a": "err Secret-424242 at sqlite://u:pw@h", "b": 1}
        )
        conn.execute(
            text("INSERT INTO t VALUES (:a, :b)"), [{"a": "Secret-424242", "b": 2}, {"a": "ok", "b": 3}]
        )
        rows = conn.execute(text("SELECT a, b FROM t ORDER BY b")).all()
    assert [tuple(r) for r in rows] == [("err *** at sqlite://u:***@h", 1), ("***", 2), ("ok", 3)]
