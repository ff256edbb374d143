"""Every page a person uses, in real headless Chromium on a desk and on a phone, with the demo
workspace's data: axe-core (WCAG 2.1 AA and best practice) finds nothing, and on a phone the page
never scrolls sideways as a whole (wide tables scroll inside their own box).

Screenshots land in test-artifacts/ for people to look at; assertions never depend on them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.db.models import Count
from playwright.sync_api import Page, expect

from browser import DESKTOP, PHONE, axe_violations, log_in, settle, shot, sideways_overflow
from cxloop.core.models import Workspace
from cxloop.customers.models import Customer
from cxloop.demo.generator import build_demo
from cxloop.feedback.models import Question, Survey
from cxloop.journeys.models import JourneyMap
from cxloop.segments.models import Segment
from cxloop.text import selectors as text_selectors
from cxloop.text.models import Theme
from cxloop.workflows.models import Rule, WorkflowRun, WorkflowTemplate
from factories import member_make
from snapshots import built_once

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=8_000)
TREND = "event=Checkout+Started&event=Order+Completed&formula=B+%2F+A&by=week&breakdown=channel"
FUNNEL = "step=Product+Viewed&step=Product+Added&step=Checkout+Started&step=Order+Completed"


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread (started before the browser)."""


@pytest.fixture
def demo(db) -> Workspace:
    """A small demo workspace: a year of events, surveys with answers, journeys, segments."""
    built_once(
        ("demo", 120, 3),
        lambda: build_demo(slug="demo", customers=120, seed=3, now=datetime.now(UTC)),
    )
    return Workspace.objects.get(slug="demo")


def _customer(ws: Workspace) -> str:
    busiest = (
        Customer.objects.filter(workspace=ws, merged_into__isnull=True)
        .annotate(n=Count("events"))
        .order_by("-n")
        .first()
    )
    return f"/customers/{busiest.pk}/"


def _survey_pk(ws: Workspace) -> int:
    """The demo survey with the most responses."""
    return Survey.objects.filter(workspace=ws).annotate(n=Count("responses")).order_by("-n")[0].pk


def _survey(ws: Workspace, suffix: str = "") -> str:
    return f"/surveys/{_survey_pk(ws)}/{suffix}"


def _journey(ws: Workspace, suffix: str = "") -> str:
    return f"/journeys/{JourneyMap.objects.filter(workspace=ws).order_by('pk')[0].pk}/{suffix}"


def _segment(ws: Workspace) -> str:
    return f"/segments/{Segment.objects.filter(workspace=ws).order_by('pk')[0].pk}/"


def _workflow(ws: Workspace) -> str:
    return f"/workflows/{WorkflowTemplate.objects.filter(workspace=ws).order_by('pk')[0].pk}/"


def _run(ws: Workspace) -> str:
    """An open demo run (its step form and history)."""
    run = WorkflowRun.objects.filter(workspace=ws, status="open").order_by("pk")[0]
    return f"/workflows/runs/{run.pk}/"


def _rule(ws: Workspace) -> str:
    return f"/workflows/rules/{Rule.objects.filter(workspace=ws).order_by('pk')[0].pk}/"


def _all_texts(url: str, ws: Workspace) -> str:
    first, last = text_selectors.period_all(workspace=ws)
    return f"{url}&date_from={first}&date_to={last}"


def _negative_text(ws: Workspace) -> int:
    texts = text_selectors.workspace_texts(workspace=ws).filter(label="negative")
    return texts.order_by("score", "pk")[0].pk


def _intake(ws: Workspace) -> str:
    return f"/w/{WorkflowTemplate.objects.filter(workspace=ws).order_by('pk')[0].intake_token}/"


def _public(ws: Workspace) -> str:
    survey = Survey.objects.filter(workspace=ws, status="active").order_by("pk")[0]
    return f"/s/{survey.public_token}/"


