"""The funnel page's modes, exclusions and "why they dropped", and saved analyses, in real
headless Chromium on a desk and on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from browser import DESKTOP, PHONE, log_in, settle, sideways_overflow
from factories import identify, ingest
from test_funnel_page import DAY, SHOP, T0, history

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=8_000)


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread (the server starts before the browser)."""


def test_a_strict_funnel_with_an_exclusion_is_explained_and_saved(
    page: Page, live_server, member, workspace, screenshot
):
    # given: the shop's customers (Error shows up among those who drop)
    history(workspace, SHOP | {"gus": SHOP["ann"], "hal": SHOP["ann"]})
    gold = ["ann", "bob", "cat", "dan", "eve"]
    ingest(workspace, [identify(who, {"loyalty_tier": "gold"}, T0 - DAY) for who in gold])
    page.set_viewport_size(DESKTOP)
    log_in(page, live_server, member)
    # when: the page opens with the commonest sequence
    page.goto(f"{live_server.url}/journeys/funnel/")
    expect(page.get_by_role("status").filter(has_text="most common sequence")).to_be_visible()
    expect(page.get_by_label("Step 4 event")).to_have_value("Order")
    screenshot("default")
    # and the analyst asks for card payments, without Error between paying and ordering
    page.get_by_label("Step 3 property").fill("method")
    page.get_by_label("Step 3 value").fill("card")
    page.get_by_label("Excluded event 1").fill("Error")
    page.locator("#x-after-1").fill("3")
    page.get_by_label("Order").select_option("strict")
    page.get_by_role("button", name="Show funnel").click()
    # then
    expect(page.get_by_role("heading", name="8 customers started · 3 finished")).to_be_visible()
    expect(page.locator(".funnel-table .step-count")).to_have_text(["8", "6", "5", "3"])
    expect(page.get_by_text("Without Error between step 3 and 4.")).to_be_visible()
    why = page.locator(".correlation-table tbody tr")
    expect(why.filter(has_text="Error")).to_contain_text("0 of 3 3 of 5")
    expect(why.filter(has_text="loyalty_tier = gold")).to_contain_text("trait")
    # an event property value: 5 of the 8 paid by card (ann, bob, fay, gus, hal)
    expect(why.filter(has_text="Pay with method = card")).to_contain_text("property")
    screenshot("strict-with-exclusion")
    # when: saved and pinned
    page.get_by_label("Name").fill("Card checkout, strict")
    page.get_by_label("Pin").check()
    page.get_by_role("button", name="Save", exact=True).click()
    # then: back on the same funnel, listed under it and on the saved page
    expect(page.get_by_text("Saved “Card checkout, strict”.")).to_be_visible()
    expect(page.get_by_label("Order")).to_have_value("strict")
    page.get_by_role("link", name="All saved analyses").click()
    expect(page).to_have_url(re.compile(r"/journeys/saved/$"))
    row = page.locator(".saved-table tbody tr").first
    expect(row).to_contain_text("Card checkout, strict")
    expect(row).to_contain_text("pinned")
    screenshot("saved")
    # and the funnel page now opens with the pinned funnel
    page.goto(f"{live_server.url}/journeys/funnel/")
    expect(page.get_by_label("Excluded event 1")).to_have_value("Error")
    # on a phone both pages fit
    page.set_viewport_size(PHONE)
    for address, name in (
        ("/journeys/funnel/", "phone-funnel"),
        ("/journeys/saved/", "phone-saved"),
    ):
        page.goto(f"{live_server.url}{address}")
        settle(page)
        screenshot(name)
        assert sideways_overflow(page) == 0, name
    # deleting it (after confirming) empties the list
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete Card checkout, strict").click()
    expect(page.get_by_text("Nothing saved yet.")).to_be_visible()
