"""What changed: an event's volume against the previous period, decomposed by channel. Counts on
every engine (``each_engine``) from the hand-built events below; statistics against scipy and
statsmodels."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests

from cxloop.journeys.definitions import RuleSpec
from cxloop.metrics import changes
from cxloop.metrics.trends import TrendQueryError
from factories import ingest, track

engines = pytest.mark.usefixtures("each_engine")

ORDER = RuleSpec("Order Completed")
# previous period 1–7 March, current 8–14 March (7 days each)
BEFORE = {"web": 30, "app": 5}
AFTER = {"web": 6, "app": 6, "email": 1}


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def shop(workspace):
    """Orders: web 30 and app 5 in 1–7 March; web 6, app 6 and email 1 in 8–14 March; plus noise
    (another event, an order on 28 February and one on 15 March, outside both periods) and a
    page view on the 20th that puts the as-of time after the range."""
    messages = []
    for offset, (days, counts) in enumerate(((range(1, 8), BEFORE), (range(8, 15), AFTER))):
        for channel, count in counts.items():
            for i in range(count):
                day = days[i % 7]
                user = f"{channel}-{offset}-{i}"
                messages.append(track(user, "Order Completed", at(day, minute=i), channel=channel))
    messages += [
        track("n1", "Checkout Started", at(9)),
        track("n2", "Order Completed", datetime(2025, 2, 28, 23, 59, tzinfo=UTC)),
        track("n3", "Order Completed", at(15, 0, 0)),
        track("n4", "Page Viewed", at(20)),
    ]
    ingest(workspace, messages, received_at=at(21))
    return workspace


def test_volume_p_value_is_scipys_binomial_test():
    assert changes.volume_p_value(
        after=13, before=35, after_length=7, before_length=7
    ) == pytest.approx(binomtest(13, 48, p=0.5).pvalue)
    assert changes.volume_p_value(
        after=40, before=70, after_length=6.5, before_length=7
    ) == pytest.approx(binomtest(40, 110, p=6.5 / 13.5).pvalue)
    assert changes.volume_p_value(after=0, before=0, after_length=1, before_length=1) == 1.0
    with pytest.raises(ValueError, match="negative"):
        changes.volume_p_value(after=-1, before=0, after_length=1, before_length=1)


def test_holm_is_statsmodels_holm():
    p_values = [0.01, 0.04, 0.03, 0.005, 0.5, 0.04]
    expected = multipletests(p_values, method="holm")[1]
    assert changes.holm(p_values) == pytest.approx(list(expected))
    assert changes.holm([]) == []


@engines
def test_volume_change_counts_tests_and_decomposes_by_channel(shop):
    found = changes.volume_change(
        workspace=shop, step=ORDER, date_from=date(2025, 3, 8), date_to=date(2025, 3, 14)
    )

    assert (found.previous_first, found.previous_last) == (date(2025, 3, 1), date(2025, 3, 7))
    assert found.ratio == 1
    assert (found.before, found.after) == (35, 13)
    assert found.change_pct == pytest.approx(100 * (13 - 35) / 35)
    assert found.p_value == pytest.approx(binomtest(13, 48, p=0.5).pvalue)
    assert found.significant
    by_channel = {c.channel: c for c in found.channels}
    assert {k: (c.before, c.after) for k, c in by_channel.items()} == {
        "web": (30, 6),
        "app": (5, 6),
        "email": (0, 1),
    }
    names = list(by_channel)
    raw = [
        binomtest(AFTER.get(k, 0), BEFORE.get(k, 0) + AFTER.get(k, 0), p=0.5).pvalue for k in names
    ]
    assert [by_channel[k].p_value for k in names] == pytest.approx(raw)
    assert [by_channel[k].p_adjusted for k in names] == pytest.approx(
        list(multipletests(raw, method="holm")[1])
    )
    assert [c.channel for c in found.channels] == ["web", "app", "email"]  # largest change first
    assert [by_channel[k].contribution for k in names] == [-24, 1, 1]
    assert [k for k, c in by_channel.items() if c.significant] == ["web"]
    assert by_channel["email"].change_pct is None
    p = binomtest(13, 48, p=0.5).pvalue
    assert 0.001 < p < 0.0025  # so it reads "p = 0.002"
    assert found.sentences[0] == (
        "Order Completed fell from 35 to 13 (−63 %, p = 0.002); "
        "most of the drop is on channel web (−24)."
    )
    assert found.sentences[1].startswith("Channel web: down from 30 to 6 (−24, 109% of the change;")


@engines
def test_a_current_period_cut_at_the_as_of_time_is_weighed_by_its_length(shop):
    # as of noon on 10 March (live data): 8 March 00:00 to 10 March 12:00 is 2.5 days, and the
    # previous period is 5–7 March (3 days)
    now = at(10, 12)
    found = changes.volume_change(
        workspace=shop, step=ORDER, date_from=date(2025, 3, 8), date_to=date(2025, 3, 10), now=now
    )

    assert found.span.as_of == now
    assert found.ratio == pytest.approx(2.5 / 3)
    # hand count, previous period 5–7 March: web orders i with i % 7 in 4..6 (i = 4, 5, 6, 11,
    # 12, 13, 18, 19, 20, 25, 26, 27: 12) and app i = 4: 13. Current, before noon on the 10th:
    # web and app i = 0 (8th) and 1 (9th), not i = 2 (10th at 12:02); email on the 8th: 5.
    before, after = 13, 5
    assert (found.before, found.after) == (before, after)
    assert found.p_value == pytest.approx(binomtest(after, before + after, p=2.5 / 5.5).pvalue)


@engines
def test_default_period_is_the_last_28_days_to_the_as_of_time(shop):
    found = changes.volume_change(workspace=shop, step=ORDER)

    # as of the latest event (20 March, imported history): 21 Feb – 20 March against 24 Jan – 20 Feb
    assert (found.span.first, found.span.last) == (date(2025, 2, 21), date(2025, 3, 20))
    assert found.previous_first == date(2025, 1, 24)
    assert (found.before, found.after) == (0, 35 + 13 + 2)


@engines
def test_one_channel_and_an_event_never_seen(shop):
    web = changes.volume_change(
        workspace=shop, step=RuleSpec("Order Completed", channel="web"),
        date_from=date(2025, 3, 8), date_to=date(2025, 3, 14),
    )  # fmt: skip
    assert (web.before, web.after) == (30, 6)
    assert [(c.channel, c.before, c.after) for c in web.channels] == [("web", 30, 6)]

    none = changes.volume_change(
        workspace=shop, step=RuleSpec("Refund Issued"), date_from=date(2025, 3, 8),
        date_to=date(2025, 3, 14),
    )  # fmt: skip
    assert (none.before, none.after, none.p_value, none.channels) == (0, 0, 1.0, [])
    assert none.sentences == ["Refund Issued: 0 → 0 (p = 1.000), no significant change."]


def test_bad_input_names_the_field(shop):
    with pytest.raises(TrendQueryError, match="from: no previous"):
        changes.volume_change(
            workspace=shop, step=ORDER, date_from=date(1970, 1, 2), date_to=date(1970, 1, 5)
        )
    with pytest.raises(TrendQueryError, match="alpha"):
        changes.volume_change(workspace=shop, step=ORDER, alpha=2)


def test_api_matches_the_selector(client, member, shop):
    client.force_login(member)
    response = client.post(
        "/api/trends/changes",
        {"event": "Order Completed", "date_from": "2025-03-08", "date_to": "2025-03-14"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["before"], body["after"]) == (35, 13)
    assert body["previous_from"] == "2025-03-01"
    assert [
        (c["channel"], c["before"], c["after"], c["significant"]) for c in body["channels"]
    ] == [
        ("web", 30, 6, True),
        ("app", 5, 6, False),
        ("email", 0, 1, False),
    ]
    assert body["sentences"][0].startswith("Order Completed fell from 35 to 13")

    on_app = client.post(
        "/api/trends/changes",
        {"event": {"event": "Order Completed", "channel": "app"}, "date_from": "2025-03-08"},
        content_type="application/json",
    )
    assert on_app.status_code == 200, on_app.content
    assert on_app.json()["label"] == "Order Completed on app"

    bad = client.post(
        "/api/trends/changes",
        {"event": "Order Completed", "date_from": "1970-01-02", "date_to": "1970-01-05"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert "from: no previous 4 days" in bad.json()["errors"][0]


def test_page_shows_the_sentences_and_the_channels(client, member, shop):
    client.force_login(member)
    page = client.get(
        "/trends/changes/?event=Order+Completed&date_from=2025-03-08&date_to=2025-03-14"
    )
    text = page.content.decode()
    assert page.status_code == 200
    assert "Order Completed fell from 35 to 13" in text
    assert "most of the drop is on channel web (−24)" in text
    assert "1 Mar 2025 – 7 Mar 2025" in text

    empty = client.get("/trends/changes/")
    assert empty.status_code == 200 and "Pick an event." in empty.content.decode()
    bad = client.get(
        "/trends/changes/?event=Order+Completed&date_from=2025-03-20&date_to=2025-03-01"
    )
    assert bad.status_code == 422
    assert "From: 2025-03-20 is after to: 2025-03-01" in bad.content.decode()