# page name → its address in the demo workspace (signed in as an admin unless said otherwise)
PAGES: dict[str, Callable[[Workspace], str]] = {
    "customers": lambda ws: "/customers/",
    "customer-360": _customer,
    "sources": lambda ws: "/sources/",
    "dashboard": lambda ws: "/dashboard/",
    "surveys": lambda ws: "/surveys/",
    "survey-new": lambda ws: "/surveys/new/",
    "survey-results": _survey,
    "survey-builder": lambda ws: _survey(ws, "questions/"),
    "survey-preview": lambda ws: _survey(ws, "preview/"),
    "survey-import": lambda ws: _survey(ws, "import/"),
    "reviews-import": lambda ws: "/surveys/reviews/import/",
    "journeys": lambda ws: "/journeys/",
    "journey-new": lambda ws: "/journeys/new/",
    "journey-map": _journey,
    "journey-map-compare": lambda ws: _journey(ws, "?compare=1"),
    "journey-editor": lambda ws: _journey(ws, "edit/"),
    "funnel": lambda ws: f"/journeys/funnel/?{FUNNEL}",
    "funnel-why": lambda ws: f"/journeys/funnel/why/?{FUNNEL}",
    "funnel-default": lambda ws: "/journeys/funnel/",
    "funnel-strict": lambda ws: (
        f"/journeys/funnel/?{FUNNEL}&mode=strict&exclude=Page+Viewed&exclude_after=1"
    ),
    "saved-analyses": lambda ws: "/journeys/saved/",
    "paths": lambda ws: "/paths/?start=Product+Viewed&end=Order+Completed",
    "trends": lambda ws: f"/trends/?{TREND}",
    "trends-conversion": lambda ws: f"/trends/conversion/?{FUNNEL}&by=week",
    "trends-changes": lambda ws: "/trends/changes/?event=Order+Completed",
    "session-settings": lambda ws: "/trends/sessions/",
    "trends-changes-funnel": lambda ws: f"/trends/changes/funnel/?{FUNNEL}&trait=loyalty_tier",
    "trends-changes-nps": lambda ws: "/trends/changes/nps/?segments=1&trait=loyalty_tier",
    "before-churn": lambda ws: "/paths/before/",
    "segments": lambda ws: "/segments/",
    "segment-new": lambda ws: "/segments/new/",
    "segment-detail": _segment,
    "personas": lambda ws: "/segments/personas/",
    "value-at-risk": lambda ws: "/predictions/",
    "model-health": lambda ws: "/predictions/health/",
    "workflows": lambda ws: "/workflows/",
    "workflow-editor": _workflow,
    "workflow-process": lambda ws: f"{_workflow(ws)}process/",
    "runs-board": lambda ws: "/workflows/runs/",
    "runs-table": lambda ws: "/workflows/runs/?view=table",
    "run-detail": _run,
    "my-tasks": lambda ws: "/workflows/tasks/",
    "rules": lambda ws: "/workflows/rules/",
    "rule-editor": _rule,
    "loop-report": lambda ws: "/workflows/report/",
    "workflow-calendar": lambda ws: "/workflows/calendar/",
    "text": lambda ws: "/text/",
    "text-semantic": lambda ws: _all_texts("/text/?q=my+order+never+came&mode=semantic", ws),
    "text-detail": lambda ws: f"/text/{_negative_text(ws)}/",
    "text-themes": lambda ws: "/text/themes/",
    "text-key-drivers": lambda ws: _all_texts("/text/drivers/?metric=csat", ws),
    "text-roadblocks": lambda ws: _all_texts("/text/roadblocks/?channel=", ws),
    "text-theme-trends": lambda ws: "/text/themes/trends/?weeks=52",
    "text-teach": lambda ws: "/text/teach/",
}
PUBLIC = (
    "login", "public-survey", "public-survey-errors", "thank-you", "survey-closed",
    "intake-form", "intake-errors",
)  # fmt: skip
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
NARROWEST = 320


