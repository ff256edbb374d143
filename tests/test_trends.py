"""Trends: events and unique customers per period, breakdowns, funnel conversion per period, on
every engine (``each_engine``), with counts worked out by hand from the events below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cxloop.analytics import selectors as analytics
from cxloop.analytics.trendwalk import OTHER
from cxloop.journeys.definitions import Condition, RuleSpec
from factories import ingest, track

pytestmark = pytest.mark.usefixtures("each_engine")

CHECKOUT, ORDER = RuleSpec("Checkout Started"), RuleSpec("Order Completed")
SINCE, UNTIL = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 15, tzinfo=UTC)


def at(day: int, hour: int = 12, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


def day(d: int, month: int = 3) -> datetime:
    return datetime(2025, month, d, tzinfo=UTC)


@pytest.fixture
def shop(workspace):
    """u1 checks out and orders on 3 March, checks out again on the 4th; u2 checks out twice
    on the 3rd on mobile; u3 checks out on the 10th and orders by email an hour later; u4 checked
    out in February (before the range) and orders on the 11th; u5 orders two days after its
    checkout on the 5th."""
    ingest(
        workspace,
        [
            track("u1", "Checkout Started", at(3, 10)),
            track("u1", "Order Completed", at(3, 10, 30), plan="pro", amount=50),
            track("u1", "Checkout Started", at(4, 9)),
            track("u2", "Checkout Started", at(3, 11), channel="app"),
            track("u2", "Checkout Started", at(3, 11, 5), channel="app"),
            track("u3", "Checkout Started", at(10, 8), plan="basic"),
            track("u3", "Order Completed", at(10, 9), channel="email", plan="basic", amount=10),
            track("u4", "Checkout Started", at(28, month=2)),
            track("u4", "Order Completed", at(11), amount=2),
            track("u5", "Checkout Started", at(5, 0)),
            track("u5", "Order Completed", at(7, 0), plan="pro", amount=25),
        ],
        received_at=at(20),
    )
    return workspace


def counts(workspace, series, by, **options):
    found = analytics.trend_counts(
        workspace=workspace, series=series, by=by, since=SINCE, until=UNTIL, **options
    )
    return found.groups, dict(found.cells)


def test_daily_and_weekly_events_and_unique_customers(shop):
    groups, cells = counts(shop, [CHECKOUT, ORDER], "day")

    assert groups == [""]
    assert cells == {
        (0, day(3), ""): (3, 2),  # u1 once, u2 twice
        (0, day(4), ""): (1, 1),
        (0, day(5), ""): (1, 1),
        (0, day(10), ""): (1, 1),
        (1, day(3), ""): (1, 1),
        (1, day(7), ""): (1, 1),
        (1, day(10), ""): (1, 1),
        (1, day(11), ""): (1, 1),
    }
    _, weekly = counts(shop, [CHECKOUT, ORDER], "week")
    assert weekly == {  # weeks start on Monday: 3 and 10 March 2025
        (0, day(3), ""): (5, 3),
        (0, day(10), ""): (1, 1),
        (1, day(3), ""): (2, 2),
        (1, day(10), ""): (2, 2),
    }
    _, monthly = counts(shop, [ORDER], "month")
    assert monthly == {(0, day(1), ""): (4, 4)}


def test_hourly_periods(shop):
    _, cells = counts(shop, [CHECKOUT], "hour")

    assert cells[(0, at(3, 10), "")] == (1, 1)
    assert cells[(0, at(3, 11), "")] == (2, 1)
    assert len(cells) == 5  # 3rd 10h, 3rd 11h, 4th 9h, 5th 0h, 10th 8h


def test_property_filter_and_channel(shop):
    big = RuleSpec("Order Completed", conditions=(Condition("amount", "gt", 20),))
    web_checkout = RuleSpec("Checkout Started", channel="app")

    _, cells = counts(shop, [big, web_checkout], "week")

    assert cells == {(0, day(3), ""): (2, 2), (1, day(3), ""): (2, 1)}


def test_breakdown_by_channel_keeps_the_top_and_counts_the_rest_as_other(shop):
    groups, cells = counts(shop, [CHECKOUT, ORDER], "week", breakdown="channel", top=1)

    # events in range: web 7 (u1 ×3, u3, u4, u5 ×2), app 2, email 1
    assert groups == ["web", OTHER]
    assert cells == {
        (0, day(3), "web"): (3, 2),
        (0, day(3), OTHER): (2, 1),
        (0, day(10), "web"): (1, 1),
        (1, day(3), "web"): (2, 2),
        (1, day(10), "web"): (1, 1),
        (1, day(10), OTHER): (1, 1),
    }


def test_breakdown_by_property_text(shop):
    groups, cells = counts(shop, [ORDER], "month", breakdown="property:plan", top=5)

    assert groups == ["pro", "", "basic"]  # 2 pro, 1 without a plan, 1 basic; ties by value
    assert cells == {
        (0, day(1), "pro"): (2, 2),
        (0, day(1), ""): (1, 1),
        (0, day(1), "basic"): (1, 1),
    }
    groups, cells = counts(shop, [ORDER], "month", breakdown="property:amount", top=2)
    assert groups == ["10", "2", OTHER]  # numbers as their JSON text, ordered as text
    assert cells[(0, day(1), OTHER)] == (2, 2)


def test_no_events_in_range(shop):
    found = analytics.trend_counts(
        workspace=shop, series=[ORDER], by="day", since=day(20), until=day(25)
    )
    assert (found.groups, found.cells) == ([], {})


def test_funnel_conversion_per_period_of_entering(shop):
    daily = analytics.funnel_trend(
        workspace=shop, steps=[CHECKOUT, ORDER], window=timedelta(days=1), by="day",
        since=SINCE, until=UNTIL, as_of=UNTIL,
    )  # fmt: skip

    # 3rd: u1 ordered 30 min later, u2 never · 4th: u1 never again · 5th: u5 took two days
    # 10th: u3 ordered · u4 entered in February, before the range
    assert daily == {day(3): (2, 1), day(4): (1, 0), day(5): (1, 0), day(10): (1, 1)}

    weekly = analytics.funnel_trend(
        workspace=shop, steps=[CHECKOUT, ORDER], window=None, by="week",
        since=SINCE, until=UNTIL, as_of=at(10, 8, 30),
    )  # fmt: skip
    # no window: u5 counts; as of 8:30 on the 10th u3 has not ordered yet
    assert weekly == {day(3): (3, 2), day(10): (1, 0)}
