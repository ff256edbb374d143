"""The live dashboard in real headless Chromium: numbers, charts, filters, live updates."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from cxloop.customers.models import Customer
from cxloop.events.models import Event
from cxloop.feedback import services as feedback_services
from cxloop.feedback.models import Response, Survey
from cxloop.web.views import metrics as metric_views
from factories import response_make, survey_make

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=8_000)
_keys = count()


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server, monkeypatch):
    """Committed data for the live server thread; poll every second instead of every ten."""
    monkeypatch.setattr(metric_views, "POLL_SECONDS", 1)


def log_in(page: Page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])


def seed(workspace) -> tuple[Survey, Customer]:
    """Three months of answers on four channels, a year of events; email is fixed by hand:
    12 answers, 3 promoters and 6 detractors → NPS 100·(3 − 6)/12 = −25."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    nps = survey_make(workspace, name="Post-purchase NPS", kind="nps", public_token="bnps")
    support = survey_make(workspace, name="Support CSAT", kind="csat", public_token="bcsat")
    plans = ("free", "plus", "pro")
    people = [
        Customer.objects.create(
            workspace=workspace,
            display_name=f"Customer {index}",
            traits={"plan": plans[index % 3], "city": ("Leeds", "Bristol")[index % 2]},
        )
        for index in range(60)
    ]
    jane = Customer.objects.create(
        workspace=workspace, display_name="Jane Doe", traits={"plan": "pro"}
    )
    rows = []
    remarks = ("Quick delivery, thanks!", "App kept logging me out", "Friendly staff in store")
    for index in range(420):
        channel = ("web", "app", "store")[index % 3]
        when = now - timedelta(days=rng.uniform(0.5, 88))
        base = {"web": 8.6, "app": 7.2, "store": 8.0}[channel]
        score = max(0, min(10, round(rng.gauss(base, 1.8))))
        rows.append(
            response_make(
                workspace,
                nps,
                when,
                save=False,
                channel=channel,
                touchpoint=("Order Completed", "Store Visit", "Support Ticket Closed")[index % 3],
                customer=people[index % len(people)],
                nps_score=score,
                comment=remarks[index % 3] if index % 40 == 0 else "",
            )
        )
        rows.append(
            response_make(
                workspace,
                support,
                when,
                save=False,
                channel=channel,
                customer=people[index % len(people)],
                csat_score=max(1, min(5, round(rng.gauss(4.1, 0.9)))),
                ces_score=max(1, min(7, round(rng.gauss(2.8, 1.2)))),
            )
        )
    for index in range(300):  # the 90 days before: app was much worse, web about the same
        channel = ("web", "app", "store")[index % 3]
        base = {"web": 8.5, "app": 5.5, "store": 8.0}[channel]
        rows.append(
            response_make(
                workspace,
                nps,
                now - timedelta(days=rng.uniform(91, 179)),
                save=False,
                channel=channel,
                nps_score=max(0, min(10, round(rng.gauss(base, 1.8)))),
            )
        )
    for index, score in enumerate((10, 9, 10, 8, 7, 7, 6, 5, 3, 0, 2, 6)):
        rows.append(
            response_make(
                workspace,
                nps,
                now - timedelta(days=3 + index),
                save=False,
                channel="email",
                touchpoint="Newsletter",
                customer=jane,
                nps_score=score,
                comment="Emails arrive twice" if index == 8 else "",
            )
        )
    Response.objects.bulk_create(rows)
    feedback_services.score_days_rebuild(workspace=workspace)
    events = []
    for index, person in enumerate(people):
        first = 11 - index % 12
        for months_ago in range(first, -1, -1):
            if months_ago < first and rng.random() > 0.78:
                break
            year, month = divmod(now.year * 12 + now.month - 1 - months_ago, 12)
            when = datetime(year, month + 1, 10, tzinfo=UTC)
            events.append(
                Event(
                    workspace=workspace,
                    customer=person,
                    type="track",
                    name="Visit",
                    channel="web",
                    occurred_at=when,
                    received_at=when,
                    message_id=f"be{next(_keys)}",
                )
            )
    Event.objects.bulk_create(events)
    return nps, jane


