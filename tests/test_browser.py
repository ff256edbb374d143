"""The web UI in real headless Chromium against a live server.

Screenshots land in test-artifacts/ for people to look at; assertions never depend on them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from cxloop.customers.models import Customer, CustomerMerge
from factories import ingest

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=5_000)


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread.

    Requesting ``live_server`` here starts it before the browser, so it also stops after it.
    """


def at(day: int, hour: int = 12, minute: int = 0) -> str:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC).isoformat()


def seed_people(workspace) -> tuple[Customer, Customer, Customer]:
    """Jane (one profile, many channels) and Max (two anonymous profiles merged by an identify).

    Returns (jane, max_survivor, max_absorbed).
    """
    ingest(
        workspace,
        [
            {"type": "page", "anonymousId": "anon-jane", "name": "Pricing", "timestamp": at(1, 9)},
            {
                "type": "identify",
                "anonymousId": "anon-jane",
                "userId": "u-jane",
                "traits": {"name": "Jane Doe", "email": "jane@example.com", "city": "Leeds"},
                "timestamp": at(1, 9, 5),
            },
            {
                "type": "track",
                "userId": "u-jane",
                "event": "Order Completed",
                "properties": {"channel": "web", "revenue": 42.5},
                "timestamp": at(6),
            },
            {
                "type": "identify",
                "anonymousId": "anon-max-web",
                "traits": {"email": "max@example.com", "name": "Max Power", "city": "Bristol"},
                "context": {"consent": {"categoryPreferences": {"email": True}}},
                "timestamp": at(2, 10),
            },
            {
                "type": "track",
                "anonymousId": "anon-max-web",
                "event": "Newsletter Signup",
                "properties": {"channel": "email", "list": "weekly"},
                "timestamp": at(2, 10, 1),
            },
            {
                "type": "page",
                "anonymousId": "anon-max-web",
                "name": "Returns policy",
                "properties": {"path": "/help/returns"},
                "timestamp": at(2, 10, 3),
            },
            {
                "type": "identify",
                "anonymousId": "anon-max-phone",
                "traits": {"phone": "+44 20 7946 0958"},
                "context": {"consent": {"categoryPreferences": {"sms": False}}},
                "timestamp": at(3, 11),
            },
            {
                "type": "track",
                "anonymousId": "anon-max-phone",
                "event": "Support Call",
                "properties": {"channel": "call_center", "minutes": 7, "reason": "late delivery"},
                "timestamp": at(3, 11, 30),
            },
        ],
    )
    ingest(
        workspace,
        [
            {
                "type": "identify",
                "userId": "u-max",
                "traits": {"email": "max@example.com", "phone": "+44 20 7946 0958", "tier": "gold"},
                "timestamp": at(4, 8),
            },
            {
                "type": "track",
                "userId": "u-max",
                "event": "Email Opened",
                "properties": {"channel": "email", "campaign": "spring-sale"},
                "timestamp": at(4, 9),
            },
            {
                "type": "screen",
                "userId": "u-max",
                "name": "Order status",
                "context": {"app": {"name": "Acme", "version": "4.2"}},
                "timestamp": at(5, 18),
            },
            {
                "type": "track",
                "userId": "u-max",
                "event": "Chat Started",
                "properties": {"channel": "chat", "topic": "refund"},
                "timestamp": at(5, 18, 4),
            },
        ],
    )
    merge = CustomerMerge.objects.get(workspace=workspace)
    jane = Customer.objects.get(workspace=workspace, display_name="Jane Doe")
    return jane, merge.survivor, Customer.objects.get(pk=merge.merged_id)


def seed_shoppers(workspace, count: int) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ingest(
        workspace,
        [
            {
                "type": "identify",
                "userId": f"shopper-{n:02d}",
                "traits": {
                    "name": f"Shopper {n:02d}",
                    "email": f"shopper{n:02d}@example.com",
                    "phone": f"+1 415 555 01{n:02d}",
                    "city": ("Leeds", "York", "Bath")[n % 3],
                },
                "timestamp": (start + timedelta(hours=n)).isoformat(),
            }
            for n in range(1, count + 1)
        ],
    )


def log_in(page: Page, live_server, user) -> None:
    """Reuse a Django session instead of typing credentials (the login test does that)."""
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])


