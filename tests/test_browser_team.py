"""Team and write-key pages in real headless Chromium, at desktop and phone width.

Screenshots land in test-artifacts/ for people to look at; assertions never depend on them.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from browser import PHONE, axe_violations, log_in, shot
from cxloop.core import services as core_services
from cxloop.core.models import Membership, WriteKey

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=8_000)


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread (the server starts before the browser)."""


def overflow(page: Page, width: int) -> list[str]:
    """Elements that reach past the screen's right edge (wide tables scroll in their own box)."""
    return page.evaluate(
        """(width) => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 1)
            .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))
            .slice(0, 8)""",
        width,
    )


def test_admin_manages_the_team(page: Page, live_server, admin_member, workspace, request):
    agent = core_services.user_create_or_reset(username="andy", password="andy-pass-123")
    core_services.membership_set(user=agent, workspace=workspace, role="agent")
    log_in(page, live_server, admin_member)

    page.goto(f"{live_server.url}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", name="Team", exact=True)).to_be_visible()
    expect(page.locator("#members tbody tr")).to_have_count(2)
    assert axe_violations(page) == []
    shot(page, request, "desktop")

    # add a new user as a viewer
    page.get_by_label("Username").fill("val")
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_label("Password").fill("a long enough pass 42")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status")).to_contain_text("val created and added as Viewer.")
    expect(page.locator("#members tbody tr")).to_have_count(3)

    # promote the agent; removing the only admin is refused with a reason
    page.get_by_label("Role of andy").select_option("analyst")
    page.locator("tr[data-user=andy]").get_by_role("button", name="Save role").click()
    expect(page.get_by_role("status")).to_contain_text("andy is now analyst.")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove boss").click()
    expect(page.get_by_role("status")).to_contain_text("boss is the last admin")
    assert {m.user.username: m.role for m in Membership.objects.filter(workspace=workspace)} == {
        "boss": "admin",
        "andy": "analyst",
        "val": "viewer",
    }
    assert axe_violations(page) == []

    # the audit log shows the three changes
    page.get_by_role("link", name="Audit log").click()
    # the two changes by boss, on top of the setup (workspace key, boss's and andy's roles)
    expect(page.locator("#audit tbody tr")).to_have_count(2 + 3)
    expect(page.locator("#audit tbody tr").first).to_contain_text("member_role_set")
    assert axe_violations(page) == []
    shot(page, request, "audit")


def test_admin_creates_a_server_key_shown_once_then_revokes_it(
    browser, live_server, admin_member, workspace, request
):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    phone = context.new_page()
    log_in(phone, live_server, admin_member)

    phone.goto(f"{live_server.url}/sources/")
    phone.get_by_label("Label").fill("backend")
    phone.get_by_label("Kind").select_option("server")
    phone.get_by_role("button", name="Create key").click()

    key = WriteKey.objects.get(workspace=workspace, label="backend")
    reveal = phone.locator("#new-key")
    expect(reveal).to_contain_text("only time the full key is shown")
    expect(reveal.locator("code")).to_have_text(key.key)
    # the page fits the phone: nothing wider than the screen
    page_width = phone.evaluate("document.documentElement.scrollWidth")
    assert page_width <= PHONE["width"], "\n".join(overflow(phone, PHONE["width"]))
    assert axe_violations(phone) == []
    shot(phone, request, "phone-new-key")

    phone.reload()
    expect(phone.locator("#new-key")).to_have_count(0)
    assert key.key not in phone.content()

    phone.once("dialog", lambda dialog: dialog.accept())
    phone.get_by_role("button", name="Revoke key backend").click()
    expect(phone.get_by_role("status")).to_contain_text("Key “backend” revoked")
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert axe_violations(phone) == []
    shot(phone, request, "phone-revoked")
    context.close()


def test_team_page_on_a_phone(browser, live_server, admin_member, workspace, request):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    phone = context.new_page()
    log_in(phone, live_server, admin_member)

    phone.goto(f"{live_server.url}/team/")

    expect(phone.get_by_role("button", name="Add member")).to_be_visible()
    page_width = phone.evaluate("document.documentElement.scrollWidth")
    assert page_width <= PHONE["width"], "\n".join(overflow(phone, PHONE["width"]))
    assert axe_violations(phone) == []
    shot(phone, request, "phone")
    context.close()


def test_a_viewer_sees_the_dashboard_without_comments_or_admin_links(
    page: Page, live_server, workspace, request
):
    viewer = core_services.user_create_or_reset(username="vic", password="vic-pass-12345")
    core_services.membership_set(user=viewer, workspace=workspace, role="viewer")
    log_in(page, live_server, viewer)

    page.goto(f"{live_server.url}/")

    expect(page).to_have_url(f"{live_server.url}/dashboard/")
    expect(page.get_by_role("heading", name="Latest comments")).to_have_count(0)
    nav = page.get_by_role("navigation", name="Main")
    for hidden in ("Customers", "Sources", "Team"):
        expect(nav.get_by_role("link", name=hidden, exact=True)).to_have_count(0)
    expect(nav.get_by_role("link", name="Dashboard")).to_be_visible()
    shot(page, request, "viewer")
    # the dashboard's own colours are checked by its tests; here: what this change adds or hides
    assert [v for v in axe_violations(page) if not v.startswith("color-contrast")] == []
