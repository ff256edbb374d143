"""Journey maps kept from a saved position in the event stream equal a full walk of all events."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from cxloop.analytics import selectors as analytics_selectors
from cxloop.analytics.journeywalk import TouchpointRules
from cxloop.customers.merging import customers_merge, customers_unmerge
from cxloop.customers.models import CustomerMerge
from cxloop.events.services import events_ingest
from cxloop.journeys import selectors, services
from cxloop.journeys.models import CustomerStage, JourneyMap, JourneyProgress, JourneyRewalk
from factories import customer_id, ingest, response_make, survey_make, track

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)

MAP = {
    "name": "Shop",
    "stages": [
        "Discover",
        "Buy",
        {"name": "Advocacy", "feedback": {"metric": "nps", "op": "gte", "value": 7}},
    ],
    "touchpoints": [
        {"stage": "Discover", "name": "Site", "rules": [{"event": "Home"}]},
        {"stage": "Discover", "name": "Mail", "rules": [{"event": "Email Opened"}]},
        {
            "stage": "Buy",
            "name": "Order",
            "rules": [
                {"event": "Order Completed", "channel": "web"},
                {"event": "Order Completed", "channel": "store"},
            ],
        },
        {
            "stage": "Advocacy",
            "name": "Review",
            "rules": [
                {"event": "Review", "conditions": [{"property": "stars", "op": "gte", "value": 4}]}
            ],
        },
    ],
}
NAMES = ("Home", "Email Opened", "Order Completed", "Review", "Unrelated")
PEOPLE = [f"p{i}" for i in range(25)]


def snapshot(journey: JourneyMap) -> tuple[dict, dict]:
    journey.refresh_from_db()
    stages = {
        row.customer_id: (row.stage.position, row.reached_at)
        for row in CustomerStage.objects.filter(journey=journey).select_related("stage")
    }
    return journey.metrics, stages


def full_walk(journey: JourneyMap) -> tuple[dict, dict]:
    """What a walk of every event gives: recompute a copy of the map from scratch."""
    services.journey_recompute(journey=journey)
    return snapshot(journey)


def random_batch(rng: random.Random, serial: list[int], size: int) -> list[dict]:
    messages = []
    for _ in range(size):
        serial[0] += 1
        name = rng.choice(NAMES)
        # times go back and forth: an imported old event arrives after newer ones
        at = T0 + timedelta(minutes=rng.randrange(0, 60 * 24 * 20))
        props = {"stars": rng.randint(1, 5)} if name == "Review" else {}
        messages.append(
            track(
                rng.choice(PEOPLE),
                name,
                at,
                channel=rng.choice(("web", "store", "app")),
                message_id=f"m{serial[0]}",
                **props,
            )
        )
    return messages


@pytest.mark.parametrize("seed", [11, 12])
def test_events_arriving_in_batches_give_the_full_walk(workspace, seed):
    # given: a map computed on a first batch, then more batches, a few answers (the Advocacy
    # condition) and a duplicate delivery between runs of the journey job
    rng = random.Random(seed)
    serial = [0]
    ingest(workspace, random_batch(rng, serial, 60))
    journey = services.journey_create(workspace=workspace, definition=MAP)
    survey = survey_make(workspace)
    for batch in range(5):
        messages = random_batch(rng, serial, rng.randint(0, 40))
        if messages:
            ingest(workspace, messages)
            # the same messages again: stored once (message ids), so nothing changes
            events_ingest(workspace=workspace, messages=messages[:3])
        who = rng.choice(PEOPLE[:10])
        ids = list(
            workspace.identity_set.filter(kind="user_id", value=who).values_list(
                "customer_id", flat=True
            )
        )
        if ids:
            response_make(
                workspace,
                survey,
                T0 + timedelta(days=30 + batch),
                nps=rng.randint(0, 10),
                customer_id=ids[0],
            )

        # when: the job runs from its saved position
        services.journey_advance(journey=journey)
        incremental = snapshot(journey)

        # then: the same metrics and stages as a full walk of every event
        assert incremental == full_walk(journey), f"batch {batch}"


def test_only_new_events_are_read_and_a_changed_map_is_walked_in_full(workspace):
    ingest(workspace, [track("ann", "Home", T0), track("bob", "Home", T0)])
    journey = services.journey_create(workspace=workspace, definition=MAP)
    assert journey.metrics["customers"] == 2
    before = journey.event_position
    assert before > 0

    # a new order of ann: only ann is walked again (bob's rows are left as they were)
    ingest(workspace, [track("ann", "Order Completed", T0 + timedelta(hours=2))])
    bob_rows = list(JourneyProgress.objects.filter(customer_id=customer_id(workspace, "bob")))
    services.journey_advance(journey=journey)
    journey.refresh_from_db()
    assert journey.event_position > before
    assert journey.metrics["stages"][0]["converted"] == 1
    assert journey.metrics["stages"][0]["median_seconds"] == 7200.0
    assert list(JourneyProgress.objects.filter(customer_id=customer_id(workspace, "bob"))) == (
        bob_rows
    )
    assert [r.pk for r in bob_rows] == [
        r.pk for r in JourneyProgress.objects.filter(customer_id=customer_id(workspace, "bob"))
    ]

    # a changed definition: the next run walks everything under the new one
    changed = {**MAP, "touchpoints": MAP["touchpoints"][1:]}
    services.journey_update(journey=journey, definition=changed, recompute=False)
    services.journey_advance(journey=journey)
    journey.refresh_from_db()
    assert journey.metrics["customers"] == 1  # Home no longer counts
    assert journey.metrics == full_walk(journey)[0]


def test_merges_and_unmerges_are_walked_again(workspace):
    # ann browsed; a second profile "ann2" bought; merging them puts one customer at Buy
    ingest(
        workspace,
        [track("ann", "Home", T0), track("ann2", "Order Completed", T0 + timedelta(hours=3))],
    )
    journey = services.journey_create(workspace=workspace, definition=MAP)
    ann, ann2 = customer_id(workspace, "ann"), customer_id(workspace, "ann2")
    assert journey.metrics["customers"] == 2
    customers_merge(survivor_id=ann, merged_ids=[ann2], reason="same person", merged_by="test")
    assert JourneyRewalk.objects.filter(customer_id=ann2).exists()

    services.journey_advance(journey=journey)
    merged = snapshot(journey)
    assert merged[0]["customers"] == 1
    assert merged[0]["stages"][0]["converted"] == 1
    assert merged == full_walk(journey)

    customers_unmerge(merge=CustomerMerge.objects.get(merged_id=ann2), unmerged_by="test")
    services.journey_advance(journey=journey)
    split = snapshot(journey)
    assert split[0]["customers"] == 2
    assert split == full_walk(journey)
    # every map read the entries: the job drops them
    assert services.rewalk_prune(workspace_id=workspace.pk) >= 1
    assert not JourneyRewalk.objects.exists()


def test_progress_metrics_equal_the_engines_walk(workspace, each_engine):
    # the full walk that fills the progress rows gives the engines' metrics and stages
    rng = random.Random(5)
    ingest(workspace, random_batch(rng, [0], 150))
    journey = services.journey_create(workspace=workspace, definition=MAP)
    rules = selectors.journey_rules(journey=journey)
    engine = analytics_selectors.journey_walk(
        workspace=workspace,
        stages=3,
        touchpoints=[
            TouchpointRules(key=str(tp.pk), stage=tp.stage.position, rules=tuple(r))
            for tp, r in rules
        ],
    )
    journey.refresh_from_db()
    assert journey.metrics == engine.metrics
    walked = {c: position for c, (position, _) in engine.current.items()}
    stored = {
        row.customer_id: row.stage.position
        for row in CustomerStage.objects.filter(journey=journey).select_related("stage")
    }
    # the feedback rule only moves customers back (nobody answered here: nothing moves)
    assert stored == walked
