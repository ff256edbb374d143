"""The segments list's count rollup (``SegmentCount``): stored numbers equal the live count at
the time, on every engine; an edited segment is counted live until the next count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

import factories
from cxloop.customers.models import Customer
from cxloop.segments import selectors, services, tasks
from cxloop.segments.models import SegmentCount

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)  # the latest event (dan's ticket) is 3 days before


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


GOLD = {"trait": "tier", "op": "eq", "value": "gold"}
ORDERED_30 = {"event": "Order Completed", "within_days": 30}
NO_ORDER_30 = {"event": "Order Completed", "did": False, "within_days": 30}
STORE_ORDER = {"event": "Order Completed", "channel": "store"}
TICKET = {"event": "Support Ticket Opened"}

# (definition, members by hand) over the people below, windows counted from dan's ticket
# (3 days before NOW): alice ordered 100 days before, bob 10 and 12 (store), cara 20 (web),
# dan only opened a ticket, eve has no events at all
DEFINITIONS = {
    "gold": ({"all": [GOLD]}, {"alice", "cara"}),
    "gold, no order in 30 days": ({"all": [GOLD, NO_ORDER_30]}, {"alice"}),
    "events only: ordered in 30 days or a ticket": (
        {"any": [ORDERED_30, TICKET]},
        {"bob", "cara", "dan"},
    ),
    "events only: no order in 30 days": ({"all": [NO_ORDER_30]}, {"alice", "dan", "eve"}),
    "nested: gold or (store order and not a ticket)": (
        {"any": [GOLD, {"all": [STORE_ORDER, {**TICKET, "did": False}]}]},
        {"alice", "bob", "cara"},
    ),
    "nested: no tier and (a ticket or no order)": (
        {
            "all": [
                {"trait": "tier", "op": "exists", "value": False},
                {"any": [TICKET, {"event": "Order Completed", "did": False}]},
            ]
        },
        {"dan", "eve"},
    ),
}


@pytest.fixture
def people(workspace) -> dict[str, int]:
    def person(user_id, traits, *events):
        return [
            factories.identify(user_id, {"name": user_id.title(), **traits}, ago(300)),
            *(factories.track(user_id, name, ago(days), channel=ch) for name, ch, days in events),
        ]

    messages = [
        *person("alice", {"tier": "gold"}, ("Order Completed", "web", 100)),
        *person(
            "bob",
            {"tier": "silver"},
            ("Order Completed", "store", 10),
            ("Order Completed", "store", 12),
        ),
        *person("cara", {"tier": "Gold"}, ("Order Completed", "web", 20)),
        *person("dan", {}, ("Support Ticket Opened", "chat", 3)),
        *person("eve", {}),
    ]
    for number, message in enumerate(messages):
        message.setdefault("messageId", f"m-{message['userId']}-{number}")
    factories.ingest(workspace, messages)
    return {c.display_name.lower(): c.pk for c in Customer.objects.filter(workspace=workspace)}


def saved(workspace) -> dict[str, int]:
    return {
        name: services.segment_create(workspace=workspace, name=name, definition=definition).pk
        for name, (definition, _) in DEFINITIONS.items()
    }


@pytest.mark.usefixtures("each_engine")
def test_stored_counts_equal_the_hand_counts_and_the_live_counts(workspace, people):
    ids = saved(workspace)
    assert services.segment_counts_refresh(workspace=workspace) == len(DEFINITIONS)

    rows = {row.segment_id: row for row in SegmentCount.objects.all()}
    for name, (definition, expected) in DEFINITIONS.items():
        row = rows[ids[name]]
        assert row.members == len(expected), name
        assert row.definition == row.segment.definition  # as saved (cleaned)
        live = selectors.segment_count(
            workspace=workspace, definition=definition, segment_id=ids[name]
        )
        assert row.members == live, name
        found = set(selectors.segment_customer_ids(workspace=workspace, definition=definition))
        assert found == {people[p] for p in expected}, name


@pytest.mark.usefixtures("each_engine")
def test_added_members_are_counted_and_a_recount_is_idempotent(workspace, people):
    segment = services.segment_create(workspace=workspace, name="gold", definition={"all": [GOLD]})
    services.segment_member_add(segment=segment, customer_id=people["dan"])
    services.segment_member_add(segment=segment, customer_id=people["alice"])  # matched anyway
    services.segment_counts_refresh(workspace=workspace)
    services.segment_counts_refresh(workspace=workspace)
    assert SegmentCount.objects.get().members == 3  # alice, cara, dan
    assert SegmentCount.objects.count() == 1


def test_an_edited_segment_is_counted_live_until_the_next_count(workspace, people):
    segment = services.segment_create(workspace=workspace, name="gold", definition={"all": [GOLD]})
    services.segment_counts_refresh(workspace=workspace)
    assert selectors.segment_counts_kept(segments=[segment])[segment.pk].members == 2

    services.segment_update(segment=segment, definition={"all": [GOLD, NO_ORDER_30]})
    assert selectors.segment_counts_kept(segments=[segment]) == {}

    services.segment_counts_refresh(workspace=workspace)
    assert selectors.segment_counts_kept(segments=[segment])[segment.pk].members == 1


def test_a_segment_that_no_longer_holds_loses_its_count(workspace, people):
    segment = services.segment_create(workspace=workspace, name="gold", definition={"all": [GOLD]})
    services.segment_counts_refresh(workspace=workspace)
    # a stage of a journey that does not exist: what a deleted map leaves behind
    type(segment).objects.filter(pk=segment.pk).update(
        definition={"all": [{"journey": 999_999, "stage": "Onboarding"}]}
    )
    assert services.segment_counts_refresh(workspace=workspace) == 0
    assert not SegmentCount.objects.exists()


def test_the_cycle_counts_every_workspace(workspace, people):
    other = factories.workspace_make(slug="other", name="Other")
    services.segment_create(workspace=workspace, name="gold", definition={"all": [GOLD]})
    services.segment_create(workspace=other, name="everyone", definition={"all": []})
    assert tasks.segment_counts_cycle.call(repeat=False) == 2
    assert sorted(SegmentCount.objects.values_list("members", flat=True)) == [0, 2]


def test_the_list_shows_the_kept_count_with_its_age_and_counts_the_rest_live(
    workspace, people, member
):
    kept = services.segment_create(workspace=workspace, name="gold", definition={"all": [GOLD]})
    services.segment_counts_refresh(workspace=workspace)
    fresh = services.segment_create(
        workspace=workspace, name="ticket", definition={"all": [TICKET]}
    )
    # a customer who turns gold after the count: the list keeps the counted 2 (and says when),
    # the segment's own page counts 3
    factories.ingest(
        workspace,
        [{**factories.identify("bob", {"tier": "gold"}, ago(1)), "messageId": "bob-gold"}],
    )
    client = Client()
    client.force_login(member)
    listing = client.get("/segments/").content.decode()
    assert f'data-segment="{kept.pk}">2</strong><span class="sub-line muted">counted <time' in (
        listing
    )
    assert f'data-segment="{fresh.pk}">1</strong><span class="sub-line muted">live</span>' in (
        listing
    )
    page = client.get(f"/segments/{kept.pk}/").content.decode()
    assert "Bob" in page and "3" in page


@pytest.mark.usefixtures("each_engine")
def test_one_engine_question_answers_every_event_test_in_order(workspace, people):
    from cxloop.analytics import selectors as analytics_selectors
    from cxloop.journeys.definitions import Condition

    EventTest = analytics_selectors.EventTest
    tests = [
        EventTest(event="Order Completed"),
        EventTest(event="Order Completed", channel="store", min_count=2),
        EventTest(event="Order Completed", since=ago(25), until=ago(13)),  # cara (20) only
        EventTest(event="Order Completed", channel="web", since=ago(30)),
        EventTest(
            event="Order Completed",
            conditions=(Condition(property="channel", op="eq", value="store"),),
        ),
        EventTest(event="Support Ticket Opened", min_count=2),
        EventTest(event="Never Happened"),
    ]
    expected = [
        {"alice", "bob", "cara"},
        {"bob"},
        {"cara"},
        {"cara"},
        {"bob"},
        set(),
        set(),
    ]
    names = {pk: name for name, pk in people.items()}

    def ids(answer) -> set[str]:
        chosen = Customer.objects.filter(pk__in=answer).values_list("pk", flat=True)
        return {names[pk] for pk in chosen}

    answers = analytics_selectors.customers_with_events(workspace=workspace, tests=tests)
    assert [ids(a) for a in answers] == expected
    among = [people["alice"], people["dan"]]
    answers = analytics_selectors.customers_with_events(
        workspace=workspace, tests=tests, among=among
    )
    assert [ids(a) for a in answers] == [e & {"alice", "dan"} for e in expected]
    assert analytics_selectors.customers_with_events(workspace=workspace, tests=[]) == []
