"""The vendored htmx: pinned by hash, its licence beside it, and the page loads it from /static."""

from __future__ import annotations

import hashlib
from importlib.resources import files

HTMX = "htmx-2.0.11.min.js"
SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"


def test_htmx_is_the_pinned_file_with_its_licence() -> None:
    static = files("evergreen.dashboard").joinpath("static")
    assert hashlib.sha256(static.joinpath(HTMX).read_bytes()).hexdigest() == SHA256
    assert "Zero-Clause BSD" in static.joinpath("htmx-LICENSE.txt").read_text()
    assert SHA256 in static.joinpath("VENDORED.md").read_text()
    base = files("evergreen.dashboard").joinpath("templates", "base.html").read_text()
    assert f'src="/static/{HTMX}"' in base and "http" not in base.split("<body")[0]
