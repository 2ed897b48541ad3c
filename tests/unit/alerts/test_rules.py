"""Pure alert rules, lifecycle decisions and message formats: exact values, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from evergreen.alerts.facts import (
    DriftFact,
    Facts,
    MultivariateFact,
    PendingApproval,
    PerformanceFact,
    RollbackRefused,
    SwapFailure,
)
from evergreen.alerts.lifecycle import ExistingAlert, can_transition, send_event
from evergreen.alerts.messages import AlertMessage, email_message, slack_payload
from evergreen.alerts.rules import AlertCandidate, RuleConfig, drift_level, evaluate
from evergreen.redact import Redactor

LEVELS = {"warning": 0.1, "alert": 0.2, "critical": 0.3}
CFG = RuleConfig(
    {"data_drift_score": LEVELS, "prediction_drift_score": {"critical": 0.5}}, performance_min=0.7
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0.0, None),
        (0.0999, None),
        (0.1, "warning"),
        (0.19, "warning"),
        (0.2, "alert"),
        (0.3, "critical"),
        (0.9, "critical"),
        (None, None),
    ],
)
def test_drift_level_at_or_above_each_threshold(score: float | None, level: str | None) -> None:
    assert drift_level(score, LEVELS) == level


def _fact(data: float | None, pred: float | None = None, perf: PerformanceFact | None = None) -> DriftFact:
    return DriftFact(
        7,
        "7d",
        "2026-01-01",
        "3",
        {"data_drift_score": data, "prediction_drift_score": pred},
        ("plan",),
        perf,
    )


def test_each_score_has_its_own_levels_and_condition() -> None:
    ev = evaluate(Facts(drift=(_fact(0.25, 0.6),)), CFG)
    assert [(a.fingerprint, a.level) for a in ev.active] == [
        ("drift:data_drift_score:7d", "alert"),
        ("drift:prediction_drift_score:7d", "critical"),
    ]
    ev = evaluate(Facts(drift=(_fact(0.05, 0.4),)), CFG)
    assert ev.active == () and ev.cleared == {"drift:data_drift_score:7d", "drift:prediction_drift_score:7d"}
    ev = evaluate(Facts(drift=(_fact(None),)), CFG)  # not measured: neither raised nor cleared
    assert ev.active == () and ev.cleared == frozenset()


def test_performance_realised_is_alert_estimated_is_warning_and_clears() -> None:
    def perf(realised: float | None, estimated: float | None) -> PerformanceFact:
        return PerformanceFact("f1_macro", realised, estimated, 0.8, None, 0.05, None, False)

    (a,) = evaluate(Facts(drift=(_fact(0.0, perf=perf(0.65, None)),)), CFG).active
    assert (a.fingerprint, a.level, a.title) == (
        "performance:7d",
        "alert",
        "realised f1_macro 0.650 is below the minimum 0.7; realised f1_macro dropped 0.150 below the "
        "champion's holdout value 0.8 (limit 0.05) (window 7d)",
    )
    (a,) = evaluate(Facts(drift=(_fact(0.0, perf=perf(None, 0.6)),)), CFG).active
    assert (a.level, a.details["source"]) == ("warning", "estimated")
    ev = evaluate(Facts(drift=(_fact(0.0, perf=perf(0.75, 0.6)),)), CFG)
    assert ev.active == () and "performance:7d" in ev.cleared


def test_performance_alert_needs_the_band_below_and_enough_rows() -> None:
    def perf(value: float, sigma: float | None, verdict: str | None = "ok") -> PerformanceFact:
        return PerformanceFact("f1_macro", value, None, 0.8, None, 0.05, None, False, sigma, 3.0, verdict)

    # drop 0.1 > 0.05 but the band 0.70 +- 3 * 0.04 = [0.58, 0.82] reaches the holdout 0.8: noise
    ev = evaluate(Facts(drift=(_fact(0.0, perf=perf(0.70, 0.04)),)), CFG)
    assert ev.active == () and "performance:7d" in ev.cleared
    # the same value with sigma 0.02: band [0.64, 0.76], wholly below 0.8, not below the minimum 0.7
    (a,) = evaluate(Facts(drift=(_fact(0.0, perf=perf(0.70, 0.02)),)), CFG).active
    assert a.details["band"] == pytest.approx([0.64, 0.76], abs=1e-12)
    assert "dropped 0.100" in a.title and "minimum" not in a.title  # 0.76 is above the minimum 0.7
    # a window without a verdict (too few rows) neither raises nor clears
    ev = evaluate(Facts(drift=(_fact(0.0, perf=perf(0.1, 0.0, "insufficient_data")),)), CFG)
    assert ev.active == () and "performance:7d" not in ev.cleared


def test_a_stored_report_without_a_verdict_raises_and_clears_nothing() -> None:
    row = {
        "id": 9,
        "window": "7d",
        "report_date": "2026-03-02T00:00:00+00:00",
        "data_drift_score": None,
        "prediction_drift_score": None,
        "performance_drift_score": None,
        "details": {
            "status": "insufficient_data",
            "data_drift": {
                "columns": {"fee": {"kind": "numeric", "status": "insufficient_data", "drifted": None}}
            },
            "performance": {"metric": "f1_macro", "realised": 0.2, "baseline": 0.8, "threshold": 0.05},
        },
    }
    ev = evaluate(Facts(drift=(DriftFact.from_row(row),)), CFG)
    assert ev.active == () and ev.cleared == frozenset()


def test_event_rules_and_kinds_seen_in_full() -> None:
    facts = Facts(
        swap_failures=(SwapFailure(9, "4", "champion", "bad pickle", "t"),),
        pending=(PendingApproval("r7", "5", "4", "t"),),
    )
    ev = evaluate(facts, CFG)
    assert [(a.fingerprint, a.level, a.occurrence) for a in ev.active] == [
        ("swap_failed:champion:4", "critical", "9"),
        ("pending_approval:r7", "warning", None),
    ]
    assert ev.cleared_kinds == {"swap_failed", "pending_approval"}
    assert evaluate(Facts(), CFG) == evaluate(Facts(drift=()), CFG)  # nothing looked at: nothing changes


def test_a_refused_automatic_rollback_is_critical_until_the_champion_moves() -> None:
    refused = RollbackRefused(12, "2", "1", "v2 regressed on live data and stays the champion: v1 gone", "t")
    ev = evaluate(Facts(rollback_refused=(refused,)), CFG)
    assert [(a.fingerprint, a.kind, a.level, a.occurrence, a.title) for a in ev.active] == [
        (
            "rollback_refused",
            "rollback_refused",
            "critical",
            "12",
            "automatic rollback to v1 refused: v2 regressed on live data and stays the champion: v1 gone",
        )
    ]
    # none since the last move: the kind was looked at in full, so an open one is resolved
    assert evaluate(Facts(rollback_refused=()), CFG).cleared_kinds == {"rollback_refused"}


def _existing(
    status: str = "open",
    sent: str | None = "warning",
    occurrence: str | None = None,
    sent_at: datetime | None = T0,
) -> ExistingAlert:
    return ExistingAlert(1, "fp", "drift", status, sent or "warning", sent, occurrence, sent_at)


def test_send_event_new_escalated_occurred_repeated_or_silent() -> None:
    hour = timedelta(hours=1)
    cand = AlertCandidate("fp", "drift", "warning", "t")
    assert send_event(None, cand, T0, hour) == "opened"
    assert send_event(_existing(), cand, T0 + 30 * timedelta(minutes=1), hour) is None
    assert send_event(_existing(), cand, T0 + hour, hour) == "repeated"
    assert send_event(_existing("acknowledged"), cand, T0 + 5 * hour, hour) is None
    worse = AlertCandidate("fp", "drift", "critical", "t")
    assert send_event(_existing("acknowledged"), worse, T0, hour) == "escalated"
    again = AlertCandidate("fp", "retrain_failed", "warning", "t", occurrence="run:2")
    assert send_event(_existing("acknowledged", occurrence="run:1"), again, T0, hour) == "occurred"
    assert send_event(_existing(sent="critical"), cand, T0, hour) is None  # lower than already sent


def test_transitions() -> None:
    assert can_transition("open", "acknowledged") and can_transition("acknowledged", "resolved")
    assert not can_transition("acknowledged", "acknowledged") and not can_transition("resolved", "resolved")


LINK_TEXT = "alert #3 · opened · <https://eg.example/alerts?alert=3#alert-3|open in the dashboard>"


def test_slack_message_format() -> None:
    msg = AlertMessage(
        "churn",
        "opened",
        3,
        "fp",
        "drift",
        "critical",
        "open",
        "data drift score 0.4",
        "o",
        "u",
        "https://eg.example/",
    )
    assert slack_payload(msg) == {
        "text": "[CRITICAL] churn: data drift score 0.4",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": ":red_circle: *CRITICAL* · *churn* · drift"},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": "data drift score 0.4"}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": LINK_TEXT,
                    }
                ],
            },
        ],
    }


def test_redact_plain_and_url_quoted() -> None:
    secret = "https://hooks.slack.com/services/T/B/x y"
    redact = Redactor.of([secret])
    assert redact(f"failed {secret} and {secret.replace(' ', '%20')}") == "failed *** and ***"


def test_levels_on_the_performance_drop_follow_the_band_rule() -> None:
    cfg = RuleConfig({"performance_drift_score": {"alert": 0.05}})

    def fact(sigma: float) -> DriftFact:
        perf = PerformanceFact("f1_macro", 0.70, None, 0.8, 0.1, 0.05, "realised", False, sigma, 3.0, "ok")
        return DriftFact(7, "7d", "2026-01-01", "3", {"performance_drift_score": 0.1}, (), perf)

    # drop 0.1, band [0.58, 0.82] reaches the holdout 0.8: noise; the score's level raised it anyway
    ev = evaluate(Facts(drift=(fact(0.04),)), cfg)
    assert [a.fingerprint for a in ev.active] == []
    assert "drift:performance_drift_score:7d" in ev.cleared
    # band [0.64, 0.76] wholly below: degraded, and the score's level says how loud
    ev = evaluate(Facts(drift=(fact(0.02),)), cfg)
    assert sorted((a.fingerprint, a.level) for a in ev.active) == [
        ("drift:performance_drift_score:7d", "alert"),
        ("performance:7d", "alert"),
    ]


def _joint(drifted: bool | None, auc: float = 0.94) -> DriftFact:
    multi = None if drifted is None else MultivariateFact(auc, 0.55, drifted, ("a", "b"))
    return DriftFact(7, "7d", "2026-01-01", "3", {"data_drift_score": 0.0}, (), None, multi)


def test_drift_seen_only_by_the_multivariate_test_is_a_warning_of_its_own() -> None:
    # Every column test says "ok" (share 0): before, nothing was raised for it anywhere.
    ev = evaluate(Facts(drift=(_joint(True),)), CFG)
    [alert] = ev.active
    assert (alert.fingerprint, alert.kind, alert.level) == ("drift:multivariate:7d", "drift", "warning")
    assert alert.title == (
        "the inputs drifted as a whole: a classifier tells this window from the reference with ROC AUC "
        "0.940, above 0.55; the columns that separate them most: a, b (window 7d)"
    )
    assert alert.details["score"] == 0.94 and alert.details["top_columns"] == ["a", "b"]
    assert ev.cleared == {"drift:data_drift_score:7d"}
    ok = evaluate(Facts(drift=(_joint(False, 0.51),)), CFG)
    assert ok.active == () and "drift:multivariate:7d" in ok.cleared
    untested = evaluate(Facts(drift=(_joint(None),)), CFG)  # too few rows: neither raised nor cleared
    assert untested.active == () and "drift:multivariate:7d" not in untested.cleared


def _inputs_row(status: str, invalid: object, rows: object = 1000) -> dict[str, object]:
    details = {"status": status, "current_rows": rows, "invalid_inputs": invalid}
    return {"id": 9, "window": "7d", "details": details}


def test_invalid_inputs_in_a_share_of_the_rows_are_a_data_quality_warning() -> None:
    """Read as missing so that a client's bug is not drift (no retrain), but a person is told."""
    invalid = {
        "tenure": [{"count": 10, "what": "outside the contract's range [0, 600] (data.ranges)"}],
        "plan": [{"count": 9, "what": "categories the contract does not take (data.categories)"}],
    }
    ev = evaluate(Facts(drift=(DriftFact.from_row(_inputs_row("tested", invalid)),)), CFG)
    [alert] = ev.active
    assert (alert.fingerprint, alert.kind, alert.level) == ("inputs_invalid:7d", "data_quality", "warning")
    # 10 of 1000 is the 1 % limit, 9 is under it
    assert alert.title == (
        "the model was sent values it was never trained on, left out of the drift tests: tenure: 10 of "
        "1000 values are outside the contract's range [0, 600] (data.ranges) (window 7d)"
    )
    assert alert.details["columns"] == {"tenure": 10} and alert.details["share_limit"] == 0.01
    few = {"tenure": [{"count": 9, "what": "not finite numbers"}]}
    fine = evaluate(Facts(drift=(DriftFact.from_row(_inputs_row("tested", few)),)), CFG)
    assert fine.active == () and "inputs_invalid:7d" in fine.cleared
    # Too few rows for a verdict, a report from before inputs were counted, a malformed entry:
    # neither raised nor cleared.
    for row in (
        _inputs_row("insufficient_data", invalid),
        {"id": 9, "window": "7d", "details": {"status": "tested", "current_rows": 1000}},
        _inputs_row("tested", invalid, rows="many"),
    ):
        quiet = evaluate(Facts(drift=(DriftFact.from_row(row),)), CFG)
        assert quiet.active == () and "inputs_invalid:7d" not in quiet.cleared
    odd = {"tenure": [{"count": "ten", "what": "x"}, "junk"], "plan": "junk"}
    assert DriftFact.from_row(_inputs_row("tested", odd)).invalid_inputs == ()


