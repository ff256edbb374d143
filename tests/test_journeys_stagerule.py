"""The feedback rule of current stages (journeys.stagerule): nobody is placed at a stage whose
feedback condition their latest score fails; they fall back to the furthest stage they reached
whose condition holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cxloop.customers.models import Customer
from cxloop.feedback.models import Response, Survey
from cxloop.journeys import selectors, services
from cxloop.journeys.definitions import DefinitionError, FeedbackCondition, parse_journey
from cxloop.journeys.models import CustomerStage
from cxloop.journeys.stagerule import place
from factories import customer_id, ingest, track

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)

LOYAL = {
    "name": "Loyalty",
    "stages": [
        "Buy",
        "Support",
        {"name": "Advocacy", "feedback": {"metric": "nps", "op": "gte", "value": 7}},
    ],
    "touchpoints": [
        {"stage": "Buy", "name": "Order", "rules": [{"event": "Order Completed"}]},
        {"stage": "Support", "name": "Ticket", "rules": [{"event": "Ticket Opened"}]},
        {
            "stage": "Advocacy",
            "name": "Top rating",
            "rules": [
                {
                    "event": "Ticket Closed",
                    "conditions": [{"property": "satisfaction", "op": "gte", "value": 5}],
                }
            ],
        },
    ],
}


def ev(who: str, name: str, hours: float, **props) -> dict:
    at = T0 + timedelta(hours=hours)
    return track(who, name, at, message_id=f"{who}-{name}-{hours}", **props)


def answer(workspace, survey, who: str, nps: int, hours: float) -> None:
    Response.objects.create(
        workspace=workspace, survey=survey, customer=Customer.objects.get(pk=customer_id(workspace, who)),
        response_key=f"{who}-{hours}", nps_score=nps, completed=True, started_at=T0,
        submitted_at=T0 + timedelta(hours=hours),
    )  # fmt: skip


def stage_of(workspace, journey, who: str) -> tuple[str, datetime] | None:
    row = CustomerStage.objects.filter(
        journey=journey, customer_id=customer_id(workspace, who)
    ).first()
    return (row.stage.name, row.reached_at) if row else None


def test_a_detractor_is_not_placed_at_a_stage_whose_condition_their_latest_nps_fails(workspace):
    # given four customers who all reached Advocacy (a 5-star ticket), with different feedback
    ingest(
        workspace,
        [
            ev(w, name, h, **props)
            for w in ("ann", "bob", "cat", "dan")
            for name, h, props in (
                ("Order Completed", 1, {}),
                ("Ticket Opened", 2, {}),
                ("Ticket Closed", 3, {"satisfaction": 5}),
            )
        ]
        + [ev("eve", "Ticket Closed", 3, satisfaction=5)],  # eve skipped Buy and Support
    )
    survey = Survey.objects.create(workspace=workspace, name="NPS", public_token="n1")
    answer(workspace, survey, "ann", 3, 10)  # ann: detractor now
    answer(workspace, survey, "bob", 2, 5)  # bob: was a detractor, latest says 9
    answer(workspace, survey, "bob", 9, 20)
    answer(workspace, survey, "cat", 9, 5)  # cat: was a promoter, latest says 6
    answer(workspace, survey, "cat", 6, 20)
    answer(workspace, survey, "eve", 0, 5)  # dan: never answered
    # when the journey is computed
    journey = services.journey_create(workspace=workspace, definition=LOYAL)
    # then ann and cat fall back to Support, reached at hour 2; bob and dan stay at Advocacy;
    # eve reached no other stage and has none
    assert stage_of(workspace, journey, "ann") == ("Support", T0 + timedelta(hours=2))
    assert stage_of(workspace, journey, "cat") == ("Support", T0 + timedelta(hours=2))
    assert stage_of(workspace, journey, "bob") == ("Advocacy", T0 + timedelta(hours=3))
    assert stage_of(workspace, journey, "dan") == ("Advocacy", T0 + timedelta(hours=3))
    assert stage_of(workspace, journey, "eve") is None
    # and the map still counts everyone who reached Advocacy (volumes are reach, not placement)
    assert journey.metrics["stages"][2]["customers"] == 5


def test_the_feedback_condition_round_trips_through_the_definition(workspace):
    journey = services.journey_create(workspace=workspace, definition=LOYAL, recompute=False)
    definition = selectors.journey_definition(journey=journey)
    assert definition["stages"][2]["feedback"] == {"metric": "nps", "op": "gte", "value": 7}
    assert definition["stages"][0]["feedback"] == {}
    assert parse_journey(definition).stages[2].feedback == FeedbackCondition("nps", "gte", 7)


@pytest.mark.parametrize(
    ("feedback", "message"),
    [
        ({"metric": "mood", "op": "gte", "value": 7}, "stages[2].feedback.metric: unknown metric"),
        ({"metric": "nps", "op": "gt", "value": 7}, "stages[2].feedback.op: unknown operator"),
        ({"metric": "nps", "op": "gte", "value": 11}, "stages[2].feedback.value: give a whole"),
        ({"metric": "nps", "op": "gte", "value": "x"}, "stages[2].feedback.value: give a whole"),
        ("nps>7", "stages[2].feedback: expected {metric, op, value}"),
    ],
)
def test_a_bad_feedback_condition_is_refused_with_its_place(feedback, message):
    definition = {
        **LOYAL,
        "stages": [*LOYAL["stages"][:2], {"name": "Advocacy", "feedback": feedback}],
    }
    with pytest.raises(DefinitionError) as caught:
        parse_journey(definition)
    assert any(e.startswith(message) for e in caught.value.errors), caught.value.errors


def test_place_picks_the_furthest_reached_stage_whose_condition_holds():
    at = {0: "t0", 1: "t1", 3: "t3"}
    conditions = {3: FeedbackCondition("nps", "gte", 9), 1: FeedbackCondition("csat", "gte", 4)}
    assert place(at, conditions, {"nps": 9}) == (3, "t3")
    assert place(at, conditions, {"nps": 8}) == (1, "t1")  # no CSAT: stage 1 not contradicted
    assert place(at, conditions, {"nps": 8, "csat": 2}) == (0, "t0")
    assert place({3: "t3"}, conditions, {"nps": 1}) is None
    assert place(at, {}, {"nps": 0}) == (3, "t3")
