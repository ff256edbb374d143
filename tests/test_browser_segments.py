"""Segments, paths and personas in real headless Chromium against a live server.

Screenshots land in test-artifacts/ for people to look at; assertions never depend on them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from cxloop.segments import services as segment_services
from factories import ingest

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=8_000)


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread (the server starts before the browser)."""


def ago(days: float, minutes: float = 0) -> str:
    return (timezone.now() - timedelta(days=days) + timedelta(minutes=minutes)).isoformat()


def shop(workspace) -> None:
    """Ann (gold, last order 100 days ago), Ben (gold, ordered last week), Cat (silver)."""
    people = [
        (
            "ann",
            "Ann Gold",
            "gold",
            [("Home", 101), ("Product Viewed", 100.9), ("Order Completed", 100.8)],
        ),
        (
            "ben",
            "Ben Gold",
            "gold",
            [("Home", 8), ("Product Viewed", 7.9), ("Product Added", 7.8), ("Order Completed", 7)],
        ),
        (
            "cat",
            "Cat Silver",
            "silver",
            [("Home", 5), ("Product Viewed", 4.9), ("Order Completed", 4.8)],
        ),
        ("dot", "Dot Browser", "bronze", [("Home", 3), ("Product Viewed", 2.9)]),
    ]
    messages = []
    for user, name, tier, steps in people:
        messages.append({"type": "identify", "userId": user, "messageId": f"{user}-id", "timestamp": ago(200),
                         "traits": {"name": name, "email": f"{user}@example.com", "loyalty_tier": tier}})  # fmt: skip
        for n, (event, days) in enumerate(steps):
            message = {
                "userId": user,
                "messageId": f"{user}-{n}",
                "timestamp": ago(days),
                "properties": {"channel": "web"},
            }
            message.update(
                {"type": "page", "name": event}
                if event == "Home"
                else {"type": "track", "event": event}
            )
            messages.append(message)
    ingest(workspace, messages)


def log_in(page: Page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])


def test_build_a_segment_and_watch_the_count(
    page: Page, live_server, member, workspace, screenshot
):
    shop(workspace)
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/segments/")
    expect(page.get_by_text("No segments yet.")).to_be_visible()
    page.get_by_role("link", name="+ New segment").click()

    expect(page.get_by_role("heading", name="New segment")).to_be_visible()
    expect(page.locator("#live-count")).to_have_text("4")

    page.get_by_role("button", name="+ Trait").click()
    page.get_by_label("Trait name").fill("loyalty_tier")
    page.get_by_label("Value", exact=True).fill("gold")
    expect(page.locator("#live-count")).to_have_text("2")
    expect(page.locator("#preview .sample a")).to_have_text(["Ben Gold", "Ann Gold"])

    page.get_by_role("button", name="+ Event").click()
    page.get_by_label("Did or did not").select_option("not")
    page.get_by_label("Event name").fill("Order Completed")
    page.locator("input[name$='-days']").fill("60")
    expect(page.locator("#live-count")).to_have_text("1")
    expect(page.locator("#preview")).to_contain_text(
        "loyalty_tier is gold and did not do Order Completed in the last 60 days"
    )

    page.locator("input[name$='-days']").fill("-1")
    expect(page.locator("#preview [role=alert]")).to_contain_text(
        "within_days must not be negative (got -1)"
    )
    expect(page.locator(".row-error:not(:empty)")).to_have_text(
        "within_days must not be negative (got -1)"
    )
    screenshot("error")
    page.locator("input[name$='-days']").fill("60")
    expect(page.locator("#live-count")).to_have_text("1")

    page.get_by_label("Name", exact=True).fill("Gold members who haven't ordered in 60 days")
    screenshot("editor")
    page.get_by_role("button", name="Save segment").click()

    expect(page).to_have_url(re.compile(r"/segments/\d+/$"))
    expect(
        page.get_by_role("heading", name="Gold members who haven't ordered in 60 days")
    ).to_be_visible()
    expect(page.locator("#members tbody .customer-link")).to_have_text(["Ann Gold"])
    page.get_by_role("button", name="Remove condition 2").click()
    expect(page.locator("#live-count")).to_have_text("2")
    screenshot("saved")

    page.get_by_role("link", name="Segments", exact=True).first.click()
    expect(page.locator(".seg-count")).to_have_text(["1"])
    screenshot("list")


