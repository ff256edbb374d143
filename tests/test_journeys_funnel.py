"""Funnel analysis on hand-built event sequences, stored through the real ingestion path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cxloop.analytics import selectors as analytics_selectors
from cxloop.customers.models import Customer, CustomerMerge
from cxloop.journeys import selectors
from cxloop.journeys.definitions import DefinitionError, parse_steps
from factories import customer_id, ingest, track

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("each_engine")]

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def ev(who: str, name: str, minutes: float, channel: str = "web", *, anon=False, **props) -> dict:
    """A track message ``minutes`` after T0 (from an anonymous id with ``anon``)."""
    at = T0 + timedelta(minutes=minutes)
    message_id = f"{who}-{name}-{minutes}-{channel}"
    return track(who, name, at, channel=channel, anonymous=anon, message_id=message_id, **props)


def run(workspace, steps, window=None, **kwargs):
    """The funnel report, with ``.run``: each customer's depth and step times (the per-customer
    answer a split by trait or segment uses)."""
    report = selectors.funnel(
        workspace=workspace, steps=parse_steps(steps), window=window, **kwargs
    )
    report.run = analytics_selectors.funnel_run(
        workspace=workspace, steps=parse_steps(steps), window=window, only=kwargs.get("only")
    )
    return report


def test_customers_count_once_per_step_in_order(workspace):
    # given
    ingest(
        workspace,
        [
            *[ev("a", n, m) for n, m in (("A", 0), ("B", 10), ("C", 20))],
            *[ev("b", n, m) for n, m in (("A", 0), ("B", 10))],
            ev("c", "A", 0),
            *[ev("d", n, m) for n, m in (("B", 0), ("C", 10))],  # never did step 1
            *[ev("e", n, m) for n, m in (("A", 0), ("C", 5), ("B", 10))],  # C before B
        ],
    )
    # when
    report = run(workspace, ["A", "B", "C"])
    # then
    assert report.counts == [4, 3, 1]
    assert report.run.depth[customer_id(workspace, "e")] == 2
    assert customer_id(workspace, "d") not in report.run.depth
    assert report.median_seconds == [None, 600.0, 600.0]
    assert report.conversion == [1.0, 0.75, 0.25]


def test_window_counts_from_the_first_step_and_is_inclusive(workspace):
    # given: a one-hour window
    ingest(
        workspace,
        [
            *[ev("f", n, m) for n, m in (("A", 0), ("B", 30), ("C", 61))],  # C too late
            *[ev("g", n, m) for n, m in (("A", 0), ("B", 70))],  # B too late
            *[ev("h", n, m) for n, m in (("A", 0), ("A", 100), ("B", 130), ("C", 150))],
            *[ev("i", n, m) for n, m in (("A", 0), ("B", 60))],  # exactly on the bound
        ],
    )
    # when
    report = run(workspace, ["A", "B", "C"], window=HOUR)
    # then: h's first A cannot convert in time, its second one can (earliest qualifying start)
    assert report.counts == [4, 3, 1]
    depth = report.run.depth
    assert [depth[customer_id(workspace, w)] for w in "fghi"] == [2, 1, 3, 2]
    h_times = report.run.times[customer_id(workspace, "h")]
    assert [str(t)[11:16] for t in h_times] == ["13:40", "14:10", "14:30"]
    # without a window every B and C counts
    assert run(workspace, ["A", "B", "C"]).counts == [4, 4, 2]


def test_repeated_events_take_the_earliest_qualifying_sequence(workspace):
    # given: many A's and B's
    ingest(
        workspace,
        [ev("j", "A", m) for m in (0, 1, 2)] + [ev("j", "B", m) for m in (3, 4)]
        + [ev("k", "A", m) for m in (0, 50)] + [ev("k", "B", 55)],
    )  # fmt: skip
    # when
    report = run(workspace, ["A", "B"], window=HOUR)
    # then: one customer each, step 2 counted once; times from the first A
    assert report.counts == [2, 2]
    assert (
        report.run.times[customer_id(workspace, "j")][1]
        > report.run.times[customer_id(workspace, "j")][0]
    )
    assert sorted(report.median_seconds[1:]) == [(180 + 3300) / 2]


def test_a_step_must_be_strictly_after_the_previous_one(workspace):
    ingest(workspace, [ev("s", "A", 0), ev("s", "B", 0), ev("t", "A", 0), ev("t", "B", 0.5)])
    report = run(workspace, ["A", "B"])
    assert report.counts == [2, 1]
    assert report.run.depth[customer_id(workspace, "t")] == 2


def test_the_same_event_twice_needs_two_occurrences(workspace):
    ingest(workspace, [ev("u", "Visit", 0), ev("u", "Visit", 5), ev("v", "Visit", 0)])
    assert run(workspace, ["Visit", "Visit"]).counts == [2, 1]


def test_customers_merged_mid_journey_count_once_with_all_their_steps(workspace):
    # given: an anonymous visitor does A, signs up as u-9 on another profile and does B, and only
    # then an identify shows the two profiles are one person
    ingest(workspace, [ev("anon-9", "A", 0, anon=True)])
    ingest(workspace, [ev("u-9", "B", 10)])
    assert Customer.objects.filter(workspace=workspace, merged_into__isnull=True).count() == 2
    ingest(
        workspace,
        [
            {
                "type": "identify",
                "anonymousId": "anon-9",
                "userId": "u-9",
                "timestamp": (T0 + timedelta(minutes=15)).isoformat(),
                "messageId": "link-9",
            },
            ev("u-9", "C", 20),
        ],
    )
    assert CustomerMerge.objects.filter(workspace=workspace).count() == 1
    # when
    report = run(workspace, ["A", "B", "C"], window=HOUR)
    # then
    assert report.counts == [1, 1, 1]
    assert list(report.run.depth) == [customer_id(workspace, "u-9")]


def test_steps_with_channel_and_property_conditions(workspace):
    ingest(
        workspace,
        [
            ev("p", "View", 0, "app"), ev("p", "Order", 5, "app", revenue=80),
            ev("q", "View", 0, "web"), ev("q", "Order", 5, "web", revenue=80),
            ev("r", "View", 0, "app"), ev("r", "Order", 5, "app", revenue=20),
        ],
    )  # fmt: skip
    steps = [
        {"event": "View", "channel": "app"},
        {"event": "Order", "conditions": [{"property": "revenue", "op": "gt", "value": 50}]},
    ]
    assert run(workspace, steps).counts == [2, 1]


def test_split_by_channel_of_the_first_step_and_by_trait(workspace):
    ingest(
        workspace,
        [
            ev("w1", "A", 0, "web"), ev("w1", "B", 1, "web"),
            ev("w2", "A", 0, "web"),
            ev("m1", "A", 0, "app"), ev("m1", "B", 1, "web"),
            {"type": "identify", "userId": "w1", "traits": {"tier": "gold"},
             "timestamp": T0.isoformat(), "messageId": "id-w1"},
            {"type": "identify", "userId": "m1", "traits": {"tier": "gold"},
             "timestamp": T0.isoformat(), "messageId": "id-m1"},
        ],
    )  # fmt: skip
    by_channel = run(workspace, ["A", "B"], window=HOUR, split_by="channel")
    assert by_channel.groups == [("web", [2, 1]), ("app", [1, 1])]
    by_tier = run(workspace, ["A", "B"], window=HOUR, split_by="trait:tier")
    assert by_tier.groups == [("gold", [2, 2]), ("(none)", [1, 0])]
    with pytest.raises(ValueError, match="split_by"):
        run(workspace, ["A", "B"], split_by="colour")


def test_dropoffs_list_who_stopped_where(workspace):
    ingest(
        workspace,
        [
            ev("x1", "A", 0), ev("x1", "B", 1), ev("x1", "C", 2),
            ev("x2", "A", 0), ev("x2", "B", 3),
            ev("x3", "A", 0), ev("x4", "A", 5),
        ],
    )  # fmt: skip
    report = run(workspace, ["A", "B", "C"], window=HOUR)
    dropoffs = selectors.funnel_dropoffs(workspace=workspace, report=report)
    assert [(step, count) for step, count, _ in dropoffs] == [(1, 2), (2, 1)]
    after_a = [d.customer_id for d in dropoffs[0][2]]
    assert after_a == [
        customer_id(workspace, "x4"),
        customer_id(workspace, "x3"),
    ]  # most recent first
    assert [d.customer_id for d in dropoffs[1][2]] == [customer_id(workspace, "x2")]


def test_other_workspaces_events_never_count(workspace, other_workspace):
    ingest(workspace, [ev("y", "A", 0), ev("y", "B", 1)])
    ingest(other_workspace, [ev("y", "A", 0), ev("y", "B", 1), ev("z", "A", 0)])
    assert run(workspace, ["A", "B"]).counts == [1, 1]
    assert run(other_workspace, ["A", "B"]).counts == [2, 1]


def test_bad_steps_get_clear_errors():
    with pytest.raises(DefinitionError) as caught:
        parse_steps(["A", "", {"event": "B", "conditions": [{"property": "x", "op": "like"}]}])
    assert caught.value.errors == [
        "steps[1].event: empty rule: give the event name (or page/screen name) it matches",
        "steps[2].conditions[0].op: unknown operator 'like'; "
        "use one of eq, neq, gt, gte, lt, lte, contains, exists",
    ]
    with pytest.raises(DefinitionError, match="at least 2 steps"):
        parse_steps(["A"])


# --- dates at the ends of the calendar -----------------------------------------------------
# Ingestion refuses such times now, but rows stored before (or by other means) must not break
# the funnel: a window added to 9999-12-31 overflowed (OverflowError: a 500 on page and API).

END = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
START = datetime(1, 1, 1, tzinfo=UTC)


def store_directly(workspace, who: str, name: str, at: datetime) -> None:
    """An event row written past ingestion's checks, as a pre-fix database may hold."""
    from cxloop.events.models import Event

    if not workspace.identity_set.filter(value=who).exists():
        ingest(workspace, [ev(who, "Seed", 0)])
    Event.objects.create(
        workspace=workspace,
        customer_id=customer_id(workspace, who),
        type="track",
        name=name,
        channel="web",
        occurred_at=at,
        received_at=at,
        message_id=f"direct-{who}-{name}-{at.isoformat()}",
    )