def check(page: Page, request, viewport: str) -> None:
    settle(page)
    shot(page, request, "page")
    problems = axe_violations(page)
    if viewport == "phone":
        overflow = sideways_overflow(page)
        if overflow:
            problems.append(f"the page scrolls {overflow}px sideways on a phone")
        # and at 320 CSS px, the narrowest width WCAG 2.1's reflow criterion (1.4.10) names
        page.set_viewport_size({"width": NARROWEST, "height": PHONE["height"]})
        overflow, _ = _misfits(page, NARROWEST, header=False)
        if overflow:
            problems.append(f"the page scrolls {overflow}px sideways {NARROWEST}px wide")
    # a journey's stage names (the 360 page) are read whole at every width, never cut short
    cut = page.evaluate(
        "[...document.querySelectorAll('.stage-steps li')]"
        ".filter(li => li.scrollWidth > li.clientWidth).map(li => li.textContent)"
    )
    if cut:
        problems.append(f"stage names cut short: {cut}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("name", PAGES)
def test_signed_in_page_is_accessible(browser, live_server, demo, name, viewport, request):
    # given: an admin of the demo workspace on a desk or a phone
    admin = member_make(workspace=demo, username="boss", role="admin")
    context = browser.new_context(viewport=VIEWPORTS[viewport], is_mobile=viewport == "phone")
    page = context.new_page()
    log_in(page, live_server, admin)

    # when
    response = page.goto(f"{live_server.url}{PAGES[name](demo)}")

    # then
    assert response is not None
    assert response.status == 200
    check(page, request, viewport)
    context.close()


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("name", PUBLIC)
def test_public_page_is_accessible(browser, live_server, demo, name, viewport, request):
    context = browser.new_context(viewport=VIEWPORTS[viewport], is_mobile=viewport == "phone")
    page = context.new_page()
    if name == "login":
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("User name").fill("nobody")
        page.get_by_label("Password").fill("wrong-password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_be_visible()  # the page with its error message
    elif name == "survey-closed":
        survey = Survey.objects.filter(workspace=demo).order_by("pk")[0]
        Survey.objects.filter(pk=survey.pk).update(status="closed")
        page.goto(f"{live_server.url}/s/{survey.public_token}/")
        expect(page.get_by_role("heading")).to_be_visible()
    elif name.startswith("intake"):
        page.goto(f"{live_server.url}{_intake(demo)}")
        if name == "intake-errors":
            page.get_by_role("button", name="Send").click()
            expect(page.get_by_role("alert")).to_be_visible()
    else:
        page.goto(f"{live_server.url}{_public(demo)}")
        if name == "public-survey-errors":  # sent with a required answer missing
            page.get_by_role("button", name="Send my answers").click()
            expect(page.get_by_role("alert").first).to_be_visible()
        if name == "thank-you":
            page.locator(".pick span").first.click()
            page.get_by_role("button", name="Send my answers").click()
            expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    check(page, request, viewport)
    context.close()


def _journey_errors(page: Page, url: str, ws: Workspace) -> None:
    page.goto(f"{url}/journeys/new/")
    page.get_by_role("button", name="+ Add stage").click()
    page.get_by_role("button", name="Add touchpoint to stage Stage 1").click()
    page.get_by_role("button", name="Create journey map").click()
    expect(page.locator(".field-error").first).to_be_visible()


def _segment_rows(page: Page, url: str, ws: Workspace) -> None:
    page.goto(f"{url}/segments/new/")
    for kind in ("+ Trait", "+ Event", "+ Survey score", "+ Journey stage"):
        rows = page.locator("#conditions [aria-label^='Remove condition']").count()
        page.get_by_role("button", name=kind, exact=True).click()
        expect(page.locator("#conditions [aria-label^='Remove condition']")).to_have_count(rows + 1)


def _survey_errors(page: Page, url: str, ws: Workspace) -> None:
    page.goto(f"{url}/surveys/new/")
    page.get_by_label("Survey name").fill("   ")  # passes the browser's check, not the server's
    page.get_by_role("button", name="Create and add questions").click()
    expect(page.locator(".errors, [role=alert], .error").first).to_be_visible()


def _builder_choice(page: Page, url: str, ws: Workspace) -> None:
    page.goto(f"{url}{_survey(ws, 'questions/')}")
    form = page.locator("#add-question")
    form.get_by_label("Type").select_option("single_choice")
    taken = Question.objects.filter(survey_id=_survey_pk(ws)).order_by("pk")[0].key
    form.get_by_label("Key").fill(taken)
    form.get_by_label("Question text (en), default").fill("Which one?")
    form.get_by_role("button", name="Add question").click()  # a taken key, no choices: errors
    # htmx shows the 422 answer (it drops 4xx answers unless told otherwise)
    expect(page.get_by_role("alert")).to_contain_text(f"'{taken}' is used by another question")


def _editor_refused_remove(page: Page, url: str, ws: Workspace) -> None:
    """Remove on an answered question: refused, the reason shown on that question."""
    page.goto(f"{url}{_survey(ws, 'questions/')}")
    first = page.locator("#qlist > li").first
    first.get_by_role("button", name="Remove").click()
    expect(first.get_by_role("alert")).to_contain_text("removing it would lose them")


def _editor_question_open(page: Page, url: str, ws: Workspace) -> None:
    """A question's edit form opened, skip logic and choices included."""
    page.goto(f"{url}{_survey(ws, 'questions/')}")
    page.locator("#qlist > li").last.locator("summary").click()
    expect(
        page.locator("#qlist > li").last.get_by_role("button", name="Save question")
    ).to_be_visible()


def _rule_tested(page: Page, url: str, ws: Workspace) -> None:
    page.goto(f"{url}{_rule(ws)}")
    page.get_by_label("From").fill("2000-01-01")
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator("#test-result")).to_contain_text("Would have fired")


def _rule_metric_errors(page: Page, url: str, ws: Workspace) -> None:
    page.goto(f"{url}/workflows/rules/new/")
    page.get_by_label("Trigger").select_option("metric_crossed")
    expect(page.get_by_label("Threshold")).to_be_visible()
    page.get_by_label("Over the last (days)").fill("0")
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("#p-days-error")).to_contain_text("0 is outside 1–365")


