"""What changed in a funnel's conversion: the overall test (statsmodels), the decomposition by
channel, trait and event presence (hand-computed contributions), Holm over every candidate, the
"new since" day, and the sentences. Counts on every engine (``each_engine``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils.html import escape
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from cxloop.analytics import selectors as analytics_selectors
from cxloop.journeys.definitions import RuleSpec
from cxloop.metrics import funnelchange
from cxloop.metrics.trends import TrendQueryError
from factories import identify, ingest, track

engines = pytest.mark.usefixtures("each_engine")

STEPS = [RuleSpec("Checkout Started"), RuleSpec("Order Completed")]
WINDOW = timedelta(days=1)
PERIOD = {"date_from": date(2025, 3, 8), "date_to": date(2025, 3, 14)}


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def _customers(messages, prefix, channel, days, count, converting, *, declined=0, won=0):
    """``count`` customers entering on ``days`` (round robin); the first ``declined`` see Card
    Declined, ``won`` of them still order; of the others ``converting`` order. Even ones are
    tier gold, odd ones silver (web only; app customers have no tier)."""
    for i in range(count):
        user = f"{prefix}-{i}"
        day = days[i % len(days)]
        start = at(day, 10, i % 50)
        messages.append(track(user, "Checkout Started", start, channel=channel))
        if channel == "web":
            messages.append(identify(user, {"tier": "gold" if i % 2 == 0 else "silver"}, start))
        if i < declined:
            messages.append(
                track(user, "Card Declined", start + timedelta(minutes=2), channel=channel)
            )
            orders = i < won
        else:
            orders = (i - declined) < converting
        if orders:
            messages.append(
                track(user, "Order Completed", start + timedelta(minutes=9), channel=channel)
            )


def incident_messages() -> list[dict]:
    """1–7 March: web 80 entrants (60 order), app 40 (30). 8–14 March: web 80, of whom 30 see
    Card Declined (first ever on 8 March; 2 of them order) and 38 of the other 50 order; app 40
    (30). A page view on the 20th puts the as-of time after the range."""
    messages: list[dict] = []
    before, after = range(1, 8), range(8, 15)
    _customers(messages, "wb", "web", before, 80, 60)
    _customers(messages, "ab", "app", before, 40, 30)
    _customers(messages, "wa", "web", after, 80, 38, declined=30, won=2)
    _customers(messages, "aa", "app", after, 40, 30)
    messages.append(track("late", "Page Viewed", at(20)))
    return messages


@pytest.fixture
def shop(workspace):
    ingest(workspace, incident_messages(), received_at=at(21))
    return workspace


@engines
def test_event_first_seen_is_the_first_day_a_name_appears(shop):
    seen = analytics_selectors.event_first_seen(
        workspace=shop, names=["Card Declined", "Checkout Started", "Nothing"]
    )

    assert seen == {"Card Declined": at(8, 10, 2), "Checkout Started": at(1, 10, 0)}
    assert analytics_selectors.event_first_seen(workspace=shop, names=[]) == {}


@engines
def test_overall_change_is_statsmodels_two_proportion_test(shop):
    found = funnelchange.funnel_change(workspace=shop, steps=STEPS, window=WINDOW, **PERIOD)

    assert (found.periods.previous.first, found.periods.previous.last) == (
        date(2025, 3, 1),
        date(2025, 3, 7),
    )
    assert (found.before_entered, found.before_converted) == (120, 90)
    assert (found.after_entered, found.after_converted) == (120, 70)
    assert found.before_rate == 75.0
    assert found.after_rate == pytest.approx(100 * 70 / 120)
    _, expected = proportions_ztest([70, 90], [120, 120])
    assert found.p_value == pytest.approx(expected)
    assert found.significant


@engines
def test_channels_and_traits_decompose_the_change_into_rate_and_mix(shop):
    found = funnelchange.funnel_change(
        workspace=shop, steps=STEPS, window=WINDOW, trait="tier", **PERIOD
    )
    delta = 100 * 70 / 120 - 75

    channels = {g.label: g for g in found.of("channel")}
    web, app = channels["web"], channels["app"]
    assert (web.before_entered, web.before_converted, web.after_entered, web.after_converted) == (
        80, 60, 80, 40,
    )  # fmt: skip
    # shares 2/3 both times: all rate, no mix; app did not move
    assert web.rate_effect == pytest.approx(100 * (2 / 3) * (0.5 - 0.75))
    assert web.mix_effect == pytest.approx(0)
    assert app.contribution == pytest.approx(0)
    assert sum(g.contribution for g in found.of("channel")) == pytest.approx(delta)
    _, p_web = proportions_ztest([40, 60], [80, 80])
    assert web.p_value == pytest.approx(p_web)

    tiers = {g.label: g for g in found.of("trait")}
    assert set(tiers) == {"gold", "silver", "(none)"}
    # gold: the even web customers; 15 of the 30 decliners (1 orders: i = 0), 19 of the others
    assert (tiers["gold"].after_entered, tiers["gold"].after_converted) == (40, 1 + 19)
    assert (tiers["gold"].before_entered, tiers["gold"].before_converted) == (40, 30)
    assert tiers["(none)"].after_entered == 40
    assert sum(g.contribution for g in found.of("trait")) == pytest.approx(delta)


@engines
def test_event_presence_names_the_incident_with_its_gap_and_new_since_day(shop):
    found = funnelchange.funnel_change(workspace=shop, steps=STEPS, window=WINDOW, **PERIOD)

    [declined] = found.of("event")
    assert declined.label == "Card Declined"
    assert (declined.after_entered, declined.after_converted) == (30, 2)
    assert (declined.others_entered, declined.others_converted) == (90, 68)
    assert (declined.before_entered, declined.before_converted) == (0, 0)
    assert declined.new_since == date(2025, 3, 8)
    # the points lost to decliners converting worse than the rest: 30/120 · (68/90 − 2/30)
    assert declined.contribution == pytest.approx(-100 * 0.25 * (68 / 90 - 2 / 30))
    assert declined.p_value == pytest.approx(fisher_exact([[2, 28], [68, 22]])[1])

    tested = [g for g in found.groups if g.p_value is not None]
    expected = multipletests([g.p_value for g in tested], method="holm")[1]
    assert [g.p_adjusted for g in tested] == pytest.approx(list(expected))
    assert found.tested == len(tested) == 3  # web, app, Card Declined

    assert found.sentences[0] == (
        "Conversion from Checkout Started to Order Completed fell from 75 % to 58 % "
        f"(p = {found.p_value:.3f}; 120 and 120 customers entered)."
    )
    assert found.sentences[1] == (
        "Customers who did Card Declined (new since 8 March) convert at 7 % against 76 % for "
        "the others (25 % of those entering; p < 0.001, Holm-adjusted); the conversion lost to "
        "that gap grew by 17.2 points (the fall: 16.7 points)."
    )
    assert found.sentences[2] == (
        f"Channel web: 75 % → 50 % (p = {channels_web(found).p_adjusted:.3f}, Holm-adjusted); "
        "16.7 points of the change (the fall: 16.7 points; own rate −16.7, mix 0.0)."
    )


def channels_web(found):
    return next(g for g in found.of("channel") if g.label == "web")


@engines
def test_a_chosen_compared_range_and_no_change(shop):
    found = funnelchange.funnel_change(
        workspace=shop, steps=STEPS, window=WINDOW, date_from=date(2025, 3, 4),
        date_to=date(2025, 3, 7), compare_from=date(2025, 3, 1), compare_to=date(2025, 3, 3),
    )  # fmt: skip

    assert found.periods.chosen
    assert found.before_entered + found.after_entered == 120
    assert not found.significant
    assert found.sentences[0].endswith("no significant change.")
    assert len(found.sentences) == 1


def test_bad_ranges_name_the_field(shop):
    with pytest.raises(TrendQueryError, match=r"^compare_from: give both"):
        funnelchange.funnel_change(
            workspace=shop, steps=STEPS, window=WINDOW, compare_from=date(2025, 3, 1), **PERIOD
        )
    with pytest.raises(TrendQueryError, match=r"^compare_from: the compared range overlaps"):
        funnelchange.funnel_change(
            workspace=shop, steps=STEPS, window=WINDOW, compare_from=date(2025, 3, 10),
            compare_to=date(2025, 3, 20), **PERIOD,
        )  # fmt: skip
    with pytest.raises(TrendQueryError, match=r"^steps: "):
        funnelchange.funnel_change(workspace=shop, steps=STEPS[:1], window=WINDOW, **PERIOD)


def test_an_empty_period_says_so(workspace):
    ingest(workspace, [track("x", "Page Viewed", at(20))], received_at=at(21))
    found = funnelchange.funnel_change(workspace=workspace, steps=STEPS, window=WINDOW, **PERIOD)

    assert found.sentences == [
        "Conversion from Checkout Started to Order Completed: no customer entered the funnel in "
        "the compared period, nothing to compare."
    ]


def test_page_and_api_give_the_same_sentences(client, member, shop):
    client.force_login(member)
    expected = funnelchange.funnel_change(
        workspace=shop, steps=STEPS, window=WINDOW, trait="tier", **PERIOD
    ).sentences

    response = client.post(
        "/api/trends/changes/funnel",
        {
            "steps": ["Checkout Started", "Order Completed"], "window_seconds": 86400,
            "trait": "tier", "date_from": "2025-03-08", "date_to": "2025-03-14",
        },
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["sentences"] == expected
    assert (body["before_entered"], body["after_converted"]) == (120, 70)
    assert body["periods"]["compare_from"] == "2025-03-01"
    [event] = [g for g in body["groups"] if g["dimension"] == "event"]
    assert (event["label"], event["new_since"]) == ("Card Declined", "2025-03-08")

    page = client.get(
        "/trends/changes/funnel/?step=Checkout+Started&step=Order+Completed&window_days=1"
        "&trait=tier&date_from=2025-03-08&date_to=2025-03-14"
    )
    text = page.content.decode()
    assert page.status_code == 200
    for sentence in expected:
        assert escape(sentence) in text
    assert "new since 8 Mar" in text
    assert "/segments/new/?definition=" in text

    bad = client.post(
        "/api/trends/changes/funnel",
        {"steps": ["Checkout Started", "Order Completed"], "trait": "email"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == ["trait: 'email' holds personal data; pick a grouping trait"]
    wrong = client.get("/trends/changes/funnel/?step=Checkout+Started&compare_from=2025-03-01")
    assert wrong.status_code == 422
    assert "Steps: a funnel needs at least 2 steps" in wrong.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("step=A&step=B&window_days=abc", "Conversion window: "),
        ("step=A&step=B&compare_from=2025-13-40", "Compare from: "),
        (
            "step=A&step=B&trait=%3Cscript%3E",
            "Trait: &#x27;&lt;script&gt;&#x27; is not a trait key",
        ),
        (
            "step=A&step=B&date_from=2025-03-08&date_to=2025-03-14&compare_from=2025-03-01",
            "Compare_from: give both",
        ),
    ],
)
def test_funnel_page_names_the_bad_field(client, member, shop, query, message):
    client.force_login(member)
    page = client.get(f"/trends/changes/funnel/?{query}")
    assert page.status_code == 422
    assert message in page.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("survey=abc", "Survey: "),
        ("date_from=1970-01-02&date_to=1970-01-05", "From: no previous 4 days"),
    ],
)
def test_nps_page_names_the_bad_field(client, member, shop, query, message):
    client.force_login(member)
    page = client.get(f"/trends/changes/nps/?{query}")
    assert page.status_code == 422
    assert message in page.content.decode()