@pytest.mark.parametrize(
    "raw",
    [None, "drift", {}, {"status": "skipped"}, {"status": "drift", "auc": "high", "threshold": 0.55}],
)
def test_a_report_without_a_usable_multivariate_result_has_no_multivariate_fact(raw: object) -> None:
    row = {"id": 1, "window": "7d", "details": {"multivariate_drift": raw}}
    assert DriftFact.from_row(row).multivariate is None


def test_a_report_row_gives_its_multivariate_result() -> None:
    raw = {"status": "drift", "auc": 0.61, "threshold": 0.55, "top_columns": ["fee", 3], "drifted": True}
    fact = DriftFact.from_row({"id": 1, "window": "7d", "details": {"multivariate_drift": raw}})
    assert fact.multivariate == MultivariateFact(0.61, 0.55, True, ("fee", "3"))


def test_a_candidate_waiting_with_no_champion_says_so() -> None:
    # The title read "(champion vNone)".
    waiting = evaluate(Facts(pending=(PendingApproval("r1", "1", None, "t"),)), CFG)
    assert [a.title for a in waiting.active] == [
        "candidate v1 of run r1 waits for approval (no champion yet)"
    ]
    usual = evaluate(Facts(pending=(PendingApproval("r7", "5", "4", "t"),)), CFG)
    assert [a.title for a in usual.active] == ["candidate v5 of run r7 waits for approval (champion v4)"]