def _rule_segment_errors(page: Page, url: str, ws: Workspace) -> None:
    page.goto(f"{url}/workflows/rules/new/")
    page.get_by_label("Condition 1 field").fill("in_segment")
    page.get_by_label("Condition 1 field").press("Tab")  # the change redraws: a segment select
    expect(page.locator("select#c0-value")).to_be_visible()
    page.get_by_label("Condition 1 value").select_option("")
    page.get_by_label("Action 1", exact=True).select_option("add_to_segment")
    expect(page.get_by_label("Action 1 segment")).to_be_visible()
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("#c0-value-error")).to_contain_text("choose a saved segment")
    expect(page.locator("#a0-segment_id-error")).to_contain_text("required")


def _workflow_errors(page: Page, url: str, ws: Workspace) -> None:
    page.goto(f"{url}/workflows/new/")
    page.get_by_role("button", name="Save workflow").click()
    expect(page.get_by_role("alert")).to_contain_text("name: required")


def _go(path: str | Callable[[Workspace], str]) -> Callable[[Page, str, Workspace], None]:
    def visit(page: Page, url: str, ws: Workspace) -> None:
        page.goto(f"{url}{path if isinstance(path, str) else path(ws)}")

    return visit


# pages in the states people bring them to: errors shown, rows added, filters that match nothing
STATES: dict[str, Callable[[Page, str, Workspace], None]] = {
    "customer-search-no-match": _go("/customers/?q=nobody-like-this"),
    "timeline-filtered": _go(lambda ws: f"{_customer(ws)}?channel=email&type=page"),
    "dashboard-filtered": _go("/dashboard/?channel=web&by=month&split=touchpoint"),
    "dashboard-compared": _go("/dashboard/?split=channel&a=web&b=app&tone=bad&older=12"),
    "dashboard-bad-date": _go("/dashboard/?from=0202-05-01"),
    "journey-form-errors": _journey_errors,
    "funnel-errors": _go("/journeys/funnel/?step=Product+Viewed&window=abc"),
    "paths-errors": _go("/paths/?start=Home&max_steps=abc"),
    "segment-builder-rows": _segment_rows,
    "survey-new-errors": _survey_errors,
    "survey-builder-errors": _builder_choice,
    "survey-editor-refused-remove": _editor_refused_remove,
    "survey-editor-question-open": _editor_question_open,
    "rule-tested": _rule_tested,
    "rule-metric-errors": _rule_metric_errors,
    "rule-segment-errors": _rule_segment_errors,
    "workflow-editor-errors": _workflow_errors,
}


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("name", STATES)
def test_page_state_is_accessible(browser, live_server, demo, name, viewport, request):
    admin = member_make(workspace=demo, username="boss", role="admin")
    context = browser.new_context(viewport=VIEWPORTS[viewport], is_mobile=viewport == "phone")
    page = context.new_page()
    log_in(page, live_server, admin)
    STATES[name](page, live_server.url, demo)
    check(page, request, viewport)
    context.close()