def database_only(engine) -> None:
    if engine != "sql":
        pytest.skip(
            "rows past ingestion's checks never reach the engine's outbox; the engine's own "
            "calendar (1900-2299) is tested in test_analytics_engine.py"
        )


def test_events_at_the_ends_of_the_calendar_do_not_break_the_funnel(workspace, each_engine):
    database_only(each_engine)
    # given a customer whose step 1 is at 9999-12-31 and one whose step 1 is at year 1
    store_directly(workspace, "late", "A", END)
    store_directly(workspace, "early", "A", START)
    store_directly(workspace, "early", "B", START + timedelta(minutes=5))
    # when the funnel runs with a window (bound = start + window overflows for "late")
    report = run(workspace, ["A", "B"], window=timedelta(days=3650))
    # then both are counted at step 1 and only "early" (B 5 minutes later) at step 2
    assert report.counts == [2, 1]
    assert report.median_seconds == [None, 300.0]
    dropoffs = selectors.funnel_dropoffs(workspace=workspace, report=report)
    assert [(d.customer_id, d.last_at) for d in dropoffs[0][2]] == [
        (customer_id(workspace, "late"), END)
    ]


def test_funnel_page_and_api_answer_with_an_event_at_9999(client, workspace, member, each_engine):
    database_only(each_engine)
    store_directly(workspace, "late", "A", END)
    store_directly(workspace, "late", "B", END)
    client.force_login(member)

    page = client.get(
        "/journeys/funnel/",
        {"step": ["A", "B"], "step_channel": ["", ""], "window": "7", "unit": "days"},
    )
    api = client.post(
        "/api/funnels",
        {"steps": ["A", "B"], "window_seconds": 7 * 86400},
        content_type="application/json",
    )

    assert page.status_code == 200
    assert api.status_code == 200, api.content
    # the default range ends at the as-of time (now: the data looks live), before 9999
    assert api.json()["counts"] == [0, 0]
