"""Theme trends: one theme's weekly share of texts per channel, for every customer or a saved
segment's, counted by hand, intervals checked against statsmodels' Wilson interval."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from statsmodels.stats.proportion import proportion_confint

from cxloop.customers.models import Customer
from cxloop.segments import services as segment_services
from cxloop.text import selectors, trends
from cxloop.text.models import TextAnalysis, TextTheme, Theme
from factories import member_make

# Monday 10 March 2025; the as-of day is the latest text's (Wednesday 12 March)
MONDAY = datetime(2025, 3, 10, 12, tzinfo=UTC)


@pytest.mark.parametrize(("hits", "n"), [(0, 5), (1, 5), (3, 40), (20, 20), (7, 13), (1, 1000)])
def test_wilson_matches_statsmodels(hits, n):
    low, high = trends.wilson(hits, n)
    want = proportion_confint(hits, n, alpha=0.05, method="wilson")
    assert low == pytest.approx(want[0], abs=1e-12)
    assert high == pytest.approx(want[1], abs=1e-12)


def test_wilson_refuses_impossible_counts():
    with pytest.raises(ValueError, match="hits <= n"):
        trends.wilson(3, 2)


def test_channel_trends_group_small_channels_and_leave_empty_weeks_empty():
    # given: 2 weeks; web 3 texts (2 with the theme, in week 0), app 2 (1, week 1), sms 1 (week 1)
    rows = [("web", 0, True), ("web", 0, True), ("web", 0, False)]
    rows += [("app", 1, True), ("app", 1, False), ("", 1, False)]
    # when: at most one channel of its own
    found = trends.channel_trends(rows, weeks=2, max_channels=1)
    # then: all channels, web, then the rest together
    assert [c.channel for c in found] == [trends.ALL, "web", trends.OTHER]
    every, web, other = found
    assert [(w.count, w.total) for w in every.weeks] == [(2, 3), (1, 3)]
    assert (every.overall.count, every.overall.total) == (3, 6)
    assert web.weeks[1].share is None and web.weeks[1].low is None
    assert web.weeks[0].share == pytest.approx(2 / 3)
    assert [(w.count, w.total) for w in other.weeks] == [(0, 0), (1, 3)]
    assert other.overall.share == pytest.approx(1 / 3)
    assert trends.channel_trends([], weeks=2) == []


def _text(workspace, when, channel, theme=None, customer=None):
    text = TextAnalysis.objects.create(
        workspace=workspace, source="survey", channel=channel, written_at=when, text="t",
        score=0.0, label="neutral", version="t", customer=customer,
    )  # fmt: skip
    if theme is not None:
        TextTheme.objects.create(analysis=text, theme=theme, weight=1.0)
    return text


@pytest.fixture
def data(workspace):
    """Week of 3 March: web 4 texts (1 with Delivery, by a pro customer). Week of 10 March: web
    5 texts (3 with Delivery, 2 of them by pro customers), app 2 texts (both with Delivery, one
    by a pro customer); a basic customer wrote the rest with a customer."""
    delivery = Theme.objects.create(workspace=workspace, name="Delivery")
    Theme.objects.create(workspace=workspace, name="Price")
    pro = Customer.objects.create(workspace=workspace, traits={"plan": "pro"})
    basic = Customer.objects.create(workspace=workspace, traits={"plan": "basic"})
    before = MONDAY - timedelta(days=7)
    _text(workspace, before, "web", delivery, pro)
    for _ in range(3):
        _text(workspace, before, "web", None, basic)
    _text(workspace, MONDAY, "web", delivery, pro)
    _text(workspace, MONDAY, "web", delivery, pro)
    _text(workspace, MONDAY, "web", delivery, basic)
    _text(workspace, MONDAY, "web", None, pro)
    _text(workspace, MONDAY + timedelta(days=2), "web", None, basic)
    _text(workspace, MONDAY, "app", delivery, pro)
    _text(workspace, MONDAY, "app", delivery, None)
    segment = segment_services.segment_create(
        workspace=workspace, name="Pro", definition={"all": [{"trait": "plan", "value": "pro"}]}
    )
    return delivery, segment


def test_theme_trend_counts_per_channel_and_week(workspace, data):
    delivery, _ = data
    found = selectors.theme_trend(workspace=workspace, theme=delivery, weeks=2)
    assert [w.isoformat() for w in found.weeks] == ["2025-03-03", "2025-03-10"]
    by_channel = {c.channel: c for c in found.channels}
    assert list(by_channel) == [trends.ALL, "web", "app"]
    assert [(w.count, w.total) for w in by_channel[trends.ALL].weeks] == [(1, 4), (5, 7)]
    assert [(w.count, w.total) for w in by_channel["web"].weeks] == [(1, 4), (3, 5)]
    assert [(w.count, w.total) for w in by_channel["app"].weeks] == [(0, 0), (2, 2)]
    web = by_channel["web"].overall
    assert (web.count, web.total, web.share) == (4, 9, pytest.approx(4 / 9))
    want = proportion_confint(4, 9, method="wilson")
    assert (web.low, web.high) == (pytest.approx(want[0]), pytest.approx(want[1]))


def test_theme_trend_for_a_segment_counts_only_its_customers(workspace, data):
    delivery, segment = data
    from cxloop.segments import selectors as segment_selectors

    members = segment_selectors.segment_member_ids(workspace=workspace, segment_id=segment.pk)
    found = selectors.theme_trend(
        workspace=workspace, theme=delivery, weeks=2, customer_ids=members
    )
    by_channel = {c.channel: c for c in found.channels}
    # pro customers: week 1 web 1/1; week 2 web 2/3, app 1/1
    assert [(w.count, w.total) for w in by_channel[trends.ALL].weeks] == [(1, 1), (3, 4)]
    assert [(w.count, w.total) for w in by_channel["app"].weeks] == [(0, 0), (1, 1)]


def test_theme_trends_api_and_page(client, workspace, data):
    delivery, segment = data
    client.force_login(member_make(workspace=workspace, username="an", role="analyst"))
    # API: the busiest theme by default, the segment applied
    answer = client.get("/api/text/theme-trends", {"weeks": 4, "segment": segment.pk})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["name"] == "Delivery" and body["segment_id"] == segment.pk
    assert len(body["weeks"]) == 4
    assert body["channels"][0]["overall"] == {
        "count": 4, "total": 5, "share": 0.8,
        "low": pytest.approx(proportion_confint(4, 5, method="wilson")[0]),
        "high": pytest.approx(proportion_confint(4, 5, method="wilson")[1]),
    }  # fmt: skip
    # bad input: named, never a 5xx
    assert client.get("/api/text/theme-trends", {"theme": 999999}).status_code == 404
    assert client.get("/api/text/theme-trends", {"segment": 999999}).status_code == 404
    assert client.get("/api/text/theme-trends", {"weeks": 1}).status_code == 422
    assert client.get("/api/text/theme-trends", {"theme": "x"}).status_code == 422
    # the page: the same numbers
    page = client.get(reverse("text-theme-trends"), {"theme": delivery.pk, "weeks": 4})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="trend-channels"' in html and "5/7 · 71.4 %" in html
    # a week's cell breaks only between the share and its interval (narrow screens scroll)
    weeks = html[html.index('id="trend-weeks"') :]
    cell = re.search(
        r'<span class="nowrap">(\d+/\d+ · [\d.]+ %)</span> <span class="muted nowrap">\(', weeks
    )
    assert cell is not None and "%" in cell.group(1)
    missing = client.get(reverse("text-theme-trends"), {"segment": 999999})
    assert missing.status_code == 422 and "segment: no segment 999999" in missing.content.decode()
    page = client.get(reverse("text-theme-trends"), {"weeks": "many"})
    assert page.status_code == 422 and "weeks:" in page.content.decode()