FOCUS_RING = """() => {
  let el = document.activeElement;
  if (!el || el === document.body) return null;
  // focus inside a same-origin frame (the survey builder's live preview): the ring is drawn
  // on the element focused in there, not on the frame
  while (el.tagName === "IFRAME" && el.contentDocument && el.contentDocument.activeElement
         && el.contentDocument.activeElement !== el.contentDocument.body) {
    el = el.contentDocument.activeElement;
  }
  const view = el.ownerDocument.defaultView;
  const box = el.getBoundingClientRect();
  const hidden = box.width <= 2 || box.height <= 2 || view.getComputedStyle(el).opacity === "0";
  const shown = hidden && el.nextElementSibling ? el.nextElementSibling : el;  // styled radios
  const style = view.getComputedStyle(shown);
  const ring = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0)
    || style.boxShadow !== "none";
  return ring ? "" : el.outerHTML.slice(0, 160);
}"""


@pytest.mark.parametrize(
    "name", ["customers", "customer-360", "dashboard", "segment-new", "survey-builder",
             "journey-map", "funnel", "public-survey"],
)  # fmt: skip
def test_keyboard_focus_is_always_visible(browser, live_server, demo, name):
    # given: a signed-in admin (the public survey needs no login)
    admin = member_make(workspace=demo, username="boss", role="admin")
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    log_in(page, live_server, admin)
    path = _public(demo) if name == "public-survey" else PAGES[name](demo)
    page.goto(f"{live_server.url}{path}")
    settle(page)

    # when: Tab through the first 60 stops
    unringed, stops = [], 0
    for _ in range(60):
        page.keyboard.press("Tab")
        found = page.evaluate(FOCUS_RING)
        if found is None:
            break  # back at the start of the page
        stops += 1
        if found:
            unringed.append(found)

    # then: every stop shows where the focus is
    assert stops > 3
    assert unringed == []
    context.close()


# on a phone, what must keep a readable size (CSS px) rather than squeeze into 390 px
READABLE = {
    "journey-editor": (".jcard select", "width", 120),
    "survey-builder": (".qlist .qbody", "width", 250),
    "survey-results": ("#responses .comment-cell", "width", 200),
    "personas": ("#persona-chart", "width", 600),
    "dashboard": ("#chart-cohorts", "width", 600),
    "before-churn": ("#sankey", "width", 600),
}


@pytest.mark.parametrize("name", READABLE)
def test_phone_keeps_fields_and_charts_readable(browser, live_server, demo, name):
    # given
    admin = member_make(workspace=demo, username="boss", role="admin")
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    log_in(page, live_server, admin)
    selector, side, least = READABLE[name]

    # when
    page.goto(f"{live_server.url}{PAGES[name](demo)}")
    settle(page)
    box = page.locator(selector).first.bounding_box()

    # then: readable, and the page itself still does not scroll sideways (its box does)
    assert box is not None
    assert box[side] >= least
    assert sideways_overflow(page) == 0
    context.close()


def test_a_write_key_stays_on_one_line_on_a_phone(browser, live_server, demo):
    admin = member_make(workspace=demo, username="boss", role="admin")
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    log_in(page, live_server, admin)
    page.goto(f"{live_server.url}/sources/")
    key = page.locator("code.writekey").first
    line = key.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 20")
    assert key.bounding_box()["height"] < 2 * line
    context.close()