def row_names(page: Page) -> list[str]:
    return page.locator("#results tbody .customer-link").all_inner_texts()


def test_login(page: Page, live_server, member, screenshot):
    page.goto(f"{live_server.url}/customers/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/customers/$"))
    expect(page.get_by_role("heading", name="Log in to cxloop")).to_be_visible()

    page.get_by_label("User name").fill("ana")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    expect(page.get_by_label("User name")).to_have_value("ana")
    screenshot("error")

    page.get_by_label("Password").fill("analyst-pass-123")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/customers/")
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    expect(page.locator(".mainnav a[aria-current=page]")).to_have_text("Customers")
    expect(page.get_by_text("No customers yet.")).to_be_visible()
    screenshot("empty-list")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_server.url}/login/")


def test_search_updates_results_in_place(page: Page, live_server, member, workspace, screenshot):
    _, survivor, _ = seed_people(workspace)
    seed_shoppers(workspace, 6)
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/customers/")
    expect(page.locator("#results tbody tr")).to_have_count(8)
    screenshot("all")
    page.evaluate("window.__sameDocument = true")

    page.get_by_label("Search customers").fill("jane")
    expect(page).to_have_url(f"{live_server.url}/customers/?q=jane")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    assert row_names(page) == ["Jane Doe"]
    expect(page.locator(".result-count")).to_contain_text("1 match for “jane”")

    page.get_by_label("Search customers").fill("city:Leeds")
    expect(page).to_have_url(re.compile(r"\?q=city%3ALeeds$"))
    expect(page.locator("#results tbody tr")).to_have_count(3)  # Jane and Shoppers 03 and 06
    assert "Jane Doe" in row_names(page)

    page.get_by_label("Search customers").fill("+44 20 7946 0958")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    assert row_names(page) == ["Max Power"]

    page.get_by_label("Search customers").fill("nobody-like-this")
    expect(page.get_by_text("No customers match “nobody-like-this”.")).to_be_visible()
    screenshot("no-match")

    page.get_by_label("Search customers").fill("max")
    page.get_by_label("Search customers").press("Enter")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    screenshot("max")
    assert page.evaluate("window.__sameDocument") is True, "search caused a full page load"

    page.get_by_role("link", name="Max Power").click()
    expect(page).to_have_url(f"{live_server.url}/customers/{survivor.pk}/")
    expect(page.locator("#customer-name")).to_have_text("Max Power")

    page.go_back()  # the htmx history entry brings the search back
    expect(page).to_have_url(re.compile(r"\?q=max$"))
    expect(page.get_by_label("Search customers")).to_have_value("max")


def test_customer_360(page: Page, live_server, member, workspace, screenshot):
    _, survivor, absorbed = seed_people(workspace)
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/customers/{absorbed.pk}/")  # old links lead to the survivor
    expect(page).to_have_url(f"{live_server.url}/customers/{survivor.pk}/")
    expect(page.locator("#customer-name")).to_have_text("Max Power")

    traits = page.locator("#traits")
    for text in ("City", "Bristol", "Tier", "gold", "max@example.com"):
        expect(traits).to_contain_text(text)
    identities = page.locator("#identities")
    for value in ("u-max", "max@example.com", "+442079460958", "anon-max-web", "anon-max-phone"):
        expect(identities.get_by_text(value, exact=True)).to_be_visible()
    consent = page.locator("#consent")
    expect(consent.locator('tr[data-channel="email"]')).to_contain_text("Granted")
    expect(consent.locator('tr[data-channel="phone"]')).to_contain_text("Withdrawn")
    expect(consent.locator('tr[data-channel="web"]')).to_contain_text("Not asked")
    merges = page.locator("#merges")
    expect(merges).to_contain_text(f"Profile #{absorbed.pk}")
    expect(merges).to_contain_text("identity resolution")

    events = page.locator("#timeline .event")
    expect(events).to_have_count(9)
    channels = set(events.evaluate_all("els => els.map(e => e.dataset.channel)"))
    assert {"email", "phone", "web", "app", "chat"} <= channels
    screenshot("full")

    page.get_by_label("Channel", exact=True).select_option("email")
    expect(events).to_have_count(2)
    assert events.evaluate_all("els => els.map(e => e.dataset.channel)") == ["email", "email"]
    expect(page.locator("#timeline")).to_contain_text("Email Opened")
    expect(page.locator("#timeline")).to_contain_text("Newsletter Signup")
    screenshot("email-only")
    # swapped in place; the address keeps the filter, so a reload shows the same timeline
    expect(page).to_have_url(f"{live_server.url}/customers/{survivor.pk}/?channel=email")
    page.reload()
    expect(events).to_have_count(2)
    expect(page.get_by_label("Channel", exact=True)).to_have_value("email")

    page.get_by_label("Type", exact=True).select_option("page")
    expect(page.get_by_text("No interactions match these filters.")).to_be_visible()
    page.get_by_label("Channel", exact=True).select_option("")
    expect(events).to_have_count(1)
    expect(events).to_contain_text("Returns policy")
    screenshot("filtered")

    page.get_by_label("Type", exact=True).select_option("")
    expect(events).to_have_count(9)


