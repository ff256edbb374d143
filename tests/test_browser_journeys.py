"""Journeys in real headless Chromium: define a journey map, see it drawn, run a funnel."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from cxloop.journeys.models import JourneyMap
from test_journeys_maps import seed

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=5_000)

ROWS = [
    ("Discover", "Site", "Home", "", ""),
    ("Discover", "Mail", "Email Opened", "email", ""),
    ("Buy", "Order", "Order Completed", "web", ""),
    ("Buy", "Order", "Order Completed", "store", ""),
    ("Return", "Big repeat order", "Repeat Order", "", "revenue gt 100"),
]


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread (the server starts before the browser)."""


def login(page: Page, live_server, member) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", "analyst-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/customers/$"))


def test_define_a_journey_and_see_the_map(page: Page, live_server, member, workspace, screenshot):
    # given
    seed(workspace)
    login(page, live_server, member)
    page.get_by_role("link", name="Journeys", exact=True).click()
    expect(page.get_by_text("No journey maps yet.")).to_be_visible()
    page.get_by_role("link", name="New journey map").first.click()
    # when: a first save with a typo in a stage name
    page.fill("#j-name", "Shop")
    page.fill("#j-stages", "Discover: first visits\nBuy\nReturn")
    page.get_by_role("button", name="Add row").click()
    page.get_by_role("button", name="Add row").click()
    for i, (stage, touchpoint, event, channel, conditions) in enumerate(ROWS):
        page.locator("input[name=row-stage]").nth(i).fill("Buyy" if i == 2 else stage)
        page.locator("input[name=row-touchpoint]").nth(i).fill(touchpoint)
        page.locator("input[name=row-event]").nth(i).fill(event)
        page.locator("select[name=row-channel]").nth(i).select_option(channel)
        page.locator("input[name=row-conditions]").nth(i).fill(conditions)
    screenshot("editor")
    page.get_by_role("button", name="Create journey map").click()
    # then: the error names the row, and nothing is saved
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(
        "Row 3, stage: unknown stage 'Buyy' (stages: Discover, Buy, Return)"
    )
    assert not JourneyMap.objects.exists()
    # when: fixed
    page.locator("input[name=row-stage]").nth(2).fill("Buy")
    page.get_by_role("button", name="Create journey map").click()
    # then: the map, stages left to right with their volumes
    expect(page.get_by_role("heading", level=1)).to_have_text("Shop")
    stages = page.locator(".jstage")
    expect(stages).to_have_count(3)
    expect(stages.locator("h2")).to_have_text(["Discover", "Buy", "Return"])
    expect(stages.locator(".stage-volume")).to_have_text(["4", "4", "1"])
    expect(stages.nth(0).locator(".stage-conversion")).to_have_text("50%")
    mail = page.locator(".jtp[data-touchpoint='Mail']")
    expect(mail.locator(".tp-conversion")).to_have_text("100%")
    expect(mail).to_have_class(re.compile("health-good"))
    expect(page.locator("[data-figure='journey-chart'] .main-svg").first).to_be_attached()
    boxes = [stages.nth(i).bounding_box() for i in range(3)]
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]  # left to right
    screenshot("map")


def test_funnel_with_dropoffs_leads_to_the_customer(
    page: Page, live_server, member, workspace, screenshot
):
    # given
    seed(workspace)
    login(page, live_server, member)
    page.goto(f"{live_server.url}/journeys/funnel/")
    # when
    page.get_by_label("Step 1 event").fill("Home")
    page.get_by_label("Step 2 event").fill("Order Completed")
    page.fill("#f-window", "3")
    page.get_by_label("Window unit").select_option("hours")
    page.get_by_label("Split by").select_option("channel")
    page.get_by_role("button", name="Show funnel").click()
    # then
    expect(page.get_by_role("heading", name="4 customers started · 2 finished")).to_be_visible()
    expect(page.locator(".funnel-table .step-count")).to_have_text(["4", "2"])
    expect(page.locator("[data-figure='funnel-chart'] .main-svg").first).to_be_attached()
    dropped = page.locator(".dropoff").first
    expect(dropped.locator("summary")).to_contain_text("Stopped after step 1")
    expect(dropped.get_by_role("link")).to_have_count(2)
    screenshot("funnel")
    # the drop-off links to the customer's 360 page
    dropped.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/customers/\d+/$"))
    expect(page.locator("#customer-name")).to_be_visible()