def test_people_words_in_a_title_cannot_format_slack_or_break_the_mail_subject() -> None:
    reason = (
        "hotfix\r\nBcc: victim@example.com <!channel> <https://evil.example/x|open in the dashboard> & co"
    )
    msg = AlertMessage(
        "churn<&>", "occurred", 4, "fp", "champion_changed", "info", "open", f"champion v2: {reason}",
        "o", "u", "https://eg.example/",
    )  # fmt: skip
    blocks = slack_payload(msg)["blocks"]
    assert blocks[1]["text"]["text"] == (
        "champion v2: hotfix\r\nBcc: victim@example.com &lt;!channel&gt; "
        "&lt;https://evil.example/x|open in the dashboard&gt; &amp; co"
    )
    assert "*churn&lt;&amp;&gt;*" in blocks[0]["text"]["text"]
    assert "<!channel>" not in slack_payload(msg)["text"]
    assert blocks[2]["elements"][0]["text"].endswith(
        "<https://eg.example/alerts?alert=4#alert-4|open in the dashboard>"
    )
    mail = email_message(msg, "eg@example.com", ("ops@example.com",))
    assert mail["Subject"] == (
        "[evergreen] [INFO] churn<&>: champion v2: hotfix Bcc: victim@example.com <!channel> "
        "<https://evil.example/x|open in the dashboard> & co"
    )
    assert mail["Bcc"] is None
    assert mail.get_content().startswith(
        "champion v2: hotfix\nBcc: victim@example.com <!channel>"
    )  # as typed
    assert mail.as_bytes()  # serialisable: before, every delivery failed on the header


