"""Who is in a segment: trait, event, score and group conditions as live database queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import factories
from cxloop.customers.models import Customer
from cxloop.segments import selectors, services
from cxloop.segments.definition import SegmentDefinitionError

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def ingest(workspace, messages: list[dict]) -> None:
    """Stored with ids of their own (the same person may send the same event twice)."""
    for number, message in enumerate(messages):
        message.setdefault("messageId", f"m-{workspace.slug}-{message['userId']}-{number}")
    factories.ingest(workspace, messages)


def person(user_id: str, traits: dict, *events: tuple[str, str, float]) -> list[dict]:
    """An identify (with traits) 300 days ago, then track events (name, channel, days ago)."""
    return [
        factories.identify(user_id, {"name": user_id.title(), **traits}, ago(300)),
        *(
            factories.track(user_id, name, ago(days), channel=channel)
            for name, channel, days in events
        ),
    ]


@pytest.fixture
def people(workspace) -> dict[str, int]:
    ingest(
        workspace,
        [
            *person(
                "alice",
                {"tier": "gold", "age": 34, "city": "Leeds"},
                ("Order Completed", "web", 100),
                ("Email Opened", "email", 5),
            ),
            *person(
                "bob",
                {"tier": "silver", "age": 51, "city": "York"},
                ("Order Completed", "store", 10),
                ("Order Completed", "store", 12),
                ("Store Visit", "store", 12),
            ),
            *person("cara", {"tier": "Gold", "city": "Bath"}, ("Order Completed", "web", 20)),
            *person("dan", {"city": "Leeds"}, ("Support Ticket Opened", "chat", 3)),
        ],
    )
    return {c.display_name.lower(): c.pk for c in Customer.objects.filter(workspace=workspace)}


def members(workspace, people, definition) -> set[str]:
    names = {pk: name for name, pk in people.items()}
    found = selectors.segment_customers(workspace=workspace, definition=definition, now=NOW)
    return {names[pk] for pk in found.values_list("pk", flat=True)}


def cond(**condition) -> dict:
    return {"all": [condition]}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"trait": "tier", "op": "eq", "value": "gold"}, {"alice", "cara"}),
        ({"trait": "tier", "op": "eq", "value": "GOLD"}, {"alice", "cara"}),
        ({"trait": "tier", "op": "neq", "value": "gold"}, {"bob", "dan"}),
        ({"trait": "age", "op": "eq", "value": "34"}, {"alice"}),
        ({"trait": "age", "op": "gt", "value": 40}, {"bob"}),
        ({"trait": "age", "op": "gte", "value": 34}, {"alice", "bob"}),
        ({"trait": "age", "op": "lt", "value": 51}, {"alice"}),
        ({"trait": "age", "op": "lte", "value": 51}, {"alice", "bob"}),
        ({"trait": "city", "op": "contains", "value": "EE"}, {"alice", "dan"}),
        ({"trait": "city", "op": "gt", "value": "Bath"}, {"alice", "bob", "dan"}),
        ({"trait": "city", "op": "lte", "value": "Leeds"}, {"alice", "cara", "dan"}),
        ({"trait": "age", "op": "exists"}, {"alice", "bob"}),
        ({"trait": "age", "op": "exists", "value": False}, {"cara", "dan"}),
    ],
)
def test_trait_conditions(workspace, people, condition, expected):
    assert members(workspace, people, cond(**condition)) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"event": "Order Completed"}, {"alice", "bob", "cara"}),
        ({"event": "Order Completed", "did": False}, {"dan"}),
        ({"event": "Order Completed", "within_days": 30}, {"bob", "cara"}),
        ({"event": "Order Completed", "did": False, "within_days": 30}, {"alice", "dan"}),
        ({"event": "Order Completed", "within_days": 11}, {"bob"}),
        ({"event": "Order Completed", "channel": "store"}, {"bob"}),
        ({"event": "Order Completed", "channel": "web", "within_days": 30}, {"cara"}),
        ({"event": "Order Completed", "min_count": 2}, {"bob"}),
        ({"event": "Order Completed", "min_count": 2, "within_days": 11}, set()),
        ({"event": "Order Completed", "did": False, "min_count": 2}, {"alice", "cara", "dan"}),
        ({"event": "Never Happened"}, set()),
    ],
)
@pytest.mark.usefixtures("each_engine")
def test_event_conditions(workspace, people, condition, expected):
    assert members(workspace, people, cond(**condition)) == expected


@pytest.mark.usefixtures("each_engine")
def test_groups_combine_with_and_or_and_nesting(workspace, people):
    gold = {"trait": "tier", "op": "eq", "value": "gold"}
    ticket = {"event": "Support Ticket Opened", "within_days": 7}
    recent_order = {"event": "Order Completed", "within_days": 30}
    recent_email = {"event": "Email Opened", "within_days": 7}

    assert members(workspace, people, {"any": [gold, ticket]}) == {"alice", "cara", "dan"}
    assert members(workspace, people, {"all": [gold, recent_order]}) == {"cara"}
    assert members(
        workspace,
        people,
        {"all": [{"trait": "city", "op": "exists"}, {"any": [recent_order, recent_email]}]},
    ) == {"alice", "bob", "cara"}
    assert members(workspace, people, {"all": []}) == {"alice", "bob", "cara", "dan"}
    assert members(workspace, people, {"any": []}) == set()


@pytest.mark.usefixtures("each_engine")
def test_gold_members_who_have_not_ordered_in_60_days(workspace, people):
    definition = {
        "all": [
            {"trait": "tier", "op": "eq", "value": "gold"},
            {"event": "Order Completed", "did": False, "within_days": 60},
        ]
    }

    assert members(workspace, people, definition) == {"alice"}
    assert selectors.segment_count(workspace=workspace, definition=definition, now=NOW) == 1


@pytest.fixture
def scores(workspace, people) -> None:
    nps = factories.survey_make(workspace, name="Relationship NPS")
    csat = factories.survey_make(workspace, name="Support CSAT", kind="csat")
    factories.response_make(workspace, nps, ago(90), customer_id=people["alice"], nps=9)
    # latest: a detractor now
    factories.response_make(workspace, nps, ago(10), customer_id=people["alice"], nps=3)
    factories.response_make(workspace, nps, ago(40), customer_id=people["bob"], nps=10)
    factories.response_make(workspace, nps, ago(5), customer_id=people["bob"])  # no score: ignored
    factories.response_make(workspace, csat, ago(15), customer_id=people["cara"], csat=5)
    factories.response_make(workspace, csat, ago(2), customer_id=people["dan"], csat=2)
    ces = factories.survey_make(workspace, name="Checkout effort", kind="ces")
    factories.response_make(workspace, ces, ago(20), customer_id=people["cara"], ces=2)
    factories.response_make(workspace, ces, ago(200), customer_id=people["dan"], ces=6)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"score": "nps", "op": "lte", "value": 6}, {"alice"}),
        ({"score": "nps", "op": "gte", "value": 9}, {"bob"}),
        ({"score": "nps", "op": "eq", "value": 9}, set()),
        ({"score": "nps", "op": "neq", "value": 10}, {"alice"}),
        ({"score": "nps", "op": "lt", "value": 10}, {"alice"}),
        ({"score": "nps", "op": "gt", "value": 3}, {"bob"}),
        ({"score": "csat", "op": "eq", "value": 5}, {"cara"}),
        ({"score": "csat", "op": "lte", "value": 2}, {"dan"}),
        ({"score": "ces", "op": "lte", "value": 3}, {"cara"}),
        ({"score": "ces", "op": "gte", "value": 5}, {"dan"}),
        # a window keeps the latest answer given in the last N days before the as-of time
        ({"score": "ces", "op": "gte", "value": 5, "within_days": 100}, set()),
        ({"score": "nps", "op": "lte", "value": 6, "within_days": 30}, {"alice"}),
        ({"score": "nps", "op": "gte", "value": 9, "within_days": 30}, set()),
        ({"score": "nps", "op": "gte", "value": 9, "within_days": 60}, {"bob"}),
        ({"score": "nps", "op": "gte", "value": 9, "within_days": 100}, {"bob"}),
    ],
)
def test_latest_score_conditions(workspace, people, scores, condition, expected):
    assert members(workspace, people, cond(**condition)) == expected


@pytest.mark.usefixtures("each_engine")
def test_other_workspaces_never_count(workspace, other_workspace, people):
    ingest(other_workspace, person("alice", {"tier": "gold"}, ("Order Completed", "web", 1)))
    gold = cond(trait="tier", op="eq", value="gold")

    assert members(workspace, people, gold) == {"alice", "cara"}
    assert selectors.segment_count(workspace=other_workspace, definition=gold, now=NOW) == 1
    order = cond(event="Order Completed", within_days=2)
    assert selectors.segment_count(workspace=workspace, definition=order, now=NOW) == 0


def test_invalid_definition_is_refused_before_querying(workspace):
    with pytest.raises(SegmentDefinitionError, match=r"condition 1 \(event\): event name is empty"):
        selectors.segment_count(workspace=workspace, definition=cond(event=""))


def test_saved_segments_are_validated_and_listed(workspace, member, people):
    segment = services.segment_create(
        workspace=workspace,
        name="  Gold lapsed ",
        description="Gold members to win back",
        definition={
            "all": [
                {"trait": "tier", "op": "eq", "value": "gold"},
                {"event": "Order Completed", "did": False, "within_days": "60"},
            ]
        },
        created_by=member,
    )

    assert segment.name == "Gold lapsed"
    assert segment.definition["all"][1] == {
        "event": "Order Completed",
        "did": False,
        "within_days": 60,
    }
    assert [s.name for s in selectors.segment_list(workspace=workspace)] == ["Gold lapsed"]
    assert selectors.segment_count(workspace=workspace, definition=segment.definition, now=NOW) == 1

    with pytest.raises(SegmentDefinitionError) as caught:
        services.segment_create(
            workspace=workspace,
            name="gold LAPSED",
            definition={"all": [{"trait": "tier", "op": "between", "value": 1}]},
        )
    assert caught.value.errors == [
        "name: a segment called 'gold LAPSED' already exists",
        "condition 1 (trait): unknown operator 'between' for trait 'tier'; use eq, neq, gt, gte, "
        "lt, lte, contains or exists",
    ]

    updated = services.segment_update(
        segment=segment, definition={"any": [{"trait": "tier", "op": "exists"}]}
    )
    assert updated.name == "Gold lapsed"
    assert selectors.segment_count(workspace=workspace, definition=updated.definition, now=NOW) == 3
    with pytest.raises(SegmentDefinitionError, match="name: give the segment a name"):
        services.segment_update(segment=segment, name="  ")

    services.segment_delete(segment=segment)
    assert not selectors.segment_list(workspace=workspace).exists()


@pytest.fixture
def journey(workspace, people):
    from cxloop.journeys import services as journey_services

    return journey_services.journey_create(
        workspace=workspace,
        definition={
            "name": "Retail",
            "stages": ["Engage", "Shop"],
            "touchpoints": [
                {
                    "stage": "Engage",
                    "name": "Newsletter",
                    "channel": "email",
                    "rules": [{"event": "Email Opened"}],
                },
                {
                    "stage": "Engage",
                    "name": "Help desk",
                    "channel": "chat",
                    "rules": [{"event": "Support Ticket Opened"}],
                },
                {
                    "stage": "Shop",
                    "name": "Store",
                    "channel": "store",
                    "rules": [{"event": "Store Visit"}],
                },
            ],
        },
    )


def test_journey_stage_conditions(workspace, people, journey):
    assert members(workspace, people, cond(stage="Engage", journey="Retail")) == {"alice", "dan"}
    assert members(workspace, people, cond(stage="shop", journey=journey.pk)) == {"bob"}
    assert members(
        workspace,
        people,
        {"all": [{"stage": "Engage", "journey": "retail"}, {"trait": "tier", "op": "exists"}]},
    ) == {"alice"}


def test_unknown_journeys_and_stages_are_named(workspace, people, journey):
    with pytest.raises(SegmentDefinitionError) as caught:
        services.segment_create(
            workspace=workspace,
            name="Bad stages",
            definition={
                "any": [
                    {"stage": "Loyal", "journey": "Retail"},
                    {"stage": "Engage", "journey": "Wholesale"},
                ]
            },
        )

    assert caught.value.errors == [
        "condition 1 (stage): unknown stage 'Loyal' in journey 'Retail' (stages: 'Engage', 'Shop')",
        "condition 2 (stage): unknown journey 'Wholesale' (journeys: 'Retail')",
    ]


def test_number_comparisons_skip_text_and_null_traits_on_every_database(workspace):
    ingest(
        workspace,
        [
            *person("ann", {"age": 40}),
            *person("ben", {"age": "41"}),  # numeric text counts as the number
            *person("col", {"age": "unknown"}),
            *person("dee", {"age": None}),
            *person("eve", {"age": 20}),
        ],
    )
    people = {c.display_name.lower(): c.pk for c in Customer.objects.filter(workspace=workspace)}

    older = members(workspace, people, cond(trait="age", op="gt", value=30))
    younger = members(workspace, people, cond(trait="age", op="lt", value=30))

    assert older == {"ann", "ben"}
    assert younger == {"eve"}


def test_is_not_includes_a_null_trait_on_every_database(workspace):
    ingest(workspace, [*person("ann", {"tier": None}), *person("ben", {"tier": "gold"})])
    people = {c.display_name.lower(): c.pk for c in Customer.objects.filter(workspace=workspace)}

    assert members(workspace, people, cond(trait="tier", op="neq", value="gold")) == {"ann"}


def test_score_windows_end_at_the_as_of_time(workspace, people):
    nps = factories.survey_make(workspace, name="Relationship NPS")
    factories.response_make(workspace, nps, ago(20), customer_id=people["alice"], nps=2)
    factories.response_make(workspace, nps, ago(-3), customer_id=people["alice"], nps=10)

    # as of NOW, the answer three days later is not yet known: the latest is the detractor
    window = cond(score="nps", op="lte", value=6, within_days=30)
    assert members(workspace, people, window) == {"alice"}


def test_an_empty_definition_with_added_members_still_holds_everyone(workspace, people, member):
    everyone = services.segment_create(
        workspace=workspace, name="Everyone", definition={"all": []}, created_by=member
    )
    gold = services.segment_create(
        workspace=workspace, name="Gold", definition=cond(trait="tier", op="eq", value="gold"),
        created_by=member,
    )  # fmt: skip
    services.segment_member_add(segment=gold, customer_id=people["bob"])  # silver, added by hand

    every = selectors.segment_count(workspace=workspace, definition={"all": []}, now=NOW)
    counted = selectors.segment_count(
        workspace=workspace, definition=everyone.definition, now=NOW, segment_id=everyone.pk
    )
    golds = selectors.segment_customers(
        workspace=workspace, definition=gold.definition, now=NOW, segment_id=gold.pk
    )

    assert every == len(people) and counted == len(people)
    names = {pk: name for name, pk in people.items()}
    assert {names[pk] for pk in golds.values_list("pk", flat=True)} == {"alice", "cara", "bob"}
