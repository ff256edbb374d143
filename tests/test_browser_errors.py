"""Every htmx/fetch request that fails is shown where the person acted (issue 14, editors 2).

One shared handler (static/cxloop/behaviours.js) puts a role=alert message right after the form
or control that sent a request answered 4xx/5xx (the 422s that carry a form with its messages are
swapped in instead) or not answered at all. Each page that sends htmx requests gets one failing
request here: the server's answer is replaced by a 500 in the browser (so every path fails the
same way, whatever the page), plus one real refusal from the server (a 403 from the CSRF check)
and the public survey's fetch autosave.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import count

import pytest
from playwright.sync_api import Page, Route, expect

from browser import DESKTOP, PHONE, log_in, settle, shot
from cxloop.core.models import Workspace
from factories import member_make
from test_browser_a11y import _customer, _public, _rule, _survey, demo  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=8_000)
_typed = count()


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread (started before the browser)."""


def _fail_htmx(route: Route) -> None:
    if route.request.headers.get("hx-request") == "true":
        route.fulfill(status=500, body="Internal Server Error", content_type="text/plain")
    else:
        route.continue_()


def _dashboard(page: Page, ws: Workspace) -> str:
    page.get_by_label("Channel", exact=True).select_option(index=1 + next(_typed) % 2)
    return "#dash-filters"


def _customers(page: Page, ws: Workspace) -> str:
    page.get_by_role("searchbox").first.fill(
        f"zz{next(_typed)}"
    )  # a new text each time ("changed")
    return "form:has(#q)"


def _timeline(page: Page, ws: Workspace) -> str:
    page.locator("#filter-channel").select_option(index=1 + next(_typed) % 2)
    return ".timeline-card form.filters"


def _builder(page: Page, ws: Workspace) -> str:
    form = page.locator("#add-question")  # the editor's questions have the same labels
    form.get_by_label("Key").fill("new_question")
    form.get_by_label("Question text (en), default").fill("Anything else?")
    form.get_by_role("button", name="Add question").click()
    return "#add-question"


def _segment(page: Page, ws: Workspace) -> str:
    page.get_by_role("button", name="+ Trait", exact=True).click()
    return "#add-line"


def _rule_editor(page: Page, ws: Workspace) -> str:
    page.get_by_role("button", name="+ Condition").click()
    return "#rule-form"


# page → (its address, what the person does there, the element the message must follow)
ACTIONS: dict[str, tuple[Callable[[Workspace], str], Callable[[Page, Workspace], str]]] = {
    "dashboard": (lambda ws: "/dashboard/", _dashboard),
    "customers": (lambda ws: "/customers/", _customers),
    "customer-360": (_customer, _timeline),
    "survey-builder": (lambda ws: _survey(ws, "questions/"), _builder),
    "segment-new": (lambda ws: "/segments/new/", _segment),
    "rule-editor": (_rule, _rule_editor),
}


@pytest.mark.parametrize("name", ACTIONS)
def test_failed_request_is_shown_where_the_person_acted(browser, live_server, demo, name, request):  # noqa: F811
    # given: an admin on the page, and a server that fails every htmx request
    admin = member_make(workspace=demo, username="boss", role="admin")
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    log_in(page, live_server, admin)
    address, act = ACTIONS[name]
    page.goto(f"{live_server.url}{address(demo)}")
    settle(page)
    page.route("**/*", _fail_htmx)

    # when: the person does the page's everyday action
    where = act(page, demo)

    # then: a message right after the control they used says what happened
    message = page.locator(f"{where} + [data-request-error]")
    expect(message).to_be_visible()
    expect(message).to_have_attribute("role", "alert")
    expect(message).to_contain_text("The server answered 500")
    shot(page, request, "error")

    # and: once the server answers again, the next success there clears it
    page.unroute("**/*")
    if name == "survey-builder":
        page.locator("#add-question").get_by_role("button", name="Add question").click()
    else:
        act(page, demo)
    expect(page.locator("[data-request-error]")).to_have_count(0)
    context.close()


def test_a_real_refusal_is_shown_too(browser, live_server, demo, request):  # noqa: F811
    # given: the segment builder, whose CSRF cookie has gone (e.g. cleared by the browser)
    admin = member_make(workspace=demo, username="boss", role="admin")
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    log_in(page, live_server, admin)
    page.goto(f"{live_server.url}/segments/new/")
    settle(page)
    session = [c for c in context.cookies() if c["name"] == "sessionid"]
    context.clear_cookies()
    context.add_cookies(session)

    # when
    page.get_by_role("button", name="+ Trait", exact=True).click()

    # then: Django's 403 is not swallowed
    message = page.locator("#add-line + [data-request-error]")
    expect(message).to_contain_text("The server answered 403")
    shot(page, request, "phone")
    context.close()


def test_public_survey_autosave_failure_is_said(browser, live_server, demo, request):  # noqa: F811
    # given: the public survey on a phone, offline as far as autosave goes
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    page.goto(f"{live_server.url}{_public(demo)}")
    page.route("**/save/", lambda route: route.abort())

    # when: an answer is chosen (autosave runs after a short pause)
    page.locator(".pick span").first.click()

    # then
    expect(page.locator(".saved")).to_contain_text("Not saved yet")
    shot(page, request, "unsaved")
    context.close()


def test_an_ended_session_goes_to_the_login_page_and_back(browser, live_server, demo):  # noqa: F811
    # given: the dashboard, whose session then ends (logged out elsewhere, or expired)
    admin = member_make(workspace=demo, username="boss", role="admin")
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    log_in(page, live_server, admin)
    page.goto(f"{live_server.url}/dashboard/")
    settle(page)
    context.clear_cookies()

    # when: a filter changes (the server answers with a redirect to the login page)
    page.get_by_label("Channel", exact=True).select_option(index=1)

    # then: the whole page is the login page, which comes back to the dashboard after
    expect(page).to_have_url(re.compile(r"/login/\?next=%2Fdashboard%2F"))
    expect(page.get_by_label("User name")).to_be_visible()
    expect(page.locator("#dashboard")).to_have_count(0)
    context.close()
