"""Journeys in real headless Chromium: define a journey map, see it drawn, run a funnel."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from browser import PHONE, axe_violations, shot, sideways_overflow
from cxloop.journeys.models import JourneyMap
from factories import ingest
from test_journeys_maps import ev, seed

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=5_000)


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread (the server starts before the browser)."""


def login(page: Page, live_server, member) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", "analyst-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/customers/$"))


def add_stage(page: Page, name: str) -> Locator:
    page.get_by_role("button", name="+ Add stage").click()
    column = page.locator(".jcol").nth(page.locator(".jcol").count() - 1)
    column.get_by_label("Stage name", exact=True).fill(name)
    column.get_by_label("Stage name", exact=True).blur()
    return column


def add_touchpoint(page: Page, column: Locator, name: str, event: str) -> Locator:
    column.get_by_role("button", name=re.compile("^Add touchpoint")).click()
    card = column.locator(".jcard").nth(column.locator(".jcard").count() - 1)
    card.get_by_label(re.compile(r"^Touchpoint \d")).fill(name)
    card.get_by_label("Event", exact=True).select_option(event)
    return card


def drag(page: Page, source: Locator, target: Locator) -> None:
    """A real mouse drag in small steps (HTML5 drag and drop starts only once the mouse moves)."""
    start, end = source.bounding_box(), target.bounding_box()
    assert start and end
    page.mouse.move(start["x"] + 5, start["y"] + 5)
    page.mouse.down()
    page.mouse.move(start["x"] + 20, start["y"] + 20, steps=5)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 100, steps=10)
    page.mouse.up()


def stage_names(page: Page) -> list[str]:
    return [
        page.locator(".jcol").nth(i).get_by_label("Stage name", exact=True).input_value()
        for i in range(page.locator(".jcol").count())
    ]


def test_build_a_journey_visually_and_see_the_map(
    page: Page, live_server, member, workspace, screenshot, request
):
    # given: the seed's events (Home, Email Opened, Order Completed, Repeat Order...)
    seed(workspace)
    refused: list[str] = []  # what the Content Security Policy blocked (nothing, we expect)
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    login(page, live_server, member)
    page.get_by_role("link", name="Journeys", exact=True).click()
    expect(page.get_by_text("No journey maps yet.")).to_be_visible()
    page.get_by_role("link", name="New journey map").first.click()
    expect(page.get_by_text("No stages yet")).to_be_visible()

    # when: three stages, out of order, each with a touchpoint
    page.get_by_label("Name", exact=True).fill("Shop")
    discover = add_stage(page, "Discover")
    add_touchpoint(page, discover, "Site", "Home")
    back = add_stage(page, "Return")
    card = add_touchpoint(page, back, "Big repeat order", "Repeat Order")
    expect(card.locator(".rule-count")).to_contain_text("2 matching events")
    # a property condition chosen from the properties seen on Repeat Order, typed number
    card.get_by_role("button", name="+ Condition").click()
    card.get_by_label("Property", exact=True).select_option("revenue")
    operators = card.get_by_label("Operator", exact=True).locator("option")
    expect(operators).to_have_text(["=", "≠", "<", "≤", ">", "≥"])
    card.get_by_label("Operator", exact=True).select_option(">")
    card.get_by_label("Value", exact=True).fill("100")
    card.get_by_label("Value", exact=True).blur()
    # then: the live count follows the rule
    expect(card.locator(".rule-count")).to_contain_text("1 matching event")
    buy = add_stage(page, "Buy")
    order = add_touchpoint(page, buy, "Order", "Order Completed")
    expect(order.locator(".rule-count")).to_contain_text("5 matching events")
    mail = add_touchpoint(page, discover, "Mail", "Email Opened")
    mail.get_by_label("Channel", exact=True).select_option("email")
    assert stage_names(page) == ["Discover", "Return", "Buy"]

    # when: Buy dragged onto Return's column, then moved right and back with the keyboard
    page.locator("#stages-title").scroll_into_view_if_needed()
    drag(page, page.locator(".jcol").nth(2).locator(".jhandle"), page.locator(".jcol").nth(1))
    assert stage_names(page) == ["Discover", "Buy", "Return"]
    page.get_by_role("button", name="Move stage Discover right").click()
    assert stage_names(page) == ["Buy", "Discover", "Return"]
    page.get_by_role("button", name="Move stage Discover left").focus()
    page.keyboard.press("Enter")
    assert stage_names(page) == ["Discover", "Buy", "Return"]
    # the focus stays with the moved stage (its "left" button is disabled in first place)
    expect(page.locator(":focus")).to_have_attribute("aria-label", "Move stage Discover right")
    # a stage with nothing in it, and a duplicate name
    extra = add_stage(page, "discover")
    screenshot("editor")
    page.get_by_role("button", name="Create journey map").click()

    # then: each error is next to its stage, and nothing is saved
    extra = page.locator(".jcol").nth(3)
    expect(extra.locator(".field-error")).to_contain_text("is already stage 1")
    expect(page.get_by_role("alert")).to_contain_text("The journey was not saved")
    assert not JourneyMap.objects.exists()
    screenshot("editor-errors")

    # when: the extra stage deleted and saved
    page.get_by_role("button", name="Delete stage discover", exact=True).click()
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
    expect(page.get_by_text("Repeat Order where revenue greater than 100")).to_be_visible()
    boxes = [stages.nth(i).bounding_box() for i in range(3)]
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]  # left to right
    screenshot("map")

    # and on a phone, the editor of the saved journey stacks its stages and fits the width
    journey = JourneyMap.objects.get()
    phone = page.context.browser.new_context(viewport=PHONE, is_mobile=True)
    small = phone.new_page()
    small.context.add_cookies(page.context.cookies())
    small.goto(f"{live_server.url}/journeys/{journey.pk}/edit/")
    expect(small.locator(".jcard")).to_have_count(4)
    expect(small.locator(".rule-count").last).to_contain_text("1 matching event")
    assert sideways_overflow(small) == 0
    columns = [small.locator(".jcol").nth(i).bounding_box() for i in range(3)]
    assert columns[0]["y"] < columns[1]["y"] < columns[2]["y"]  # stacked, in order
    assert axe_violations(small) == []
    shot(small, request, "editor-phone")
    phone.close()
    assert refused == []


