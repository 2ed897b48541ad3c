"""What each channel sends: pure formatting of one alert event (no I/O, exact and testable)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

EMOJI = {
    "info": ":information_source:",
    "warning": ":warning:",
    "alert": ":rotating_light:",
    "critical": ":red_circle:",
}


def alert_path(alert_id: int | str) -> str:
    """The dashboard's address of one alert (a message's link, the History page's): the alert itself,
    not the first page of the list, where an alert older than the 25 newest is not."""
    return f"/alerts?alert={alert_id}#alert-{alert_id}"


@dataclass(frozen=True)
class AlertMessage:
    project: str
    event: str  # opened | escalated | occurred | repeated | resolved
    alert_id: int
    fingerprint: str
    kind: str
    level: str
    status: str
    title: str
    opened_at: str
    updated_at: str
    dashboard_url: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def link(self) -> str:
        return self.dashboard_url.rstrip("/") + alert_path(self.alert_id)

    @property
    def headline(self) -> str:
        state = "RESOLVED" if self.event == "resolved" else self.level.upper()
        return f"[{state}] {self.project}: {self.title}"


def webhook_payload(msg: AlertMessage) -> dict[str, Any]:
    """The generic webhook's JSON body."""
    alert = {k: v for k, v in asdict(msg).items() if k not in ("project", "event", "dashboard_url")}
    alert["id"] = alert.pop("alert_id")
    return {
        "source": "evergreen",
        "project": msg.project,
        "event": msg.event,
        "alert": alert,
        "link": msg.link,
    }


def slack_escape(text: str) -> str:
    """Text as Slack shows it literally: ``&``, ``<`` and ``>`` escaped, as Slack's formatting guide
    asks. A title carries people's words (a rollback's reason) and data's (column names, errors):
    unescaped, ``<!channel>`` pinged everyone and ``<https://…|open in the dashboard>`` was a link
    that looked like ours."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


SLACK_TEXT_LIMIT = 3000  # characters of a section's text: Slack answers 400 to a longer one


def slack_text(text: str, limit: int = SLACK_TEXT_LIMIT) -> str:
    """``text`` escaped (:func:`slack_escape`) and, when the escaped text is over ``limit``, cut to
    fit with a closing ``…``, never inside an entity. A 2000-character reason of ``<&>`` escaped to
    7500: Slack refused the message (HTTP 400) on every retry and the alert never reached it."""
    escaped = slack_escape(text)
    if len(escaped) <= limit:
        return escaped
    out, size = [], 0
    for ch in text:
        piece = slack_escape(ch)
        if size + len(piece) > limit - 1:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out) + "…"


def slack_payload(msg: AlertMessage) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (notifications, fallback) and Block Kit blocks."""
    emoji = ":white_check_mark:" if msg.event == "resolved" else EMOJI.get(msg.level, "")
    state = "resolved" if msg.event == "resolved" else msg.level
    project, kind = slack_escape(msg.project), slack_escape(msg.kind)
    return {
        "text": slack_escape(msg.headline),
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"{emoji} *{state.upper()}* · *{project}* · {kind}",
                },
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": slack_text(msg.title)}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"alert #{msg.alert_id} · {msg.event} · <{msg.link}|open in the dashboard>",
                    }
                ],
            },
        ],
    }


def _date_and_id(em: EmailMessage, msg: AlertMessage, sender: str) -> None:
    """``Date`` (RFC 5322 requires it: strict servers refused the mail, others marked it as spam) at
    the event's time, and a ``Message-ID`` made of the event, so each retry is the same message."""
    try:
        at = datetime.fromisoformat(msg.updated_at)
    except ValueError:
        return  # not a time: no date rather than a wrong one
    if at.tzinfo is None:
        return
    em["Date"] = format_datetime(at)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "evergreen.invalid"
    project = re.sub(r"[^A-Za-z0-9-]+", "-", msg.project)[:40] or "project"
    stamp = at.strftime("%Y%m%d%H%M%S%f")
    em["Message-ID"] = f"<evergreen.{project}.{msg.alert_id}.{msg.event}.{stamp}@{domain}>"


def email_message(msg: AlertMessage, sender: str, to: tuple[str, ...]) -> EmailMessage:
    em = EmailMessage()
    # One line: a line break in a header is refused by ``email`` (a reason typed with Enter in it
    # lost every mail of its alert); the body keeps the title as it was written.
    em["Subject"] = " ".join(f"[evergreen] {msg.headline}".split())[:250]
    em["From"] = sender
    em["To"] = ", ".join(to)
    _date_and_id(em, msg, sender)
    lines = [
        msg.title,
        "",
        f"project: {msg.project}",
        f"level: {msg.level}",
        f"event: {msg.event}",
        f"status: {msg.status}",
        f"kind: {msg.kind}",
        f"alert: #{msg.alert_id} (opened {msg.opened_at})",
        f"dashboard: {msg.link}",
    ]
    if msg.details:
        lines += ["", "details:"] + [f"  {k}: {v}" for k, v in sorted(msg.details.items())]
    em.set_content("\n".join(lines) + "\n")
    return em
