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