def test_dashboard_filters_and_live_update(page: Page, live_server, workspace, member, screenshot):
    nps, jane = seed(workspace)
    log_in(page, live_server, member)

    page.goto(f"{live_server.url}/dashboard/")

    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    for metric in ("nps", "csat", "ces", "response_rate"):
        expect(page.locator(f"#kpi-{metric} .value")).not_to_have_text("—")
    expect(page.locator("#kpi-nps .kpi-meta")).to_contain_text("n = 432")
    for chart in ("trend", "breakdown", "churn", "cohorts"):
        expect(page.locator(f"#chart-{chart} .main-svg").first).to_be_visible()
    expect(page.locator("#breakdown-table")).to_contain_text("store")
    # the app channel scored ~1.7 points lower on average in the 90 days before: overall NPS rose
    # by far more than its margin of error on hundreds of answers
    expect(page.locator("#kpi-nps .sig")).to_have_text("Significant change (95%)")
    expect(page.locator("#comments")).to_contain_text("Emails arrive twice")
    expect(page.locator("#comments").get_by_role("link", name="Jane Doe").first).to_have_attribute(
        "href", f"/customers/{jane.pk}/"
    )
    screenshot("overview")

    # a marker on the window survives only if the page is never reloaded
    page.evaluate("window.__sameDocument = true")
    page.get_by_label("Channel", exact=True).select_option("email")

    expect(page).to_have_url(re.compile(r"/dashboard/\?.*channel=email"))
    expect(page.locator("#kpi-nps .value")).to_have_text("−25")
    expect(page.locator("#kpi-nps .kpi-meta")).to_contain_text("n = 12")
    expect(page.locator("#kpi-nps")).to_contain_text("Too few responses: 12 of the 30 needed")
    screenshot("email")

    # a new answer arrives: 4 promoters, 6 detractors of 13 → 100·(4 − 6)/13 = −15.4 → "−15"
    feedback_services.response_save(
        response=Response(
            workspace=workspace,
            survey=nps,
            customer=jane,
            response_key="live-1",
            channel="email",
            touchpoint="Newsletter",
            started_at=datetime.now(UTC) - timedelta(minutes=1),
            submitted_at=datetime.now(UTC),
            completed=True,
            nps_score=10,
            comment="Support sorted my double emails in minutes",
        )
    )

    expect(page.locator("#kpi-nps .value")).to_have_text("−15")
    expect(page.locator("#kpi-nps .kpi-meta")).to_contain_text("n = 13")
    expect(page.locator("#comments li").first).to_contain_text("Support sorted my double emails")
    expect(page.locator("#chart-trend .main-svg").first).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    screenshot("live")


def test_dashboard_bad_filter_says_which(page: Page, live_server, workspace, member, screenshot):
    log_in(page, live_server, member)

    result = page.goto(f"{live_server.url}/dashboard/?from=2025-05-01&to=2025-04-01")

    assert result is not None
    assert result.status == 400
    expect(page.get_by_role("alert")).to_contain_text("from: 2025-05-01 is after to=2025-04-01")
    screenshot("bad-filter")


def test_dashboard_date_out_of_range_marks_the_field(page: Page, live_server, workspace, member):
    log_in(page, live_server, member)

    result = page.goto(f"{live_server.url}/dashboard/?from=0001-01-01&to=9999-12-31")

    assert result is not None and result.status == 400
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("from: expected a date from 1900-01-01 to 2200-12-31")
    expect(page.get_by_label("From")).to_have_attribute("aria-invalid", "true")
    # the message also sits next to the field, which it describes
    expect(page.get_by_label("From")).to_have_accessible_description(
        "expected a date from 1900-01-01 to 2200-12-31, got '0001-01-01'"
    )
    expect(page.get_by_label("To", exact=True)).to_have_attribute("max", "2200-12-31")


