"""The dashboard in headless Chromium: each role's flows, forged requests, predict, a11y, screenshots."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from evergreen.store.audit import list_actions
from evergreen.store.tables import feedback
from tests.support.dashboard import ADMIN_TOKEN, OPERATOR_TOKEN, PAGES, VIEWER_TOKEN, browser_login


def test_viewer_sees_the_champion_and_an_open_alert_but_no_action(browser: Any, server: Any) -> None:
    page = browser_login(browser, server.url, VIEWER_TOKEN)
    champion = page.get_by_role("region", name="Champion")
    expect(champion).to_contain_text("v2")
    expect(page.get_by_role("region", name="Open alerts")).to_contain_text("critical")
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Alerts").click()
    expect(page.get_by_text("data drift score").first).to_be_visible()
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    for path in ("/models", "/approvals", "/settings"):
        page.goto(path)
        expect(page.locator("main form[method=post]")).to_have_count(0)
    page.context.close()


def test_operator_rolls_back_approves_and_acknowledges_all_in_history(
    browser: Any, server: Any, project: Any
) -> None:
    page = browser_login(browser, server.url, OPERATOR_TOKEN)
    page.goto("/models")
    page.get_by_label("Reason", exact=True).last.fill("v2 misbehaves in the browser")
    page.get_by_label("I confirm the champion changes now").check()
    page.get_by_role("button", name="Roll back").click()
    expect(page.get_by_role("status")).to_contain_text("champion is now v1 (was v2)")

    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Approvals").click()
    page.get_by_label("Comment (required)").first.fill("reviewed the comparison")
    page.get_by_role("button", name="Approve").first.click()
    expect(page.get_by_role("status")).to_contain_text("champion is now v3")

    page.goto("/alerts?status=open&level=critical")
    page.get_by_label("Comment (required)").first.fill("looking at the upstream feed")
    page.get_by_role("button", name="Acknowledge").first.click()
    expect(page.get_by_role("status")).to_contain_text("acknowledged")

    page.goto("/history?actor=dashboard%3Aotto")
    story = page.locator("table.story tbody")
    for action, why in (
        ("rollback", "v2 misbehaves in the browser"),
        ("approve", "reviewed the comparison"),
        ("alert_acknowledged", "looking at the upstream feed"),
    ):
        expect(story.locator("tr", has_text=action).first).to_contain_text(why)
    expect(story).to_contain_text("dashboard:otto")
    page.context.close()
    actions = {a["action"] for a in list_actions(project.store, actor="dashboard:otto")}
    assert {"rollback", "approve", "alert_acknowledged"} <= actions


def test_admin_changes_a_threshold_and_the_next_decision_uses_it(
    browser: Any, server: Any, project: Any
) -> None:
    from evergreen.pipeline import RetrainRequest, RetrainRunner

    page = browser_login(browser, server.url, ADMIN_TOKEN)
    page.goto("/settings")
    page.get_by_label("promotion.min_improvement").fill("0.5")
    page.get_by_label("promotion.require_approval").fill("false")
    page.get_by_label("Reason").fill("only big wins")
    page.get_by_role("button", name="Save thresholds").click()
    expect(page.get_by_role("status")).to_contain_text("promotion.min_improvement")
    expect(page.locator("tr", has_text="promotion.min_improvement")).to_contain_text("by dashboard:ada")
    outcome = RetrainRunner(project).run(RetrainRequest(force=True, reason="after the change"))
    assert outcome.status == "rejected", outcome.reason
    page.goto(f"/runs/{outcome.run_id}")
    gate = page.get_by_role("table", name="Each gate of the promotion policy").locator(
        "tr", has_text="improvement"
    )
    expect(gate).to_contain_text("failed")
    expect(gate).to_contain_text("0.5")
    page.context.close()


def test_a_post_without_csrf_and_a_viewers_forged_post_are_refused(
    browser: Any, server: Any, project: Any
) -> None:
    before = len(list_actions(project.store))
    operator = browser_login(browser, server.url, OPERATOR_TOKEN)
    r = operator.request.post("/models/rollback", form={"reason": "forged", "confirm": "yes"})
    assert r.status == 403 and "CSRF" in r.text()
    operator.context.close()
    viewer = browser_login(browser, server.url, VIEWER_TOKEN)
    viewer.goto("/models")
    token = viewer.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    r = viewer.request.post(
        "/models/rollback", form={"reason": "forged", "confirm": "yes", "csrf_token": token}
    )
    assert r.status == 403 and "needs operator" in r.text()
    r = viewer.request.post(
        "/predict/form", form={"csrf_token": token}, headers={"Origin": "http://evil.example"}
    )
    assert r.status == 403
    viewer.context.close()
    assert len(list_actions(project.store)) == before


def test_predict_form_predicts_and_the_feedback_stores_the_label(
    browser: Any, server: Any, project: Any
) -> None:
    page = browser_login(browser, server.url, VIEWER_TOKEN)
    page.goto("/predict/form")
    for name, value in (
        ("tenure", "13"),
        ("monthly_fee", "44.07"),
        ("support_calls", "0"),
        ("plan", "standard"),
        ("region", "east"),
        ("last_ticket", "thanks for the quick help"),
    ):
        page.get_by_label(re.compile(rf"^{name} ")).fill(value)
    page.get_by_role("button", name="Predict").click()
    expect(page.locator("#prediction")).to_have_text(re.compile("^(yes|no)$"))
    expect(page.get_by_role("table", name="Probabilities")).to_be_visible()
    pid = page.locator("input[name=prediction_id]").get_attribute("value")
    page.get_by_label("The true outcome").select_option("yes")
    page.get_by_role("button", name="Give the true label").click()
    expect(page.get_by_role("status")).to_contain_text("stored for prediction")
    page.context.close()
    with project.store.connect() as conn:
        labels = conn.execute(select(feedback.c.label).where(feedback.c.prediction_id == pid)).scalars().all()
    assert labels == ["yes"]


def _serious(axe: Any, page: Any) -> list[tuple[str, str, int]]:
    violations = axe.run(page).response["violations"]
    return [
        (v["id"], v["impact"], len(v["nodes"])) for v in violations if v["impact"] in ("serious", "critical")
    ]


def test_every_page_has_no_serious_accessibility_violation_and_a_screenshot(
    browser: Any, server: Any, tmp_path: Path
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    found: dict[str, list[tuple[str, str, int]]] = {}
    anonymous = browser.new_context(base_url=server.url).new_page()
    anonymous.goto("/login")
    anonymous.screenshot(path=str(tmp_path / "login.png"), full_page=True)
    found["/login"] = _serious(axe, anonymous)
    anonymous.context.close()
    admin = browser_login(browser, server.url, ADMIN_TOKEN)
    admin.goto("/runs")
    run_page = admin.locator("main table a").first.get_attribute("href")
    assert run_page and run_page.startswith("/runs/")
    for path in (*PAGES, run_page):
        admin.goto(path)
        name = "run" if path == run_page else (path.strip("/").replace("/", "-") or "overview")
        admin.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        found[path] = _serious(axe, admin)
    admin.context.close()
    assert {path: v for path, v in found.items() if v} == {}
    assert len(list(tmp_path.glob("*.png"))) == len(PAGES) + 2
