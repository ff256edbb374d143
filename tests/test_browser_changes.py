"""What changed, in real headless Chromium on a desk and on a phone: a payment incident (Card
Declined at checkout from 8 March) is followed from the funnel's fall in conversion to the
event that explains it and on to the people it hit."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser import DESKTOP, PHONE, axe_violations, log_in, shot, sideways_overflow
from factories import ingest
from test_funnel_change import at, incident_messages

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=10_000)


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread (the server starts before the browser)."""


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_what_changed_leads_from_the_fall_to_the_incident_and_its_people(
    browser, live_server, member, workspace, viewport, request
):
    # given: a week of checkouts, then a week in which 30 web customers see Card Declined
    ingest(workspace, incident_messages(), received_at=at(21))
    size = DESKTOP if viewport == "desktop" else PHONE
    context = browser.new_context(viewport=size, is_mobile=viewport == "phone")
    page = context.new_page()
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/journeys/funnel/?step=Checkout+Started&step=Order+Completed")
    page.get_by_role("link", name="What changed?").click()
    expect(page.get_by_role("heading", name="What changed: funnel conversion")).to_be_visible()
    expect(page.get_by_label("Step 1 event")).to_have_value("Checkout Started")
    expect(page.get_by_label("Step 2 event")).to_have_value("Order Completed")
    page.get_by_role("link", name="NPS", exact=True).click()
    expect(page.get_by_role("heading", name="What changed: NPS")).to_be_visible()
    page.go_back()

    # when: the week of the incident against the week before, a one-day window
    page.get_by_label("From", exact=True).fill("2025-03-08")
    page.get_by_label("To", exact=True).fill("2025-03-14")
    page.get_by_label("Window (days)").fill("1")
    page.get_by_role("button", name="Compare").click()

    # then: the fall, and the new event that explains it, in plain sentences
    sentences = page.locator(".change-sentences li")
    expect(sentences.first).to_contain_text(
        "Conversion from Checkout Started to Order Completed fell from 75 % to 58 %"
    )
    expect(sentences.nth(1)).to_contain_text(
        "Customers who did Card Declined (new since 8 March) convert at 7 % against 76 %"
    )
    expect(page.get_by_text("Compared with 1 Mar 2025 – 7 Mar 2025.")).to_be_visible()
    row = page.locator("#event-changes tbody tr", has_text="Card Declined")
    expect(row).to_contain_text("new since 8 Mar")
    shot(page, request, "changes-funnel")
    problems = axe_violations(page)
    if viewport == "phone" and (overflow := sideways_overflow(page)):
        problems.append(f"the page scrolls {overflow}px sideways on a phone")
    assert not problems, "\n".join(problems)

    # and the link leads to the people: entered, saw Card Declined, did not order
    row.get_by_role("link", name="People who dropped").click()
    expect(page.get_by_role("heading", name="New segment")).to_be_visible()
    expect(page.locator("#live-count")).to_have_text("28")
    shot(page, request, "changes-people")
    context.close()