def test_a_long_title_full_of_escaped_characters_still_fits_slacks_section_limit() -> None:
    """Slack refuses a section whose text is over 3000 characters (HTTP 400, every retry): a 2000-
    character reason of ``<``, ``>`` and ``&`` grew to 7500 once escaped, and that alert never
    reached Slack. The text is cut (never inside an entity) and says so."""
    reason = "<&>" * 700
    msg = AlertMessage(
        "churn", "occurred", 4, "fp", "champion_changed", "info", "open", f"ann rolled back v2: {reason}",
        "o", "u", "https://eg.example/",
    )  # fmt: skip
    payload = slack_payload(msg)
    texts = [b["text"]["text"] for b in payload["blocks"] if "text" in b]
    texts += [e["text"] for b in payload["blocks"] for e in b.get("elements", [])]
    assert all(len(t) <= 3000 for t in texts), [len(t) for t in texts]
    title = payload["blocks"][1]["text"]["text"]
    assert title.startswith("ann rolled back v2: &lt;&amp;&gt;") and title.endswith("…")
    assert title[:-1].endswith(("&lt;", "&amp;", "&gt;"))  # no entity cut in half
    short = replace(msg, title="v2 & v3 <ok>")
    assert slack_payload(short)["blocks"][1]["text"]["text"] == "v2 &amp; v3 &lt;ok&gt;"


