"""The customer list and 360 page in real headless Chromium: sorting by a column header,
anonymous visitors shown on request, why a row matched, survey answers in the timeline; on a
desk and on a phone.

Screenshots land in test-artifacts/ for people to look at; assertions never depend on them.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from browser import PHONE, log_in, sideways_overflow
from factories import customer_id, ingest, response_make, survey_make

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=8_000)


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread (started before the browser)."""


def ago(days: float):
    return timezone.now() - timedelta(days=days)


@pytest.fixture
def people(workspace) -> dict[str, int]:
    """Ann (NPS 3), Ben (NPS 9), Cat (NPS 7), Dan (no score) and an anonymous visitor."""

    def identify(user, days, **traits):
        return {
            "type": "identify",
            "userId": user,
            "timestamp": ago(days).isoformat(),
            "traits": traits,
        }

    ingest(
        workspace,
        [
            identify("ann", 1, name="Ann Able", email="ann@example.com", loyalty_tier="gold",
                     preferred_store="Leeds Briggate"),
            identify("ben", 2, name="Ben Best", email="ben@example.com", loyalty_tier="gold"),
            identify("cat", 3, name="Cat Cole", email="cat@example.com", loyalty_tier="silver"),
            identify("dan", 4, name="Dan Dee", email="dan@example.com", loyalty_tier="silver"),
            {"type": "track", "userId": "ann", "event": "Order Completed",
             "timestamp": ago(1.5).isoformat(),
             "properties": {"channel": "web", "products": [{"product_id": "p1"}, {"product_id": "p2"},
                            {"product_id": "p3"}], "total": 59.9, "coupon": "SPRING"}},
            {"type": "page", "anonymousId": "visitor-1", "name": "Home", "timestamp": ago(0.5).isoformat()},
        ],
    )  # fmt: skip
    ids = {user: customer_id(workspace, user) for user in ("ann", "ben", "cat", "dan")}
    nps = survey_make(workspace, name="Relationship NPS")
    for user, score, days in (("ann", 3, 1.2), ("ben", 9, 2.5), ("cat", 7, 3.5)):
        response_make(
            workspace, nps, ago(days), customer_id=ids[user], nps=score,
            comment="Delivery was late" if user == "ann" else "",
        )  # fmt: skip
    return ids


def names(page: Page) -> list[str]:
    return page.locator("#results tbody .customer-link").all_inner_texts()


def test_customer_list_sorts_filters_and_explains(
    page: Page, live_server, member, people, screenshot
):
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/customers/")
    expect(page.locator("#results tbody tr")).to_have_count(4)
    expect(page.locator(".result-count")).to_contain_text("1 anonymous visitor hidden")
    expect(page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "descending")

    page.get_by_role("link", name="NPS", exact=True).click()
    expect(page).to_have_url(re.compile(r"\?sort=-nps$"))
    expect(page.locator("th[aria-sort]")).to_contain_text("NPS")
    expect(page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    assert names(page) == ["Ben Best", "Cat Cole", "Ann Able", "Dan Dee"]
    page.get_by_role("link", name="NPS", exact=True).click()
    expect(page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("#results tbody .customer-link").first).to_have_text("Ann Able")
    screenshot("sorted")

    # a new search keeps the order; each row says why it matched
    page.get_by_label("Search customers").fill("briggate")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=briggate.*sort=nps|sort=nps.*q=briggate"))
    expect(page.locator(".why")).to_have_text("matched preferred_store: Leeds Briggate")

    # the help's examples are the workspace's own traits, and they find people
    page.get_by_label("Search customers").fill("")
    example = page.locator("#search-help a.example").first
    expect(example).to_have_text("loyalty_tier:gold")
    example.click()
    expect(page.locator("#results tbody tr")).to_have_count(2)
    expect(page.locator(".why").first).to_have_text("matched loyalty_tier: gold")

    page.goto(f"{live_server.url}/customers/")
    page.get_by_label("Show anonymous visitors").check()
    expect(page.locator("#results tbody tr")).to_have_count(5)
    expect(page.locator("#results tbody .customer-link").first).to_have_text("Anonymous visitor")
    expect(page).to_have_url(re.compile(r"anon=1"))
    screenshot("with-anonymous")

    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/customers/")
    page.get_by_label("Sort by").select_option("-nps")
    expect(page.locator("#results tbody .customer-link").first).to_have_text("Ben Best")
    assert sideways_overflow(page) == 0
    screenshot("phone")


def test_customer_360_reads_well(page: Page, live_server, member, people, screenshot):
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/customers/{people['ann']}/")
    expect(page.locator("#traits dt").first).to_have_text("Email")
    expect(page.locator("#traits")).to_contain_text("Loyalty tier")
    expect(page.locator("#traits")).to_contain_text("Preferred store")
    order = page.locator("#timeline .event", has_text="Order Completed")
    expect(order.locator(".props-line")).to_have_text("3 products · total 59.90 · coupon SPRING")
    answer = page.locator("#timeline .event.answer")
    expect(answer).to_contain_text("Answered Relationship NPS")
    expect(answer).to_contain_text("NPS 3 · “Delivery was late”")
    first_card = page.locator(".c360-side > section").first
    expect(first_card).to_have_attribute("id", "feedback")
    screenshot("desktop")

    page.set_viewport_size(PHONE)
    page.reload()
    feedback = page.locator("#feedback").bounding_box()
    traits = page.locator("#traits").bounding_box()
    assert feedback and traits and feedback["y"] < traits["y"]
    assert sideways_overflow(page) == 0
    screenshot("phone")


def test_a_long_search_or_a_refused_one_keeps_the_page_in_the_window(
    page: Page, live_server, member, people, screenshot
):
    log_in(page, live_server, member)
    for width in (1366, PHONE["width"]):
        page.set_viewport_size({"width": width, "height": 900})
        # a 200-character word (the longest search allowed) wraps in "0 matches for …"
        page.goto(f"{live_server.url}/customers/?q={'x' * 200}")
        expect(page.locator(".result-count")).to_contain_text("0 matches for")
        assert sideways_overflow(page) == 0, width
        # a refused filter is named and styled, and the workspace is not called empty
        page.goto(f"{live_server.url}/customers/?stage=%3Cscript%3E")
        expect(page.locator("#search-errors")).to_contain_text("stage: Enter a whole number.")
        expect(page.locator("#search-refused")).to_contain_text("This search could not be run.")
        expect(page.get_by_text("No customers yet")).to_have_count(0)
        assert sideways_overflow(page) == 0, width
    screenshot("refused-search-phone")