def test_condition_operators_follow_the_property_type(
    page: Page, live_server, member, workspace, screenshot
):
    # given: deliveries with a flag, a text and a number
    ingest(workspace, [
        ev("ann", "Order Delivered", 1, late=True, carrier="DPD", days=3),
        ev("bob", "Order Delivered", 2, late=False, carrier="DHL", days=1),
        ev("cat", "Order Delivered", 3, late=True, carrier="DPD", days=5),
    ])  # fmt: skip
    login(page, live_server, member)
    page.goto(f"{live_server.url}/journeys/new/")
    card = add_touchpoint(page, add_stage(page, "Retention"), "Late delivery", "Order Delivered")
    card.get_by_role("button", name="+ Condition").click()
    property_ = card.get_by_label("Property", exact=True)
    operator = card.get_by_label("Operator", exact=True)
    # then: a flag is true or false, with no value to type
    property_.select_option("late")
    expect(operator.locator("option")).to_have_text(["is true", "is false"])
    expect(card.get_by_label("Value", exact=True)).to_have_count(0)
    expect(card.locator(".rule-count")).to_contain_text("2 matching events")
    operator.select_option("is false")
    expect(card.locator(".rule-count")).to_contain_text("1 matching event")
    # text: equals, contains, is set, with the values seen offered
    property_.select_option("carrier")
    expect(operator.locator("option")).to_have_text(["equals", "contains", "is set"])
    expect(card.locator("datalist option")).to_have_count(2)
    card.get_by_label("Value", exact=True).fill("dp")
    operator.select_option("contains")
    expect(card.locator(".rule-count")).to_contain_text("2 matching events")
    operator.select_option("is set")
    expect(card.get_by_label("Value", exact=True)).to_have_count(0)
    expect(card.locator(".rule-count")).to_contain_text("3 matching events")
    screenshot("operators")


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


def test_the_map_over_a_chosen_range_against_the_period_before(
    page: Page, live_server, member, workspace, screenshot
):
    # given: the seed (1–2 Mar 2025) and one customer 40 days earlier who browsed then bought
    from cxloop.journeys import services
    from test_journeys_maps import SHOP

    seed(workspace)
    ingest(workspace, [ev("old", "Home", -40 * 24), ev("old", "Order Completed", -40 * 24 + 2)])
    journey = services.journey_create(workspace=workspace, definition=SHOP)
    login(page, live_server, member)
    page.goto(f"{live_server.url}/journeys/{journey.pk}/")
    # the default: 90 days to the latest event, which includes "old"
    expect(page.get_by_label("From", exact=True)).to_have_value("2024-12-03")
    expect(page.get_by_label("To", exact=True)).to_have_value("2025-03-02")
    expect(page.locator("#as-of")).to_contain_text("the latest event (imported history)")
    expect(page.locator(".stage-volume")).to_have_text(["5", "5", "1"])

    # when: February on, against the 29 days before
    page.get_by_label("From", exact=True).fill("2025-02-01")
    page.get_by_label("Compare with the period before").check()
    page.get_by_role("button", name="Show", exact=True).click()

    # then: "old" is only in the period before: 1 browsed and bought 2 h later
    expect(page.locator(".stage-volume")).to_have_text(["4", "4", "1"])
    expect(page.locator("#map-total-before")).to_have_text("1")
    expect(page.locator(".stage-before").first).to_have_text(
        "Before: 1 reached (+3), 100% (-50 pts) to next stage, median 2.0 h"
    )
    assert axe_violations(page) == []
    screenshot("map-range")
