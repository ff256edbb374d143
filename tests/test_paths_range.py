"""The path pages over a date range and an as-of time: paths and complaints only in the range,
churn measured from the as-of time (the latest event for imported history), both shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from factories import ingest, track

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("each_engine")]

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def at(who: str, name: str, when: datetime) -> dict:
    return track(who, name, when, message_id=f"{who}-{name}-{when.isoformat()}")


@pytest.fixture
def history(workspace):
    ingest(
        workspace,
        [
            at("old", "Home", T0 - 100 * DAY),  # gone: last seen 100 days before the latest event
            at("old", "Order", T0 - 100 * DAY + timedelta(minutes=5)),
            at("old", "Complaint", T0 - 100 * DAY + timedelta(minutes=9)),
            at("new", "Home", T0),
            at("new", "Cart", T0 + timedelta(minutes=2)),
            at("new", "Order", T0 + timedelta(minutes=5)),
            at("new", "Complaint", T0 + timedelta(minutes=9)),  # the latest event
        ],
    )
    return workspace


def test_paths_count_only_the_range_and_show_the_as_of_time(client, member, history):
    client.force_login(member)

    default = client.get("/paths/", {"start": "Home", "end": "Order"})
    everything = client.get("/paths/", {"start": "Home", "end": "Order", "date_from": "2024-01-01"})

    html = default.content.decode()
    # the last 90 days up to the latest event (1 Mar 12:09): only "new"
    assert 'id="stat-started">1<' in html
    assert "as of <time" in html and "1 Mar 2025, 12:09" in html
    assert "the latest event (imported history)" in html
    assert 'value="2024-12-02"' in html and 'value="2025-03-01"' in html
    assert 'id="stat-started">2<' in everything.content.decode()


def test_churn_is_measured_from_the_as_of_time_not_today(client, member, history):
    client.force_login(member)

    page = client.get("/paths/before/", {"kind": "churn", "inactive_days": "90"})

    html = page.content.decode()
    # as of 1 Mar 2025 only "old" is 90+ days inactive (from today both would be)
    assert 'id="stat-customers">1<' in html
    assert "Inactive for 90+ days as of <time" in html


def test_complaints_count_only_in_the_range(client, member, history):
    client.force_login(member)
    query = {"kind": "complaint", "complaint_events": "Complaint"}

    default = client.get("/paths/before/", query)
    everything = client.get("/paths/before/", {**query, "date_from": "2024-01-01"})

    assert 'id="stat-customers">1<' in default.content.decode()
    assert 'id="stat-customers">2<' in everything.content.decode()


def test_bad_dates_are_named_next_to_the_field(client, member, history):
    client.force_login(member)

    page = client.get(
        "/paths/",
        {"start": "Home", "end": "Order", "date_from": "2025-03-05", "date_to": "2025-03-01"},
    )

    html = page.content.decode()
    assert page.status_code < 500
    assert "from: 2025-03-05 is after to: 2025-03-01" in html
    assert 'id="r-from" name="date_from" type="date" aria-invalid="true"' in html
    assert 'id="stat-started"' not in html


def test_api_gives_the_page_numbers_and_its_range(client, member, history):
    client.force_login(member)

    between = client.get("/api/paths", {"start": "Home", "end": "Order"})
    churn = client.get("/api/paths/before", {"kind": "churn", "inactive_days": 90})
    complaint = client.get(
        "/api/paths/before",
        {"kind": "complaint", "complaint_events": "Complaint", "date_from": "2024-01-01"},
    )
    reversed_ = client.get("/api/paths", {"start": "Home", "date_from": "2025-03-05"})
    typo = client.get("/api/paths", {"start": "Home", "date_from": "0"})
    year_one = client.get("/api/paths", {"start": "Home", "date_to": "0001-01-01"})

    assert between.status_code == 200, between.content
    assert between.json()["started"] == 1
    assert between.json()["range"]["date_from"] == "2024-12-02"
    assert between.json()["range"]["as_of_reason"] == "the latest event (imported history)"
    assert churn.json()["customers"] == 1
    assert complaint.json()["customers"] == 2
    assert reversed_.status_code == 422
    assert "from: 2025-03-05 is after to: 2025-03-01" in reversed_.content.decode()
    assert typo.status_code == 422
    assert "date_from: '0' is not a day (YYYY-MM-DD)" in typo.content.decode()
    # the default from (89 days before to) is not counted from a day outside the calendar
    assert year_one.status_code == 422
    assert year_one.json()["detail"] == "to: 0001-01-01 is outside 1970-01-01–2299-12-30"
