"""Cohort tables with a chosen horizon, and what they say when no cohort lies in the range."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cxloop.metrics import selectors as s
from factories import ingest, track

WINDOW_END = datetime(2025, 7, 1, tzinfo=UTC)
NOW = datetime(2025, 8, 1, tzinfo=UTC)


@pytest.fixture
def history(workspace):
    """u1 first seen January 2025 and active every month to June; u2 first seen March, active
    in April; u3 first seen in 2023, active again in May 2025."""
    months = [(2025, m) for m in range(1, 7)]
    messages = [track("u1", "Visit", datetime(y, m, 10, tzinfo=UTC)) for y, m in months]
    messages += [
        track("u2", "Visit", datetime(2025, 3, 5, tzinfo=UTC)),
        track("u2", "Visit", datetime(2025, 4, 5, tzinfo=UTC)),
        track("u3", "Visit", datetime(2023, 2, 1, tzinfo=UTC)),
        track("u3", "Visit", datetime(2025, 5, 1, tzinfo=UTC)),
    ]
    ingest(workspace, messages, received_at=NOW)
    return workspace


def test_horizon_start_counts_whole_months_back():
    assert s.horizon_start(datetime(2026, 11, 30, 15, tzinfo=UTC), 12) == datetime(
        2025, 11, 1, tzinfo=UTC
    )
    assert s.horizon_start(datetime(2026, 1, 3, tzinfo=UTC), 1) == datetime(2025, 12, 1, tzinfo=UTC)
    assert s.horizon_start(datetime(2026, 1, 3, tzinfo=UTC), 36) == datetime(2023, 1, 1, tzinfo=UTC)


@pytest.mark.usefixtures("each_engine")
def test_a_shorter_horizon_reports_fewer_cohorts_and_periods(history):
    three = s.cohort_retention(
        workspace=history, start=s.horizon_start(WINDOW_END, 3), end=WINDOW_END, max_offset=3,
        now=NOW,
    )  # fmt: skip
    six = s.cohort_retention(
        workspace=history, start=s.horizon_start(WINDOW_END, 6), end=WINDOW_END, max_offset=1,
        now=NOW,
    )  # fmt: skip

    # April–June: nobody was first seen then
    assert three == []
    # January–June: u1 (January), u2 (March); u3 belongs to 2023; at most 1 period after each
    assert [(c.start, c.size, c.rates) for c in six] == [
        (date(2025, 1, 1), 1, [100.0, 100.0]),
        (date(2025, 3, 1), 1, [100.0, 100.0]),
    ]


@pytest.mark.usefixtures("each_engine")
def test_the_note_says_why_no_cohort_is_in_the_range(history, other_workspace):
    def note(workspace, start, end):
        return s.cohort_note(workspace=workspace, start=start, end=end, now=NOW)

    april = s.horizon_start(WINDOW_END, 3)
    assert "first seen" in note(history, april, WINDOW_END)
    assert "outside the chosen range" in note(history, april, WINDOW_END)
    before = note(history, datetime(2020, 1, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC))
    assert "the first event is from 01 Feb 2023" in before
    after = note(history, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))
    assert "the latest event is from 10 Jun 2025" in after
    assert note(history, s.horizon_start(WINDOW_END, 6), WINDOW_END) == ""
    assert note(other_workspace, april, WINDOW_END).startswith("No events yet")


def test_api_takes_a_horizon_and_explains_an_empty_table(client, member, history):
    client.force_login(member)

    wide = client.get("/api/metrics/retention?from=2025-01-01&to=2025-06-30&horizon=1").json()
    narrow = client.get("/api/metrics/retention?from=2025-04-01&to=2025-06-30").json()
    bad = client.get("/api/metrics/retention?horizon=0")

    assert [len(c["rates"]) for c in wide["cohorts"]] == [2, 2]
    assert wide["cohort_note"] == ""
    assert narrow["cohorts"] == [] and "outside the chosen range" in narrow["cohort_note"]
    assert bad.status_code == 422


def test_dashboard_horizon_and_its_note(client, member, history):
    client.force_login(member)

    shown = client.get("/dashboard/", {"to": "2025-06-30", "horizon": "3"})
    refused = client.get("/dashboard/", {"horizon": "99"})

    html = shown.content.decode()
    assert shown.status_code == 200
    assert "over the 3 months before 30 Jun 2025" in html
    assert "their cohorts start outside the chosen range" in html
    assert '<option value="3" selected>3 months</option>' in html
    assert refused.status_code == 400
    assert "expected 1–60 months" in refused.content.decode()