def test_only_outside_words_are_scrubbed_of_pii_the_facts_of_a_drift_alert_are_kept() -> None:
    """Scrubbing every string of an alert turned a report's date, ``2026-12-03 06:47:05+00:00``,
    into ``<PHONE>:47:05+00:00``: only the words evergreen did not choose (an error, a reason)
    are scrubbed."""
    from evergreen.alerts.facts import RetrainFailure, RetrainState

    drift = DriftFact(7, "7d", "2026-12-03 06:47:05+00:00", "3", {"data_drift_score": 0.4}, ("plan",))
    error = "ValueError: bad value 'ann@example.com' at 2026-12-03 06:47"
    facts = Facts(
        drift=(drift,),
        retrain=RetrainState(RetrainFailure("run:r1", "failed", "r1", error, "2026-12-03 06:48")),
    )
    found = {c.kind: c for c in evaluate(facts, CFG).active}
    assert found["drift"].details["report_date"] == "2026-12-03 06:47:05+00:00"
    failed = found["retrain_failed"]
    assert "ann@example.com" not in failed.title + repr(failed.details)
    assert "<EMAIL>" in failed.title and "<EMAIL>" in failed.details["error"]
    assert failed.details["at"] == "2026-12-03 06:48"
    assert "at 2026-12-03 06:47" in failed.title  # a date in the error is no phone number


def test_a_long_error_is_scrubbed_before_the_title_is_cut() -> None:
    """Cut first, "jane.doe@example.com" across the 500th character left "jane.doe@example." in the
    title, which no scrub rule matches, for every channel, the alert row and the audit trail."""
    from evergreen.alerts.facts import RetrainFailure, RetrainState

    head = "run r1 failed: "
    error = "x" * (490 - len(head)) + " jane.doe@example.com and more"
    facts = Facts(retrain=RetrainState(RetrainFailure("run:r1", "failed", "r1", error, "2026-12-03 06:48")))
    [failed] = [c for c in evaluate(facts, CFG).active if c.kind == "retrain_failed"]
    assert "jane.doe" not in failed.title and "jane.doe" not in failed.details["error"]
    assert len(failed.title) == 500 and failed.title.endswith(" <EMAIL> a")  # cut once scrubbed


def test_an_alert_mail_has_the_date_and_message_id_a_mail_server_expects() -> None:
    """Sent without ``Date`` (RFC 5322 requires it) nor ``Message-ID``: strict servers refused it,
    others marked it as spam, and clients sorted it by arrival. A retry is the same message (one id)."""
    from email.utils import parsedate_to_datetime

    msg = AlertMessage(
        "churn", "opened", 4, "fp", "drift", "alert", "open", "drift 0.4",
        "2026-12-03T06:47:05+00:00", "2026-12-03T06:50:00.123456+00:00", "https://eg.example/",
    )  # fmt: skip
    mail = email_message(msg, "Evergreen <eg@alerts.example.com>", ("ops@example.com",))
    assert parsedate_to_datetime(mail["Date"]) == datetime(2026, 12, 3, 6, 50, 0, tzinfo=UTC)
    mid = mail["Message-ID"]
    assert mid.startswith("<") and mid.endswith("@alerts.example.com>") and ".4." in mid
    assert email_message(msg, "Evergreen <eg@alerts.example.com>", ("ops@example.com",))["Message-ID"] == mid
    assert email_message(replace(msg, event="resolved"), "eg@alerts.example.com", ())["Message-ID"] != mid
