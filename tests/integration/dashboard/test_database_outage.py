"""The dashboard while its PostgreSQL is stopped, and after it comes back (same process, no restart)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.support.dashboard import PAGES, VIEWER_TOKEN, dashboard_app, login
from tests.support.postgres import PgInstance
from tests.support.project import make_project_settings

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
# The models page reads the registry (MLflow) only, the prediction form nothing stored: they still work.
READ_NO_TABLE = {"/models", "/predict/form"}
PASSWORD = "Dash-Pw-5512"  # the throw-away server trusts every local login: any password is taken


def test_a_page_asked_for_while_the_database_is_down_is_a_503_page_then_works_again(
    tmp_path: Path, own_postgres: PgInstance
) -> None:
    # A person on the dashboard got the API's JSON body for every page while the database was down.
    from evergreen.project import open_project

    url = own_postgres.url.replace("postgres@", f"postgres:{PASSWORD}@")
    settings = make_project_settings(tmp_path / "p", database_url=url)
    project = open_project(settings)
    try:
        with TestClient(dashboard_app(project), raise_server_exceptions=False) as c:
            login(c, VIEWER_TOKEN)
            own_postgres.stop()
            for path in PAGES:
                r = c.get(path, headers=BROWSER)
                if path in READ_NO_TABLE:
                    assert r.status_code == 200, (path, r.text[:300])
                    continue
                assert r.status_code == 503, (path, r.text[:300])
                assert r.headers["content-type"].startswith("text/html"), (path, r.text[:300])
                assert 'class="notice bad"' in r.text and ">Overview</a>" in r.text, path
                assert "metadata database unavailable" in r.text, (path, r.text[:300])
                assert PASSWORD not in r.text
                # An API client at the same address keeps the API's JSON.
                r = c.get(path, headers={"Accept": "*/*"})
                assert r.status_code == 503 and r.json()["error"]["code"] == "store_error", path
            own_postgres.start()
            for path in PAGES:
                r = c.get(path, headers=BROWSER)
                assert r.status_code == 200, (path, r.text[:300])
    finally:
        project.store.engine.dispose()
