"""A journey map over a date range, against the period before it: only the events and answers in
each range count (volumes, conversion, median time, touchpoint NPS), on the page and in the API,
on both engines. Every expected number is worked out by hand from the history below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cxloop.journeys import services
from factories import ingest, response_make, survey_make, track

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("each_engine")]

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)  # the latest event: the as-of time (imported history)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)

MAP = {
    "name": "Shop",
    "stages": ["Browse", "Buy", "Review"],
    "touchpoints": [
        {"stage": "Browse", "name": "Site", "rules": [{"event": "Home"}]},
        {"stage": "Buy", "name": "Order", "rules": [{"event": "Order"}]},
        {"stage": "Review", "name": "Review", "rules": [{"event": "Review"}]},
    ],
}


def at(who: str, name: str, when: datetime) -> dict:
    return track(who, name, when, message_id=f"{who}-{name}-{when.isoformat()}")


@pytest.fixture
def journey(workspace):
    # the default range is the 90 days 2 Dec 2024 – 1 Mar 2025; the one before, 3 Sep – 1 Dec
    ingest(
        workspace,
        [
            at("a", "Home", T0 - 100 * DAY),  # before the range (the previous period)
            at("a", "Order", T0 - 99 * DAY),
            at("a", "Home", T0 - 10 * DAY),
            at("a", "Order", T0 - 10 * DAY + 2 * HOUR),
            at("a", "Review", T0 - 9 * DAY),
            at("b", "Home", T0 - 5 * DAY),
            at("b", "Order", T0 - 5 * DAY + HOUR),
            at("c", "Home", T0 - 20 * DAY),
            at("d", "Order", T0 - 30 * DAY),  # skips Browse
            at("d", "Review", T0 - 29 * DAY),
            at("e", "Home", T0 - 120 * DAY),  # only in the previous period
            at("e", "Order", T0 - 119 * DAY),
            at("z", "Home", T0),
        ],
    )
    survey = survey_make(workspace)
    response_make(workspace, survey, T0 - 3 * DAY, nps=10, touchpoint="Order")
    response_make(workspace, survey, T0 - 2 * DAY, nps=0, touchpoint="Order")
    response_make(workspace, survey, T0 - 95 * DAY, nps=9, touchpoint="Order")
    return services.journey_create(workspace=workspace, definition=MAP)


def test_the_api_counts_only_the_range_and_compares_with_the_period_before(client, member, journey):
    client.force_login(member)

    answer = client.get(f"/api/journeys/{journey.pk}/map", {"compare": "true"})

    assert answer.status_code == 200, answer.content
    body = answer.json()
    now, before = body["current"], body["previous"]
    assert now["range"]["date_from"] == "2024-12-02" and now["range"]["date_to"] == "2025-03-01"
    assert now["range"]["as_of_reason"] == "the latest event (imported history)"
    assert before["range"]["date_from"] == "2024-09-03"
    assert before["range"]["date_to"] == "2024-12-01"
    # in range: Browse a, b, c, z (first Home −10 d, −5 d, −20 d, T0); a and b order after it,
    # 2 h and 1 h later: 2 of 4, median 1.5 h. Buy a, b, d: a reviews 22 h later, d 24 h later.
    browse, buy, review = now["stages"]
    assert now["customers"] == 5
    assert (browse["customers"], browse["converted"], browse["conversion"]) == (4, 2, 0.5)
    assert browse["median_seconds"] == 5400.0
    assert (buy["customers"], buy["converted"]) == (3, 2)
    assert buy["conversion"] == pytest.approx(0.6667)
    assert buy["median_seconds"] == (22 * 3600 + 24 * 3600) / 2
    assert review["customers"] == 2 and review["conversion"] is None
    order = buy["touchpoints"][0]
    assert (order["name"], order["customers"], order["responses"], order["nps"]) == (
        "Order", 3, 2, 0.0,
    )  # fmt: skip
    # before: a and e browse, both order a day later; neither reviews in that period (a's review
    # is in the current one), and the 9 there is NPS +100
    browse, buy, review = before["stages"]
    assert before["customers"] == 2
    assert (browse["customers"], browse["converted"], browse["median_seconds"]) == (2, 2, 86400)
    assert (buy["customers"], buy["converted"], buy["conversion"]) == (2, 0, 0.0)
    assert review["customers"] == 0
    assert buy["touchpoints"][0]["nps"] == 100.0


def test_a_chosen_range_and_bad_input(client, member, journey):
    client.force_login(member)
    url = f"/api/journeys/{journey.pk}/map"

    everything = client.get(url, {"date_from": "2024-01-01"}).json()["current"]

    # all time: Browse a (Home −100 d, Order −99 d), b, c, e, z; a, b, e convert
    assert everything["stages"][0]["customers"] == 5
    assert everything["stages"][0]["converted"] == 3
    assert client.get(url, {"date_from": "March"}).status_code == 422
    assert (
        "is after"
        in client.get(url, {"date_from": "2025-03-01", "date_to": "2025-02-01"}).json()["detail"]
    )
    no_room = client.get(url, {"date_from": "1970-01-05", "compare": "1"})
    assert no_room.status_code == 422 and no_room.json()["detail"].startswith("compare: ")
    assert client.get("/api/journeys/999999/map").status_code == 404


def test_the_page_shows_the_range_its_as_of_time_and_the_period_before(client, member, journey):
    client.force_login(member)

    page = client.get(f"/journeys/{journey.pk}/", {"compare": "1"})

    html = page.content.decode()
    assert page.status_code == 200
    assert 'value="2024-12-02"' in html and 'value="2025-03-01"' in html
    assert "measured as of <time" in html and "the latest event (imported history)" in html
    assert 'id="map-total">5<' in html and 'id="map-total-before">2<' in html
    assert '<dd class="stage-volume">4</dd>' in html  # Browse in range
    assert '<dd class="stage-conversion">50%</dd>' in html
    # Browse before: 2 reached, 100 % converted (50 % now: −50 pts), median 1 day
    assert "Before: 2 reached (+2), 100% (-50 pts) to next stage, median 1.0 days" in html
    assert "NPS +100" in html  # the Order touchpoint's score before


def test_the_page_names_a_bad_date(client, member, journey):
    client.force_login(member)

    page = client.get(f"/journeys/{journey.pk}/", {"date_from": "2025-13-01"})

    assert page.status_code == 422
    assert 'id="r-from" name="date_from" type="date" aria-invalid="true"' in page.content.decode()
    assert "from: " in page.content.decode()


def test_hostile_input_is_refused_not_crashed(client, member, journey):
    client.force_login(member)
    odd = {"date_from": "\x00", "date_to": "9" * 5000, "compare": "maybe"}

    page = client.get(f"/journeys/{journey.pk}/", odd)
    answer = client.get(f"/api/journeys/{journey.pk}/map", odd)
    reversed_page = client.get(
        f"/journeys/{journey.pk}/", {"date_from": "2025-03-01", "date_to": "2025-02-01"}
    )

    assert page.status_code == 422 and answer.status_code == 422
    assert reversed_page.status_code == 422
    assert "is after to: 2025-02-01" in reversed_page.content.decode()
