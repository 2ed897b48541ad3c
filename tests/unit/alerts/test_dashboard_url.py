"""The base of an alert's dashboard link when alerts.dashboard_url is not set."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from evergreen.alerts.service import dashboard_url
from evergreen.config import settings_from_dict


def _url(tmp_path: Path, serving: dict[str, object], alerts: dict[str, object] | None = None) -> str:
    raw = {
        "project": "p",
        "task": "binary",
        "data": {"target": "y"},
        "serving": serving,
        "alerts": alerts or {},
    }
    return dashboard_url(settings_from_dict(raw, tmp_path, env={}))


def test_a_named_or_loopback_host_is_the_link_as_it_is(tmp_path: Path) -> None:
    assert _url(tmp_path, {"host": "127.0.0.1", "port": 8000}) == "http://127.0.0.1:8000"
    assert _url(tmp_path, {"host": "evergreen.internal", "port": 9000}) == "http://evergreen.internal:9000"


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_a_wildcard_bind_links_to_this_machine_not_to_every_interface(tmp_path: Path, host: str) -> None:
    # http://0.0.0.0:8000 opens nothing on the reader's machine (and is not this server elsewhere).
    assert _url(tmp_path, {"host": host, "port": 8000}) == f"http://{socket.gethostname()}:8000"


def test_an_ipv6_literal_is_bracketed(tmp_path: Path) -> None:
    # http://::1:8000 would read "::1:8000" as the host.
    assert _url(tmp_path, {"host": "::1", "port": 8000}) == "http://[::1]:8000"


def test_the_configured_url_wins(tmp_path: Path) -> None:
    url = "https://evergreen.example.com/"
    assert _url(tmp_path, {"host": "0.0.0.0", "port": 8000}, {"dashboard_url": url}) == url
