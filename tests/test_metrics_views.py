"""The dashboard pages through Django's test client (the browser test drives the live updates)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from django.test import Client

from cxloop.customers.models import Customer
from cxloop.events.models import Event
from cxloop.events.services import events_outbox_add
from factories import response_make, survey_make

pytestmark = pytest.mark.django_db

_keys = count()


def ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


@pytest.fixture
def client_in(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


def seed(workspace) -> Customer:
    """40 web answers (30 promoters) and 10 email answers (all detractors) in the last 30 days."""
    jane = Customer.objects.create(
        workspace=workspace, display_name="Jane Doe", traits={"plan": "pro"}
    )
    on = survey_make(workspace)
    for index in range(40):
        response_make(
            workspace, on, ago(1 + index % 20), nps=10 if index < 30 else 8, channel="web", csat=5
        )
    for index in range(10):
        response_make(workspace, on, ago(2 + index), nps=2, channel="email", ces=6, customer=jane)
    response_make(workspace, on, ago(0.5), nps=3, channel="email", comment="Parcel arrived broken", customer=jane)  # fmt: skip
    response_make(workspace, on, ago(0.2), nps=9, completed=False)
    return jane


def kpi(html: str, metric: str) -> str:
    match = re.search(rf'id="kpi-{metric}".*?<span class="value">([^<]*)</span>', html, re.S)
    assert match, f"no {metric} card"
    return match.group(1)


def test_dashboard_shows_headlines_charts_and_comments(client_in, workspace):
    jane = seed(workspace)

    response = client_in.get("/dashboard/")

    assert response.status_code == 200
    html = response.content.decode()
    # 51 NPS answers: 30 promoters, 11 detractors → 100·19/51 = 37.25 → "+37"
    assert kpi(html, "nps") == "+37"
    assert kpi(html, "csat") == "100.0%"  # 40 answers, all 5s
    assert 'id="kpi-ces"' in html and "too-few" in re.search(r'<article class="kpi[^"]*" id="kpi-ces"', html).group(0)  # fmt: skip
    assert kpi(html, "response_rate") == "98.1%"  # 51 of 52 started were completed
    assert "Too few responses: 10 of the 30 needed" in html
    assert "Parcel arrived broken" in html
    assert f'href="/customers/{jane.pk}/"' in html
    assert "plotly/plotly.min.js" in html
    for figure in ("fig-trend", "fig-breakdown"):
        source = re.search(rf'<script type="application/json" id="{figure}">(.*?)</script>', html, re.S)  # fmt: skip
        assert json.loads(source.group(1))["data"], figure


def test_filters_change_the_numbers(client_in, workspace):
    seed(workspace)

    response = client_in.get("/dashboard/", {"channel": "email", "split": "trait:plan"})

    html = response.content.decode()
    assert kpi(html, "nps") == "−100"  # 11 detractors
    assert "by trait “plan”" in html


def test_panel_answers_204_until_a_response_arrives(client_in, workspace):
    on = survey_make(workspace)
    response_make(workspace, on, ago(1), nps=10)
    first = client_in.get("/dashboard/panel/", HTTP_HX_REQUEST="true")
    since = re.search(r'data-fingerprint="([^"]+)"', first.content.decode()).group(1)

    unchanged = client_in.get("/dashboard/panel/", {"since": since})
    response_make(workspace, on, ago(0), nps=0)
    changed = client_in.get("/dashboard/panel/", {"since": since})

    assert first.status_code == 200 and first["HX-Push-Url"] == "/dashboard/"
    assert unchanged.status_code == 204 and unchanged.content == b""
    assert changed.status_code == 200
    assert 'data-fingerprint="' in changed.content.decode()
    assert since not in changed.content.decode()


def test_bad_filter_is_a_400_naming_the_parameter(client_in, workspace):
    page = client_in.get("/dashboard/", {"from": "2025-13-01"})
    panel = client_in.get("/dashboard/panel/", {"split": "colour"})

    assert page.status_code == 400
    assert "<strong>from</strong>: expected a date YYYY-MM-DD" in page.content.decode()
    assert panel.status_code == 400
    assert "<strong>split</strong>" in panel.content.decode()


@pytest.mark.usefixtures("each_engine")
def test_dashboard_shows_churn_and_cohorts(client_in, workspace):
    now = datetime.now(UTC)
    people = [Customer.objects.create(workspace=workspace) for _ in range(3)]
    for months_ago, who in ((4, people), (3, people[:2]), (2, people[:1])):
        year, month = divmod(now.year * 12 + now.month - 1 - months_ago, 12)
        when = datetime(year, month + 1, 15, tzinfo=UTC)  # mid-month, months_ago months back
        for person in who:
            event = Event.objects.create(
                workspace=workspace,
                customer=person,
                type="track",
                name="Visit",
                channel="web",
                occurred_at=when,
                received_at=when,
                message_id=f"e{next(_keys)}",
            )
            events_outbox_add(  # as ingestion does, for the analytics engine
                workspace_id=workspace.pk, first_event_id=event.pk, last_event_id=event.pk
            )

    html = client_in.get("/dashboard/").content.decode()

    assert 'id="fig-churn"' in html and 'id="fig-cohorts"' in html
    # the table says it shows fewer months than the chart when it does
    caption = re.search(r'<caption class="table-note">(.*?)</caption>', html).group(1)
    rows = html[html.index('id="churn-table"') :].split("</table>")[0].count('<th scope="row">')
    fewer = re.fullmatch(r"The latest 6 of the chart's (\d+) months", caption)
    assert (
        (rows == 6 and int(fewer.group(1)) > 6) if fewer else caption == "Each month of the chart"
    )
    assert re.search(r"<td class=\"num\">3</td><td class=\"num\">2</td><td class=\"num\">33.3%</td>", html)  # fmt: skip
    # a month with nobody active has no churn rate: a dash, not a bare "%"
    assert re.search(r"<td class=\"num\">0</td><td class=\"num\">0</td><td class=\"num\">—</td>", html)  # fmt: skip
    assert '<td class="num">%</td>' not in html


def test_dashboard_needs_login_and_shows_only_own_workspace(client, member, workspace, other_workspace):  # fmt: skip
    response_make(
        other_workspace,
        survey_make(other_workspace, name="Globex survey"),
        ago(1),
        nps=0,
        comment="secret",
    )

    anonymous = client.get("/dashboard/")
    client.force_login(member)
    html = client.get("/dashboard/").content.decode()

    assert anonymous.status_code == 302
    assert "secret" not in html and "Globex survey" not in html
    assert kpi(html, "nps") == "—"


def test_breakdown_marks_significance_after_holm_and_says_so(client_in, workspace):
    # CSAT by channel, 60 answers each: web 40, email 28, store 32 satisfied. Web against the
    # rest alone: pooled z p = .034; three groups tested, Holm: .102 → not significant
    on = survey_make(workspace)
    for channel, satisfied in (("web", 40), ("email", 28), ("store", 32)):
        for index in range(60):
            response_make(workspace, on, ago(1 + index % 20), csat=5 if index < satisfied else 2, channel=channel)  # fmt: skip

    html = client_in.get("/dashboard/", {"metric": "csat", "split": "channel"}).content.decode()

    assert "p-values adjusted for 3 comparisons (Holm)." in html
    table = re.search(r'<table[^>]*id="breakdown-table".*?</table>', html, re.S).group(0)
    assert 'class="sig yes"' not in table  # no row marked significant
    assert 'title="p = 0.102 adjusted (Holm; 0.034 alone)"' in table
