"""A run's page shows each slice of the holdout with both models' values beside each other."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from evergreen.pipeline import RetrainRequest, RetrainRunner
from evergreen.project import open_project
from evergreen.store.runs import get_run
from tests.support.dashboard import VIEWER_TOKEN, dashboard_app, login


def test_the_run_page_lists_every_slice_side_by_side(trained_project: Any) -> None:
    s = trained_project.settings
    promotion = s.promotion.model_copy(update={"slice_columns": ("plan",), "max_slice_regression": 1.0})
    p = open_project(s.model_copy(update={"promotion": promotion}))
    try:
        out = RetrainRunner(p).run(RetrainRequest(force=True))
        (check,) = [
            c for c in get_run(p.store, out.run_id)["decisions"][0]["checks"] if c["name"] == "slices"
        ]
        per_slice = check["numbers"]["per_slice"]
        assert per_slice and {sl["column"] for sl in per_slice} == {"plan"}
        with TestClient(dashboard_app(p)) as c:
            login(c, VIEWER_TOKEN)
            page = c.get(f"/runs/{out.run_id}").text
        assert "Each slice on the same holdout: candidate vs champion" in page
        for sl in per_slice:
            row = re.search(rf'<th scope="row">plan={re.escape(str(sl["value"]))}</th>(.*?)</tr>', page)
            assert row, sl
            assert f"<td>{sl['candidate']:.4f}</td><td>{sl['champion']:.4f}</td>" in row.group(1)
    finally:
        p.store.engine.dispose()


def test_a_failed_runs_page_shows_the_error_line_and_the_traceback_behind_a_disclosure(
    trained_project: Any,
) -> None:
    from evergreen.store.runs import create_run, finish_run

    store = trained_project.store
    rid = create_run(store, trigger="manual", reason="test", actor="cli:me")
    finish_run(
        store, rid, "failed", error='store_error: db away\nTraceback (most recent call last):\n  File "<x>"'
    )
    with TestClient(dashboard_app(trained_project)) as c:
        login(c, VIEWER_TOKEN)
        page = c.get(f"/runs/{rid}").text
    shown = re.search(r'<dt>Error</dt><dd class="bad">(.*?)<details>', page, re.S)
    assert shown and shown.group(1).strip() == "store_error: db away"
    trace = re.search(r"<details><summary>Traceback</summary><pre>(.*?)</pre></details>", page, re.S)
    assert trace and trace.group(1) == "Traceback (most recent call last):\n  File &#34;&lt;x&gt;&#34;"