def test_keyboard_and_labels(page: Page, live_server, member, workspace):
    _, survivor, _ = seed_people(workspace)
    log_in(page, live_server, member)
    unlabelled = """els => els
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
        .map(e => e.outerHTML)"""
    for path in ("/customers/", f"/customers/{survivor.pk}/"):
        page.goto(f"{live_server.url}{path}")
        fields = page.locator("input:not([type=hidden]), select, textarea")
        assert fields.count() > 0
        assert fields.evaluate_all(unlabelled) == [], path

    page.goto(f"{live_server.url}/customers/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box
    assert box["y"] >= 0  # shown when focused
    page.keyboard.press("Enter")
    search = page.get_by_label("Search customers")
    search.focus()
    assert search.evaluate("e => getComputedStyle(e).outlineWidth") == "3px"  # our focus ring
    page.get_by_role("link", name="Max Power").focus()
    expect(page.get_by_role("link", name="Max Power")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/customers/{survivor.pk}/")


def test_customer_360_on_a_phone(page: Page, live_server, member, workspace, screenshot):
    _, survivor, _ = seed_people(workspace)
    log_in(page, live_server, member)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/customers/{survivor.pk}/")
    profile = page.locator("#traits").bounding_box()
    timeline = page.locator(".timeline-card").bounding_box()
    assert profile
    assert timeline
    assert timeline["y"] > profile["y"]  # stacked, not side by side
    assert timeline["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    screenshot("360")
    page.goto(f"{live_server.url}/customers/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("list")


def test_pagination(page: Page, live_server, member, workspace, screenshot):
    seed_shoppers(workspace, 30)
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/customers/")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(25)
    assert row_names(page)[0] == "Shopper 30"
    expect(page.locator(".pager")).to_contain_text("Page 1 of 2")
    screenshot("page-1")

    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(f"{live_server.url}/customers/?page=2")
    expect(rows).to_have_count(5)
    assert row_names(page) == [f"Shopper {n:02d}" for n in range(5, 0, -1)]
    expect(page.locator(".pager")).to_contain_text("Page 2 of 2")
    screenshot("page-2")

    page.get_by_role("link", name="← Previous").click()
    expect(rows).to_have_count(25)

    page.get_by_label("Search customers").fill("york")
    expect(rows).to_have_count(10)
    expect(page.locator(".pager")).to_have_count(0)


def test_sources(page: Page, live_server, admin_member, member, workspace, write_key, screenshot):
    seed_people(workspace)
    log_in(page, live_server, admin_member)
    page.goto(f"{live_server.url}/customers/")
    page.get_by_role("link", name="Sources").click()
    expect(page).to_have_url(f"{live_server.url}/sources/")
    expect(page.locator(".mainnav a[aria-current=page]")).to_have_text("Sources")
    expect(page.locator("code.writekey")).to_have_text(write_key)
    expect(page.locator("pre")).to_contain_text(f'analytics.write_key = "{write_key}"')
    expect(page.locator("#by-channel li")).to_have_count(6)
    screenshot("admin")

    page.context.clear_cookies()
    log_in(page, live_server, member)
    response = page.goto(f"{live_server.url}/sources/")
    assert response is not None
    assert response.status == 403  # an analyst may not manage the workspace
    assert write_key not in page.content()
