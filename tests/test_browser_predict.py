"""Predictions in real headless Chromium: value at risk → a customer's 360 card, model health
with its charts, and what a viewer (no personal data) sees.

Screenshots land in test-artifacts/ for people to look at; assertions never depend on them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from browser import log_in
from cxloop.core.models import Workspace
from cxloop.demo.generator import build_demo
from cxloop.predict import selectors
from factories import member_make
from snapshots import built_once

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=8_000)


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread (the server starts before the browser)."""


@pytest.fixture
def demo(db) -> Workspace:
    """The demo workspace: its build fits the models, so predictions are there on first run."""
    built_once(
        ("demo", 150, 5),
        lambda: build_demo(slug="demo", customers=150, seed=5, now=datetime.now(UTC)),
    )
    return Workspace.objects.get(slug="demo")


def test_value_at_risk_leads_to_the_customer_360_card(page: Page, live_server, demo, screenshot):
    # given an analyst of the demo workspace, scored on its first run
    analyst = member_make(workspace=demo, username="ana", role="analyst")
    run, top = selectors.value_at_risk(workspace=demo, limit=1)
    assert run is not None and top
    log_in(page, live_server, analyst)
    # when: they open Predictions from the main menu
    page.goto(f"{live_server.url}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Predictions").click()
    # then: customers by value at risk, highest first
    expect(page.get_by_role("heading", name="Value at risk", level=1)).to_be_visible()
    table = page.locator("#at-risk-table")
    expect(table.locator("tbody tr").first).to_be_visible()
    values = [
        float(v.replace(",", ""))
        for v in table.locator("tbody tr td:nth-child(2)").all_inner_texts()
    ]
    assert values == sorted(values, reverse=True)
    screenshot("value-at-risk")
    # when: a higher threshold is chosen, only riskier customers stay
    page.get_by_label("Churn risk at least").select_option("70")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"min_risk=70"))
    risks = table.locator("tbody tr td:nth-child(4)").all_inner_texts()
    assert all(int(r.rstrip("%")) >= 70 for r in risks)
    page.get_by_label("Churn risk at least").select_option("0")
    page.get_by_role("button", name="Show").click()
    # when: the top customer is opened
    table.locator("tbody tr th a").first.click()
    # then: their 360 page shows CLV and churn risk with reasons
    expect(page).to_have_url(re.compile(rf"/customers/{top[0].customer_id}/$"))
    card = page.locator("#prediction")
    expect(card.get_by_role("heading", name="Value and churn risk")).to_be_visible()
    expect(card.locator("#prediction-risk")).to_have_text(re.compile(r"^\d+%$"))
    screenshot("customer-360-prediction")


def test_model_health_shows_the_fit_its_checks_and_warnings(
    page: Page, live_server, demo, screenshot
):
    # given a viewer (aggregates only)
    viewer = member_make(workspace=demo, username="vic", role="viewer")
    log_in(page, live_server, viewer)
    run = selectors.prediction_run_latest(workspace=demo)
    # when: Predictions leads a viewer to model health (value at risk names customers)
    page.goto(f"{live_server.url}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Predictions").click()
    # then
    expect(page.get_by_role("heading", name="Model health", level=1)).to_be_visible()
    expect(page.locator("#stat-buyers")).to_have_text(f"{run.customers:,}")
    expect(page.locator("#stat-repeat")).to_have_text(f"{run.repeat_buyers:,}")
    expect(page.get_by_role("link", name="Value at risk")).to_have_count(0)
    expect(page.locator("#holdout-chart .main-svg").first).to_be_attached()
    expect(page.locator("#holdout-table tbody tr").first).to_be_visible()
    if run.warnings:
        expect(page.locator("#model-warnings")).to_contain_text(run.warnings[0])
    screenshot("model-health")
    # and the value-at-risk page is refused
    response = page.goto(f"{live_server.url}/predictions/")
    assert response is not None and response.status == 403


def test_value_at_risk_builds_a_segment_and_starts_a_workflow(
    page: Page, live_server, demo, screenshot
):
    # given an analyst of the demo workspace (its "Detractor follow-up" workflow exists)
    analyst = member_make(workspace=demo, username="ana", role="analyst")
    log_in(page, live_server, analyst)
    page.goto(f"{live_server.url}/predictions/?min_risk=30")
    table = page.locator("#at-risk-table")
    listed = table.locator("tbody tr").count()
    assert listed > 0
    screenshot("value-at-risk-actions")
    # when: they build a segment from the list's filter
    page.get_by_role("button", name="Build a segment").click()
    # then: the new segment opens, made of prediction conditions, with members
    expect(page.get_by_role("heading", name="At risk: churn risk ≥ 30%", level=1)).to_be_visible()
    expect(page.get_by_text("Saved the segment")).to_be_visible()
    expect(page.get_by_label("Prediction").first).to_have_value("churn_risk")
    screenshot("value-at-risk-segment")
    # when: back on the list, they start the follow-up workflow for everyone listed
    page.goto(f"{live_server.url}/predictions/?min_risk=30")
    page.get_by_label("Workflow").select_option(label="Detractor follow-up")
    page.get_by_role("button", name="Start a workflow").click()
    # then: it says how many runs started (customers with one open are skipped)
    message = page.get_by_role("status").filter(has_text="of “Detractor follow-up”")
    expect(message).to_have_text(re.compile(r"Started \d+ runs? of “Detractor follow-up”\."
                                            r"( \d+ customers? skipped: a run of it is still open\.)?"))  # fmt: skip
    started = int(re.search(r"Started (\d+)", message.inner_text())[1])
    skipped = re.search(r"(\d+) customers? skipped", message.inner_text())
    assert started + (int(skipped[1]) if skipped else 0) == listed
    screenshot("value-at-risk-workflow-started")
