"""Trends: events and unique customers per period, breakdowns, funnel conversion per period, on
every engine (``each_engine``), with counts worked out by hand from the events below."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from statsmodels.stats.proportion import proportion_confint

from cxloop.analytics import selectors as analytics
from cxloop.analytics.trendwalk import OTHER
from cxloop.journeys.definitions import Condition, RuleSpec
from cxloop.metrics import trends
from factories import customer_id, ingest, track

engines = pytest.mark.usefixtures("each_engine")  # the same counts from every engine

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


@engines
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


@engines
def test_hourly_periods(shop):
    _, cells = counts(shop, [CHECKOUT], "hour")

    assert cells[(0, at(3, 10), "")] == (1, 1)
    assert cells[(0, at(3, 11), "")] == (2, 1)
    assert len(cells) == 5  # 3rd 10h, 3rd 11h, 4th 9h, 5th 0h, 10th 8h


@engines
def test_property_filter_and_channel(shop):
    big = RuleSpec("Order Completed", conditions=(Condition("amount", "gt", 20),))
    web_checkout = RuleSpec("Checkout Started", channel="app")

    _, cells = counts(shop, [big, web_checkout], "week")

    assert cells == {(0, day(3), ""): (2, 2), (1, day(3), ""): (2, 1)}


@engines
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


@engines
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


@engines
def test_no_events_in_range(shop):
    found = analytics.trend_counts(
        workspace=shop, series=[ORDER], by="day", since=day(20), until=day(25)
    )
    assert (found.groups, found.cells) == ([], {})


@engines
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


# ---------------------------------------------------------------------------- the selectors

NOW = at(20)


@engines
def test_report_fills_every_period_and_applies_formulas(shop):
    report = trends.trend_report(
        workspace=shop, series=[CHECKOUT, ORDER], unit="week", measure="customers",
        date_from=SINCE.date(), date_to=date(2025, 3, 16), formulas=["B / A", "A - B"], now=NOW,
    )  # fmt: skip

    # weeks of 24 Feb (holding 1 March), 3 and 10 March
    assert [p.date() for p in report.periods] == [date(2025, 2, 24), day(3).date(), day(10).date()]
    assert [(x.key, x.customers, x.events) for x in report.lines] == [
        ("A", [0, 3, 1], [0, 5, 1]),
        ("B", [0, 2, 2], [0, 2, 2]),
    ]
    ratio, difference = report.formulas
    assert ratio.values == [None, pytest.approx(2 / 3), 2.0]  # 0 / 0 is empty, not an error
    assert difference.values == [0.0, 1.0, -1.0]
    header, rows = trends.trend_table(report)
    assert header == ["period", "A: Checkout Started", "B: Order Completed", "B / A", "A - B"]
    assert rows[0] == ["2025-02-24", 0, 0, None, 0.0]


@engines
def test_report_breakdown_columns_and_formulas_per_group(shop):
    report = trends.trend_report(
        workspace=shop, series=[CHECKOUT, ORDER], unit="month", date_from=SINCE.date(),
        date_to=UNTIL.date(), breakdown="channel", top=1, formulas=["B / A"], now=NOW,
    )  # fmt: skip

    header, rows = trends.trend_table(report)
    assert header == [
        "period",
        "A: Checkout Started · web", "B: Order Completed · web", "B / A · web",
        "A: Checkout Started · other", "B: Order Completed · other", "B / A · other",
    ]  # fmt: skip
    assert rows == [["2025-03", 4, 3, 0.75, 2, 1, 0.5]]


@engines
def test_default_range_is_the_last_90_days_as_of_the_latest_event_for_history(shop):
    span = trends.trend_range(workspace=shop, now=datetime(2026, 1, 1, tzinfo=UTC))

    assert span.as_of == at(11, 12)  # u4's order, the latest event: imported history
    assert (span.first, span.last) == (date(2024, 12, 12), date(2025, 3, 11))
    assert span.until == at(11, 12) + timedelta(microseconds=1)
    live = trends.trend_range(workspace=shop, now=at(12))
    assert live.as_of == at(12) and "live" in live.as_of_reason


@pytest.mark.parametrize(
    ("text", "problem"),
    [("B / ", "ends too early"), ("C / A", "no series C"), ("A % 2", "unexpected '%'"),
     ("(A + B", "missing ')'"), ("A B", "unexpected 'B'"), ("", "empty")],
)  # fmt: skip
def test_bad_formulas_say_what_is_wrong(text, problem):
    with pytest.raises(trends.TrendQueryError, match=re.escape(problem)):
        trends.formula_parse(text, "AB")


def test_formula_arithmetic():
    formula = trends.formula_parse("(a + B) * 100 / -C", "ABC")
    assert formula({"A": 1.0, "B": 3.0, "C": 8.0}) == -50.0
    assert formula({"A": 1.0, "B": 3.0, "C": 0.0}) is None


@engines
def test_conversion_trend_with_wilson_intervals(shop):
    found = trends.conversion_trend(
        workspace=shop, steps=[CHECKOUT, ORDER], window=timedelta(days=1), unit="week",
        date_from=SINCE.date(), date_to=UNTIL.date(), now=NOW,
    )  # fmt: skip

    points = [(p.period.date(), p.entered, p.converted, p.complete) for p in found.points]
    assert points == [
        (date(2025, 2, 24), 0, 0, True),
        (date(2025, 3, 3), 3, 1, True),  # u1 ordered; u2 and u5 (two days later) did not
        (date(2025, 3, 10), 1, 1, False),  # its window ends after the latest event (the 11th)
    ]
    low, high = proportion_confint(1, 3, alpha=0.05, method="wilson")
    rate = found.points[1].rate
    assert rate.value == pytest.approx(100 / 3)
    assert (rate.low, rate.high) == (pytest.approx(100 * low), pytest.approx(100 * high))
    assert found.points[0].rate.value is None


@engines
def test_bad_ranges_are_refused(shop):
    with pytest.raises(trends.TrendQueryError, match="after to"):
        trends.trend_range(workspace=shop, date_from=day(5).date(), date_to=day(4).date())
    with pytest.raises(trends.TrendQueryError, match="at most 1000"):
        trends.trend_report(
            workspace=shop, series=[ORDER], unit="hour", date_from=date(2025, 1, 1),
            date_to=date(2025, 3, 1),
        )  # fmt: skip


# ---------------------------------------------------------------------------- the API


def test_api_trend_matches_the_selector(client, member, shop):
    client.force_login(member)

    response = client.post(
        "/api/trends",
        {"series": ["Checkout Started", {"event": "Order Completed", "label": "Orders"}],
         "by": "week", "date_from": "2025-03-01", "date_to": "2025-03-16",
         "formulas": ["B / A"], "measure": "customers"},
        content_type="application/json",
    )  # fmt: skip

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["periods"] == ["2025-02-24", "2025-03-03", "2025-03-10"]
    assert [(x["series"], x["label"], x["customers"]) for x in body["lines"]] == [
        ("A", "Checkout Started", [0, 3, 1]),
        ("B", "Orders", [0, 2, 2]),
    ]
    assert body["formulas"][0]["values"] == [None, pytest.approx(2 / 3), 2.0]
    assert body["range"]["as_of_reason"].startswith("the latest event")


@pytest.mark.parametrize(
    ("payload", "status", "says"),
    [({"series": ["A"], "formulas": ["B / A"]}, 422, "no series B"),
     ({"series": [""]}, 422, "series[0].event"),
     ({"series": ["A"], "date_from": "2025-03-05", "date_to": "2025-03-01"}, 422, "after to"),
     ({"series": ["A"], "breakdown": "city"}, 422, "breakdown"),
     ({"series": ["A"], "top": 0}, 422, "top"),
     ({"series": []}, 422, "series")],
)  # fmt: skip
def test_api_trend_bad_input_is_a_clear_4xx(client, member, shop, payload, status, says):
    client.force_login(member)
    response = client.post("/api/trends", payload, content_type="application/json")
    assert response.status_code == status
    assert says in response.content.decode()


def test_api_conversion(client, member, shop):
    client.force_login(member)
    response = client.post(
        "/api/trends/conversion",
        {"steps": ["Checkout Started", "Order Completed"], "window_seconds": 86400,
         "by": "week", "date_from": "2025-03-01", "date_to": "2025-03-15"},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    points = response.json()["points"]
    assert [(p["period"], p["entered"], p["converted"]) for p in points] == [
        ("2025-02-24", 0, 0), ("2025-03-03", 3, 1), ("2025-03-10", 1, 1),
    ]  # fmt: skip
    assert points[1]["low"] == pytest.approx(100 * proportion_confint(1, 3, method="wilson")[0])


# ---------------------------------------------------------------------------- the pages

PAGE = (
    "/trends/?event=Checkout+Started&event=Order+Completed&by=week&measure=customers"
    "&date_from=2025-03-01&date_to=2025-03-16&formula=B+%2F+A"
)


def test_page_shows_the_table_the_selector_gives_and_exports_it(client, member, shop):
    client.force_login(member)

    page = client.get(PAGE)
    export = client.get(PAGE + "&format=csv")

    assert page.status_code == 200
    html = page.content.decode()
    assert "measured as of" in html and "the latest event (imported history)" in html
    assert '<th scope="row" class="nowrap">2025-03-03</th><td class="num">3</td>' in html
    assert export["Content-Type"].startswith("text/csv")
    assert export.content.decode().splitlines() == [
        "period,A: Checkout Started,B: Order Completed,B / A",
        "2025-02-24,0,0,",
        "2025-03-03,3,2,0.666667",
        "2025-03-10,1,2,2.0",
    ]


@pytest.mark.parametrize(
    ("query", "says"),
    [("event=A&formula=C*2", "no series C"), ("event=A&date_from=2025-13-01", "From: Enter a"),
     ("event=A&by=year", "By: Select a valid choice"), ("event=A&breakdown=property", "name the"),
     ("event=A&prop=plan&op=eq", "needs a value"), ("event=A&top=99", "Top: 99 is outside")],
)  # fmt: skip
def test_page_bad_input_is_a_clear_422(client, member, shop, query, says):
    client.force_login(member)
    response = client.get(f"/trends/?{query}")
    assert response.status_code == 422
    assert says in response.content.decode()


def test_conversion_page(client, member, shop):
    client.force_login(member)
    response = client.get(
        "/trends/conversion/?step=Checkout+Started&step=Order+Completed&window_days=1&by=week"
        "&date_from=2025-03-01&date_to=2025-03-15"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert '<td class="num">3</td><td class="num">1</td>' in html
    assert "33.3%" in html
    only_one = client.get("/trends/conversion/?step=Checkout+Started")
    assert only_one.status_code == 422
    assert "at least 2 steps" in only_one.content.decode()


# ---------------------------------------------------------------------------- random histories


def test_random_histories_get_the_same_trends_from_both_engines(workspace, chdb_engine):
    """Ties, repeats, channels, property values of every JSON kind (text, whole and decimal
    numbers, booleans, null, absent, nested), conditions: both engines give the same cells."""
    from cxloop.analytics.services import engine_drain
    from cxloop.analytics.sqlengine import SqlEngine

    rng = random.Random(20261130)
    kinds = ["pro", "basic", "", 3, 2.5, 100000.0, True, None, {"x": 1}, [1, "a"], "Pro"]
    messages = []
    for person in range(50):
        moment = datetime(2025, 2, 20, tzinfo=UTC) + timedelta(
            minutes=rng.randrange(0, 60 * 24 * 40)
        )
        for n in range(rng.randrange(1, 10)):
            moment += timedelta(minutes=rng.choice([0, 0, 1, 45, 60 * 7, 60 * 30]))
            props = {} if rng.random() < 0.2 else {"plan": rng.choice(kinds)}
            if rng.random() < 0.5:
                props["amount"] = rng.choice([1, 5, 20, 50, "12", "x"])
            messages.append(
                track(f"p{person}", rng.choice(["A", "B", "C"]), moment,
                      channel=rng.choice(["web", "app", "store"]),
                      message_id=f"r{person}-{n}", **props)
            )  # fmt: skip
    ingest(workspace, messages, received_at=datetime(2025, 4, 30, tzinfo=UTC))
    while engine_drain(engine=chdb_engine):
        pass
    sql = SqlEngine()
    series = [
        RuleSpec("A"),
        RuleSpec("B", channel="web"),
        RuleSpec("A", conditions=(Condition("amount", "gt", 10),)),
        RuleSpec("C", conditions=(Condition("plan", "eq", "pro"),)),
    ]
    for by in ("hour", "day", "week", "month"):
        for breakdown, top in (
            ("", 5),
            ("channel", 2),
            ("property:plan", 4),
            ("property:plan.x", 1),
        ):
            ask = {"workspace_id": workspace.pk, "series": series, "by": by, "since": SINCE,
                   "until": datetime(2025, 3, 20, tzinfo=UTC), "breakdown": breakdown, "top": top}  # fmt: skip
            a, b = sql.trend_counts(**ask), chdb_engine.trend_counts(**ask)
            assert (b.groups, b.cells) == (a.groups, a.cells), (by, breakdown)
        # by customer: some in no group, some in one, some in two (as with several segments)
        people = [customer_id(workspace, f"p{n}") for n in range(50)]
        mapping = {c: rng.choice([(), ("x",), ("y",), ("x", "y"), ("z",)]) for c in people}
        for top in (1, 5):
            ask = {"workspace_id": workspace.pk, "series": series, "by": by, "since": SINCE,
                   "until": datetime(2025, 3, 20, tzinfo=UTC), "breakdown": "segments:1",
                   "top": top, "customer_groups": mapping}  # fmt: skip
            a, b = sql.trend_counts(**ask), chdb_engine.trend_counts(**ask)
            assert (b.groups, b.cells) == (a.groups, a.cells), (by, "customer", top)
        for window in (timedelta(hours=2), None):
            ask = {"workspace_id": workspace.pk, "steps": series[:2], "window": window, "by": by,
                   "since": SINCE, "until": datetime(2025, 3, 20, tzinfo=UTC),
                   "as_of": datetime(2025, 3, 25, tzinfo=UTC)}  # fmt: skip
            assert chdb_engine.funnel_trend(**ask) == sql.funnel_trend(**ask), (by, window)


# ---------------------------------------------------------------------------- hostile input

HUGE = "9223372036854775808"
HOSTILE = [HUGE, "-1", "NaN", "abc", "0001-01-01", "9999-12-31", "x" * 5000, "a\x00b", ["1", "2"]]
HOSTILE_PAGES = {
    "/trends/": (
        {"event": ["Checkout Started"]},
        {"event": "text", "channel": "text", "prop": "text", "op": "choice", "value": "text",
         "formula": "text", "by": "choice", "measure": "choice", "chart": "choice",
         "breakdown": "choice", "breakdown_property": "text", "top": "int", "date_from": "date",
         "date_to": "date", "format": "choice"},
    ),
    "/trends/conversion/": (
        {"step": ["Checkout Started", "Order Completed"]},
        {"step": "text", "step_channel": "text", "window_days": "int", "by": "choice",
         "date_from": "date", "date_to": "date"},
    ),
}  # fmt: skip


def _refused(name: str, kind: str, value: str | list[str]) -> bool:
    if isinstance(value, list):
        return False
    if kind == "text":
        limit = 200 if name in ("formula", "breakdown_property") else 500
        parses = name == "formula" and value in (HUGE, "-1", "0001-01-01", "9999-12-31")
        return "\x00" in value or len(value) > limit or (name == "formula" and not parses)
    return value not in (("-1",) if kind == "choice" and name == "op" else ())


def _hostile_cases():
    for url, (_, params) in HOSTILE_PAGES.items():
        for name, kind in params.items():
            for value in HOSTILE:
                label = value if isinstance(value, list) else value[:20].replace("\x00", "NUL")
                yield pytest.param(url, name, kind, value, id=f"{url}{name}={label}")


@pytest.mark.parametrize(("url", "name", "kind", "value"), list(_hostile_cases()))
def test_hostile_query_gives_no_5xx_and_names_the_bad_value(
    client, member, shop, url, name, kind, value
):
    client.force_login(member)
    response = client.get(url, {**HOSTILE_PAGES[url][0], name: value})

    assert response.status_code < 500
    html = response.content.decode()
    if _refused(name, kind, value):
        assert 'role="alert"' in html, f"no error shown for {name}={value!r}"
        assert response.status_code == 422
        if f'name="{name}"' in html:  # a field on the page (format is only in the CSV link)
            assert 'aria-invalid="true"' in html, f"{name} not marked invalid"
