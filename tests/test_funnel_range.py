"""A funnel over a date range: only events in [since, until) count (customers entering step 1 in
it), on every engine; the page and the API take from/to, default to the last 90 days up to the
as-of time, and show both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cxloop.journeys import selectors
from cxloop.journeys.definitions import parse_steps
from factories import ingest, track

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("each_engine")]

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
SINCE, UNTIL = T0 - timedelta(hours=1), T0 + 2 * DAY


def at(who: str, name: str, when: datetime) -> dict:
    return track(who, name, when, message_id=f"{who}-{name}-{when.isoformat()}")


@pytest.fixture
def history(workspace):
    ingest(
        workspace,
        [
            at("old", "A", T0 - 40 * DAY),  # all before the range
            at("old", "B", T0 - 40 * DAY + timedelta(minutes=10)),
            at("old", "X", T0 - 40 * DAY + timedelta(minutes=5)),
            at("in", "A", T0),  # all in it
            at("in", "X", T0 + timedelta(minutes=5)),
            at("in", "B", T0 + timedelta(minutes=10)),
            at("straddle", "A", T0 - DAY),  # step 1 before the range, step 2 in it
            at("straddle", "B", T0 + timedelta(minutes=10)),
            at("late", "A", T0 + DAY),  # step 1 in the range, step 2 after it
            at("late", "B", T0 + 3 * DAY),
        ],
    )
    return workspace


def test_events_outside_the_range_are_not_counted(history):
    steps = parse_steps(["A", "B"])

    everything = selectors.funnel(workspace=history, steps=steps, window=None)
    ranged = selectors.funnel(workspace=history, steps=steps, window=None, since=SINCE, until=UNTIL)

    assert everything.counts == [4, 4]
    # in: A and B; late: A only (its B is after the range); old and straddle: no A in it
    assert ranged.counts == [2, 1]
    assert ranged.median_seconds == [None, 600.0]


def test_a_range_applies_in_every_mode(history):
    # any order: straddle's B (in the range) is a first step on its own
    ranged = selectors.funnel(
        workspace=history, steps=parse_steps(["A", "B"]), window=None, mode="any",
        since=SINCE, until=UNTIL,
    )  # fmt: skip

    assert ranged.counts == [3, 1]


def test_correlation_counts_only_the_range(history):
    found = selectors.funnel_correlation(
        workspace=history, steps=parse_steps(["A", "B"]), window=None, since=SINCE, until=UNTIL
    )

    assert (found.entered, found.converted) == (2, 1)
    (row,) = found.rows
    # X: done by "in" (converted) only; old's X is before the range
    assert (row.event, row.converted_with, row.dropped_with) == ("X", 1, 0)


def test_page_defaults_to_90_days_to_the_latest_event_and_shows_it(client, member, history):
    client.force_login(member)

    page = client.get("/journeys/funnel/", {"step": ["A", "B"], "window": "", "unit": "days"})

    html = page.content.decode()
    assert page.status_code == 200
    # imported history: as of the latest event (late's B, 4 Mar); 90 days back keeps all 4
    assert "as of <time" in html and "4 Mar 2025, 12:00" in html
    assert "the latest event (imported history)" in html
    assert 'value="2024-12-05"' in html and 'value="2025-03-04"' in html
    assert "4 customers started" in html


def test_page_and_api_agree_on_a_chosen_range(client, member, history):
    client.force_login(member)
    dates = {"date_from": "2025-03-01", "date_to": "2025-03-02"}

    page = client.get("/journeys/funnel/", {"step": ["A", "B"], "window": "", **dates})
    api = client.post(
        "/api/funnels",
        {"steps": ["A", "B"], "window_seconds": None, **dates},
        content_type="application/json",
    )

    assert page.status_code == 200
    # in [1 Mar, 3 Mar): in's A and B, late's A; straddle's A (28 Feb) is out
    assert "2 customers started · 1 finished" in page.content.decode()
    assert api.status_code == 200, api.content
    body = api.json()
    assert body["counts"] == [2, 1]
    assert body["range"]["date_from"] == "2025-03-01"
    assert body["range"]["as_of_reason"] == "the latest event (imported history)"


def test_bad_dates_are_named_next_to_the_field(client, member, history):
    client.force_login(member)

    typo = client.get("/journeys/funnel/", {"step": ["A", "B"], "date_from": "2025-13-01"})
    reversed_ = client.get(
        "/journeys/funnel/",
        {"step": ["A", "B"], "date_from": "2025-03-05", "date_to": "2025-03-01"},
    )
    api = client.post(
        "/api/funnels",
        {"steps": ["A", "B"], "date_from": "2025-03-05", "date_to": "2025-03-01"},
        content_type="application/json",
    )

    assert typo.status_code == 422
    assert "From: Enter a valid date." in typo.content.decode()
    assert 'id="f-from" name="date_from" type="date" aria-invalid="true"' in typo.content.decode()
    assert reversed_.status_code == 422
    assert "From: 2025-03-05 is after to: 2025-03-01" in reversed_.content.decode()
    assert api.status_code == 422
    assert api.json()["errors"] == ["from: 2025-03-05 is after to: 2025-03-01"]