# the main menu's pages and the Text pages with charts, at a laptop's, a small laptop's, a
# tablet's and a phone's width
WIDTHS = (1280, 1024, 768, 390)
FITS = (
    "customers", "dashboard", "surveys", "text", "text-key-drivers", "text-themes", "journeys",
    "segments", "value-at-risk", "runs-board", "sources",
)  # fmt: skip
OUTSIDE = """w => [...document.querySelectorAll('.topbar a, .topbar button')]
  .filter(e => { const r = e.getBoundingClientRect(); return r.left < 0 || r.right > w; })
  .map(e => e.textContent.trim())"""


def _staff_admin(ws: Workspace):
    """The demo's own login: an admin who is staff too, so the main menu is at its longest."""
    admin = member_make(workspace=ws, username="admin", role="admin")
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    return admin


def _misfits(page: Page, width: int, *, header: bool = True) -> tuple[int, list[str]]:
    """How far the page scrolls sideways and (``header``) which header links lie outside the
    window, once the layout has settled (charts redraw on the window's resize event): the
    first reading with neither, else the last of three seconds' readings."""
    for _ in range(15):
        overflow = sideways_overflow(page)
        outside = page.evaluate(OUTSIDE, width) if header else []
        if not overflow and not outside:
            break
        page.wait_for_timeout(200)
    return overflow, outside


@pytest.mark.parametrize("name", FITS)
def test_page_fits_the_window_at_every_width(browser, live_server, demo, name):
    # given: the demo's admin (every menu entry)
    admin = _staff_admin(demo)
    wide, cut = {}, {}
    # a laptop's, a small laptop's and a tablet's width: one page, its window resized; a
    # phone's: the page loaded again as a phone loads it
    for widths, mobile in ((WIDTHS[:-1], False), (WIDTHS[-1:], True)):
        context = browser.new_context(
            viewport={"width": widths[0], "height": 900}, is_mobile=mobile
        )
        page = context.new_page()
        log_in(page, live_server, admin)

        # when
        page.goto(f"{live_server.url}{PAGES[name](demo)}")
        settle(page)
        for width in widths:
            page.set_viewport_size({"width": width, "height": 900})

            # then: the page never scrolls sideways, and the whole menu and Log out are in sight
            overflow, outside = _misfits(page, width)
            if overflow:
                wide[width] = overflow
            if outside:
                cut[width] = outside
        context.close()
    assert wide == {}, f"px the page scrolls sideways, by window width: {wide}"
    assert cut == {}, f"header links out of the window, by window width: {cut}"


@pytest.mark.parametrize("width", [1280, 390])
def test_a_long_theme_name_wraps_and_keeps_the_page_in_the_window(
    browser, live_server, demo, width
):
    # given: the busiest theme renamed to 120 characters without a space
    busiest = text_selectors.theme_busiest(workspace=demo)
    Theme.objects.filter(pk=busiest.pk).update(name="z" * 120)
    admin = _staff_admin(demo)
    context = browser.new_context(
        viewport={"width": width, "height": 900}, is_mobile=width == PHONE["width"]
    )
    page = context.new_page()
    log_in(page, live_server, admin)
    wide = {}
    for path in (
        "/text/themes/",
        "/text/",
        _all_texts("/text/drivers/?metric=nps", demo),
        "/dashboard/",
    ):
        # when
        page.goto(f"{live_server.url}{path}")
        settle(page)
        # then
        if overflow := sideways_overflow(page):
            wide[path] = overflow
    assert wide == {}, f"px the page scrolls sideways: {wide}"
    # and on the dashboard (last), the comments' Theme filter stays inside its card
    theme = page.locator("#c-theme").bounding_box()
    card = page.locator("#c-theme").locator("xpath=ancestor::*[contains(@class, 'card')][1]")
    assert theme is not None
    box = card.bounding_box()
    assert theme["x"] + theme["width"] <= box["x"] + box["width"]
    context.close()