def test_typing_a_date_waits_and_a_half_typed_year_is_explained_at_the_field(
    page: Page, live_server, workspace, member, screenshot
):
    seed(workspace)
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/dashboard/")
    expect(page.locator("#chart-trend .main-svg").first).to_be_visible()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/dashboard/panel/" in r.url else None)

    # when: a year typed digit by digit, quickly, in the From field
    field = page.get_by_label("From")
    field.click()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # the year part
    page.keyboard.type("0202", delay=60)  # a change event at every digit

    # then: one request once typing stopped (not one a digit), refused next to the field
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#field-error")).to_contain_text("expected a date from 1900-01-01")
    expect(field).to_have_accessible_description(re.compile("expected a date from 1900-01-01"))
    assert len([url for url in sent if "since=" not in url]) == 1, sent
    screenshot("half-typed-year")

    # and: a whole date clears it
    field.fill((datetime.now(UTC) - timedelta(days=60)).date().isoformat())
    expect(page.locator("#field-error")).to_have_count(0, timeout=15_000)
    expect(page.locator("#kpi-nps .value")).not_to_have_text("—")


def test_one_answer_is_drawn_honestly_and_two_groups_compared(
    page: Page, live_server, workspace, member, screenshot
):
    # given: the seeded channels, plus one single detractor on the "chat" channel yesterday
    seed(workspace)
    on = Survey.objects.get(workspace=workspace, name="Post-purchase NPS")
    response_make(workspace, on, datetime.now(UTC) - timedelta(days=1), channel="chat", nps=0)
    log_in(page, live_server, member)

    # when: chat alone, by day
    page.goto(f"{live_server.url}/dashboard/?channel=chat&by=day")

    # then: the point sits inside a readable axis, with one tick and no "±0.0"
    expect(page.locator("#kpi-nps .value")).to_have_text("−100")
    expect(page.locator("#kpi-nps")).not_to_contain_text("±0")
    ticks = page.locator("#chart-trend .xtick text").all_text_contents()
    assert len(ticks) == len(set(ticks)) == 1, ticks
    y_ticks = [float(t.replace("−", "-")) for t in page.locator("#chart-trend .ytick text").all_text_contents()]  # fmt: skip
    assert max(y_ticks) - min(y_ticks) >= 50, y_ticks
    screenshot("one-answer")

    # when: every channel, and web compared with app directly
    page.goto(f"{live_server.url}/dashboard/")
    page.get_by_label("First group").select_option("web")
    page.get_by_label("Second group").select_option("app")
    page.get_by_role("button", name="Compare").click()

    # then: the difference with its interval and test, and the chat point faded, not a bar
    result = page.locator("#compare-result")
    expect(result).to_contain_text("web")
    expect(result).to_contain_text("95% CI")
    expect(page).to_have_url(re.compile(r"a=web&b=app"))
    bars = page.locator("#chart-breakdown .bars .point")
    expect(bars).to_have_count(3)  # web, app, store; email (n = 12) and chat (n = 1) are points
    expect(page.locator("#chart-breakdown .scatterlayer .point")).to_have_count(2)
    colours = page.locator("#breakdown-table .dot").evaluate_all(
        "dots => dots.map(d => d.dataset.colour)"
    )
    assert len(set(colours)) == len(colours), colours  # one colour a channel
    screenshot("compared")


def test_comments_filter_and_page(page: Page, live_server, workspace, member, screenshot):
    on = survey_make(workspace, name="Notes", kind="nps", public_token="bnotes")
    now = datetime.now(UTC)
    for index in range(20):
        response_make(workspace, on, now - timedelta(hours=index + 1), nps=(2, 10)[index % 2], comment=f"Note {index:02d}")  # fmt: skip
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/dashboard/")

    expect(page.locator("#comments li")).to_have_count(12)
    page.get_by_role("button", name="Older →").click()
    expect(page.locator("#comments li")).to_have_count(8)
    expect(page.locator("#comments")).to_contain_text("Note 19")

    page.get_by_label("Score").select_option("bad")
    expect(page.locator("#comments li")).to_have_count(10)
    expect(page.locator("#comments")).not_to_contain_text("Note 01")
    screenshot("negative-comments")
