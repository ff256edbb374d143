"""Trends in real headless Chromium, on a desk and on a phone: pick two series and a formula,
see the chart and the table, download the CSV; funnel conversion per week with its intervals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from browser import DESKTOP, PHONE, axe_violations, log_in, shot, sideways_overflow
from factories import identify, ingest, track

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=8_000)


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread (the server starts before the browser)."""


def _shop(workspace) -> None:
    """Three checkouts and two orders in the week of 3 March 2025, one of each the next week."""
    at = lambda d, h: datetime(2025, 3, d, h, tzinfo=UTC)  # noqa: E731
    ingest(
        workspace,
        [
            track("u1", "Checkout Started", at(3, 10)),
            track("u1", "Order Completed", at(3, 11)),
            track("u2", "Checkout Started", at(4, 10), channel="app"),
            track("u3", "Checkout Started", at(5, 10)),
            track("u3", "Order Completed", at(5, 12)),
            track("u4", "Checkout Started", at(11, 9)),
            track("u4", "Order Completed", at(11, 10)),
        ],
        received_at=at(20, 0),
    )


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_trend_with_a_formula_and_csv(browser, live_server, member, workspace, viewport, request):
    # given
    _shop(workspace)
    size = DESKTOP if viewport == "desktop" else PHONE
    context = browser.new_context(viewport=size, is_mobile=viewport == "phone")
    page = context.new_page()
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/journeys/funnel/")
    page.get_by_role("link", name="Trends").click()
    expect(page.get_by_role("heading", name="Trends", exact=True)).to_be_visible()

    # when
    page.get_by_label("Series A event").fill("Checkout Started")
    page.get_by_label("Series B event").fill("Order Completed")
    page.get_by_label("Per", exact=True).select_option("week")
    page.get_by_label("From", exact=True).fill("2025-03-01")
    page.get_by_label("To", exact=True).fill("2025-03-16")
    page.get_by_label("Formula", exact=True).fill("B / A")
    page.get_by_role("button", name="Show trend").click()

    # then: weeks of 24 Feb, 3 and 10 March; B / A empty where A is 0
    rows = page.locator(".trend-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_contain_text("2025-03-03")
    expect(rows.nth(1).locator("td")).to_have_text(["3", "2", "0.667"])
    expect(rows.nth(0).locator("td").nth(2)).to_have_text("—")
    expect(page.locator("#as-of")).to_contain_text("imported history")
    expect(page.locator("#trend-chart .main-svg").first).to_be_attached()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.splitlines()[2] == "2025-03-03,3,2,0.666667"
    shot(page, request, "trend")
    problems = axe_violations(page)
    if viewport == "phone" and (overflow := sideways_overflow(page)):
        problems.append(f"the page scrolls {overflow}px sideways on a phone")
    assert not problems, "\n".join(problems)

    # and funnel conversion per week, with intervals
    page.get_by_role("link", name="Funnel conversion over time").click()
    page.get_by_label("Step 1 event").fill("Checkout Started")
    page.get_by_label("Step 2 event").fill("Order Completed")
    page.get_by_label("From", exact=True).fill("2025-03-01")
    page.get_by_label("To", exact=True).fill("2025-03-16")
    page.get_by_label("Window (days)").fill("1")
    page.get_by_role("button", name="Show conversion").click()
    week = page.locator(".trend-table tbody tr").nth(1)
    expect(week.locator("td")).to_have_text(["3", "2", "66.7%", "20.8–93.9%", "yes"])
    expect(page.locator("#conversion-chart .main-svg").first).to_be_attached()
    shot(page, request, "conversion")
    problems = axe_violations(page)
    if viewport == "phone" and (overflow := sideways_overflow(page)):
        problems.append(f"the page scrolls {overflow}px sideways on a phone")
    assert not problems, "\n".join(problems)
    context.close()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_trend_by_customer_trait(browser, live_server, member, workspace, viewport, request):
    # given: u1 and u3 are gold, u2 silver, u4 has no tier
    _shop(workspace)
    ingest(
        workspace,
        [identify(user, {"tier": tier}, datetime(2025, 3, 1, tzinfo=UTC))
         for user, tier in (("u1", "gold"), ("u2", "silver"), ("u3", "gold"))],
        received_at=datetime(2025, 3, 20, tzinfo=UTC),
    )  # fmt: skip
    size = DESKTOP if viewport == "desktop" else PHONE
    context = browser.new_context(viewport=size, is_mobile=viewport == "phone")
    page = context.new_page()
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/trends/")

    # when
    page.get_by_label("Series A event").fill("Checkout Started")
    page.get_by_label("Series B event").fill("")
    page.get_by_label("Per", exact=True).select_option("week")
    page.get_by_label("From", exact=True).fill("2025-03-01")
    page.get_by_label("To", exact=True).fill("2025-03-16")
    page.get_by_label("Break down by").select_option("trait")
    page.get_by_label("Trait", exact=True).select_option("tier")
    page.get_by_role("button", name="Show trend").click()

    # then: week of 3 March: gold 2 checkouts (u1, u3), silver 1; week of 10 March: u4, no tier
    # (groups by checkouts, ties by value: "" before "silver")
    header = page.locator(".trend-table thead th")
    expect(header).to_have_text(
        ["period", "A: Checkout Started · gold", "A: Checkout Started · (none)",
         "A: Checkout Started · silver"]
    )  # fmt: skip
    expect(page.locator(".trend-table tbody tr").nth(1).locator("td")).to_have_text(["2", "0", "1"])
    expect(page.locator(".trend-table tbody tr").nth(2).locator("td")).to_have_text(["0", "1", "0"])
    shot(page, request, "trend-trait")
    problems = axe_violations(page)
    if viewport == "phone" and (overflow := sideways_overflow(page)):
        problems.append(f"the page scrolls {overflow}px sideways on a phone")
    assert not problems, "\n".join(problems)
    context.close()


def _orders(workspace) -> None:
    """Orders 1–7 March: web 20, app 2; 8–14 March: web 1, app 2; a page view on the 20th."""
    at = lambda d, m=0: datetime(2025, 3, d, 12, m, tzinfo=UTC)  # noqa: E731
    counts = (((1, "web"), 20), ((1, "app"), 2), ((8, "web"), 1), ((8, "app"), 2))
    messages = [
        track(f"{channel}-{first}-{i}", "Order Completed", at(first + i % 7, i), channel=channel)
        for (first, channel), n in counts
        for i in range(n)
    ]
    messages.append(track("v", "Page Viewed", at(20)))
    ingest(workspace, messages, received_at=datetime(2025, 3, 21, tzinfo=UTC))


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_what_changed_names_the_channel(browser, live_server, member, workspace, viewport, request):
    # given
    _orders(workspace)
    size = DESKTOP if viewport == "desktop" else PHONE
    context = browser.new_context(viewport=size, is_mobile=viewport == "phone")
    page = context.new_page()
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/trends/")
    page.get_by_role("link", name="What changed").click()
    expect(page.get_by_role("heading", name="What changed", exact=True)).to_be_visible()

    # when
    page.get_by_label("Event", exact=True).fill("Order Completed")
    page.get_by_label("From", exact=True).fill("2025-03-08")
    page.get_by_label("To", exact=True).fill("2025-03-14")
    page.get_by_role("button", name="Compare").click()

    # then: 22 → 3 orders; web 20 → 1 carries the drop
    expect(page.locator(".change-sentences li").first).to_contain_text(
        "Order Completed fell from 22 to 3"
    )
    expect(page.locator(".change-sentences li").first).to_contain_text("channel web (−19)")
    rows = page.locator(".trend-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(1).locator("th")).to_have_text("web")
    expect(rows.nth(1).locator("td").nth(0)).to_have_text("20")
    expect(page.locator("#as-of")).to_contain_text("imported history")
    shot(page, request, "what-changed")
    problems = axe_violations(page)
    if viewport == "phone" and (overflow := sideways_overflow(page)):
        problems.append(f"the page scrolls {overflow}px sideways on a phone")
    assert not problems, "\n".join(problems)