def test_quick_clicks_keep_every_condition(page: Page, live_server, member, workspace, screenshot):
    shop(workspace)
    log_in(page, live_server, member)
    # slow each answer down, so the four clicks land while the first is still on its way
    page.route(
        "**/segments/builder/", lambda route: (page.wait_for_timeout(150), route.continue_())
    )
    page.goto(f"{live_server.url}/segments/new/")
    add_trait = page.get_by_role("button", name="+ Trait")
    for _ in range(3):
        add_trait.click()
    page.get_by_role("button", name="+ Survey score").click()

    expect(page.locator(".cond-row")).to_have_count(4)
    expect(page.locator(".cond-row.kind-score")).to_have_count(1)
    # nothing typed yet: no row is marked wrong, and the count waits for them
    expect(page.locator(".row-error:not(:empty)")).to_have_count(0)
    expect(page.locator("#preview [role=alert]")).to_have_count(0)
    expect(page.locator("#live-count")).to_have_text("4")
    expect(page.locator("#preview-waiting")).to_have_text(
        "4 new conditions not counted until filled in."
    )
    score = page.locator(".cond-row.kind-score")
    expect(score.get_by_label("Score", exact=True)).to_contain_text("CES (1–7)")
    score.get_by_label("Score value").fill("6")
    score.get_by_label("in the last").fill("90")
    expect(page.locator("#preview")).to_contain_text("latest NPS ≤ 6 in the last 90 days")
    screenshot("desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("phone")


def test_paths_show_a_sankey(page: Page, live_server, member, workspace, screenshot):
    shop(workspace)
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/paths/")
    # the bare page opens from the commonest start, and Journeys is Paths' one home
    expect(page.locator(".default-note")).to_contain_text("Showing paths from Home")
    expect(
        page.get_by_role("navigation", name="Journeys").get_by_role("link", name="Paths")
    ).to_have_attribute("aria-current", "page")
    expect(
        page.get_by_role("navigation", name="Audience analysis").get_by_role("link", name="Paths")
    ).to_have_count(0)

    page.get_by_label("From", exact=True).select_option("Home")
    page.get_by_label("To", exact=True).select_option("Order Completed")
    # Ann's visit was 101 days ago: outside the default 90 days, so the range is widened
    page.get_by_label("Range from").fill(
        (datetime.now(UTC) - timedelta(days=120)).date().isoformat()
    )
    page.get_by_role("button", name="Show paths").click()

    expect(page.locator("#stat-started")).to_have_text("4")
    expect(page.locator("#stat-completed")).to_have_text("3")
    expect(page.locator("#sankey .sankey-node")).to_have_count(5)
    expect(page.locator("#sankey")).to_contain_text("1. Home")
    expect(page.locator(".paths-table tbody tr").first).to_contain_text(
        "Home→Product Viewed→Order Completed".replace("→", "")
    )
    screenshot("paths")

    page.get_by_role("link", name="Before churn & complaints").click()
    page.get_by_label("Inactive for (days)").fill("30")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#stat-customers")).to_have_text("1")
    expect(page.locator("#sankey .sankey-node")).to_have_count(3)
    screenshot("before-churn")


def test_personas_page(page: Page, live_server, member, workspace, screenshot):
    messages = []
    for i in range(8):
        for n, days in enumerate((60, 30, 2)):
            messages.append({"type": "track", "userId": f"store-{i}", "event": "Order Completed", "messageId": f"s{i}-{n}",
                             "timestamp": ago(days), "properties": {"channel": "store", "revenue": 250}})  # fmt: skip
        messages.append({"type": "track", "userId": f"web-{i}", "event": "Product Viewed", "messageId": f"w{i}",
                         "timestamp": ago(180), "properties": {"channel": "web"}})  # fmt: skip
    ingest(workspace, messages)
    segment_services.segment_create(workspace=workspace, name="Everyone", definition={"all": []})
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/segments/")
    page.get_by_role("link", name="Personas").click()

    expect(page.get_by_text("Not enough behaviour to find personas yet.")).to_be_visible()
    # the last 90 days by default: the web visitors of 180 days back need a longer range
    page.get_by_label("From").fill(ago(200)[:10])
    page.get_by_label("Personas").select_option("2")

    expect(page.locator("article.persona h2")).to_have_text(
        ["Lapsed web browsers", "Loyal store big spenders"]
    )
    expect(page.locator("#persona-chart .main-svg").first).to_be_visible()
    expect(page.locator("article.persona").nth(1)).to_contain_text("8 customers · 50.0%")
    screenshot("personas")
