"""The Content-Security-Policy in real headless Chromium: the app's pages work under it.

Every page is loaded with a listener for ``securitypolicyviolation`` events and console errors;
any blocked script, style, image or handler fails the test.
"""

from __future__ import annotations

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from cxloop.feedback import services as feedback_services

pytestmark = [pytest.mark.browser, pytest.mark.live]
expect.set_options(timeout=8_000)

WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile + ":" + e.lineNumber);
});
"""


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread."""


@pytest.fixture
def watched(page: Page):
    """The page, recording CSP violations and console errors; asserts none at the end."""
    errors: list[str] = []
    page.add_init_script(WATCH)
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    yield page
    # browsers ask for /favicon.ico on pages without an icon link (the public survey page)
    assert [url for url in missing if not url.endswith("/favicon.ico")] == []
    errors = [e for e in errors if "status of 404" not in e]  # favicon: not reported as a response
    violations = page.evaluate("window.__cspViolations || []")
    assert violations == []
    assert [e for e in errors if "Content Security Policy" in e or "Refused" in e] == []
    assert errors == []


def log_in(page: Page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])


def test_dashboard_draws_its_charts_under_the_policy(watched, live_server, member, workspace):
    from test_browser_dashboard import seed

    seed(workspace)
    log_in(watched, live_server, member)
    response = watched.goto(f"{live_server.url}/dashboard/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    # plotly drew the trend chart (an SVG inside the figure's element)
    expect(watched.locator(".js-plotly-plot .main-svg").first).to_be_visible()


def test_public_survey_works_under_the_policy(watched, live_server, workspace):
    survey = feedback_services.survey_create_from_template(workspace=workspace, template="nps")
    response = watched.goto(f"{live_server.url}/s/{survey.public_token}/")
    assert "content-security-policy" in response.headers
    watched.locator('input[type="radio"]').nth(9).check()
    watched.locator('button[type="submit"]').first.click()
    expect(watched.locator("h1")).to_be_visible()
    expect(watched.locator("h1")).not_to_have_text(survey.name)
    assert survey.responses.count() == 1


def test_inline_handlers_replaced_by_behaviours(watched, live_server, member, workspace):
    """Survey builder (type switch), copy boxes, segment editor (mode switch) and the workspace
    switcher all work without inline script."""
    survey = feedback_services.survey_create(workspace=workspace, name="Store visit")
    log_in(watched, live_server, member)
    watched.goto(f"{live_server.url}/surveys/{survey.pk}/questions/")
    watched.get_by_label("Type").select_option("text")
    expect(watched.get_by_label("Rating scale")).to_be_hidden()
    watched.get_by_label("Type").select_option("rating")
    expect(watched.get_by_label("Rating scale")).to_be_visible()

    watched.goto(f"{live_server.url}/segments/new/")
    form = watched.locator("#segment-form")
    expect(form).to_have_attribute("data-mode", "builder")
    watched.get_by_role("radio", name="JSON").check()
    expect(form).to_have_attribute("data-mode", "json")


def test_api_docs_and_admin_work_under_the_policy(watched, live_server, admin_member):
    """The bundled pages from ninja (Swagger UI) and Django's admin, also under the policy."""
    admin_member.is_staff = admin_member.is_superuser = True
    admin_member.save()
    log_in(watched, live_server, admin_member)
    watched.goto(f"{live_server.url}/api/docs")
    expect(watched.locator(".swagger-ui .info .title").first).to_be_visible()
    watched.goto(f"{live_server.url}/admin/")
    expect(watched.locator("#site-name")).to_be_visible()


def test_workspace_switcher_moves_only_when_asked(
    watched, live_server, member, workspace, other_workspace, screenshot
):
    """Choosing another workspace changes nothing until Switch is pressed (WCAG 3.2.2)."""
    from cxloop.core import services as core_services

    core_services.membership_set(user=member, workspace=other_workspace, role="analyst")
    log_in(watched, live_server, member)
    watched.goto(f"{live_server.url}/dashboard/")
    switcher = watched.get_by_label("Workspace")
    switcher.select_option(label=other_workspace.name)
    screenshot("switcher")  # axe-core on the header with its new button
    watched.wait_for_timeout(300)
    assert watched.url.endswith("/dashboard/")  # still here: selecting is not switching
    watched.get_by_role("button", name="Switch").click()
    expect(watched.get_by_label("Workspace")).to_have_value(str(other_workspace.pk))
