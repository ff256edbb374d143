"""Journey maps: validation of definitions, metrics on hand-built events, customers' stages."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from cxloop.core.models import Workspace
from cxloop.customers.models import CustomerMerge
from cxloop.demo.generator import build_demo
from cxloop.demo.journeys import RETAIL_JOURNEY
from cxloop.events.models import Event
from cxloop.feedback.models import Response, Survey
from cxloop.journeys import selectors, services
from cxloop.journeys.definitions import DefinitionError, parse_rule
from cxloop.journeys.models import CustomerStage, JourneyMap, Rule
from factories import customer_id, ingest, track

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)

SHOP = {
    "name": "Shop",
    "description": "Browse, buy, come back",
    "stages": ["Discover", {"name": "Buy", "description": "Orders"}, "Return"],
    "touchpoints": [
        {"stage": "Discover", "name": "Site", "channel": "web", "rules": [{"event": "Home"}]},
        {
            "stage": "Discover",
            "name": "Mail",
            "channel": "email",
            "rules": [{"event": "Email Opened", "channel": "email"}],
        },
        {
            "stage": "Buy",
            "name": "Order",
            "rules": [
                {"event": "Order Completed", "channel": "web"},
                {"event": "Order Completed", "channel": "store"},
            ],
        },
        {
            "stage": "Return",
            "name": "Big repeat order",
            "rules": [
                {
                    "event": "Repeat Order",
                    "conditions": [{"property": "revenue", "op": "gt", "value": 100}],
                }
            ],
        },
    ],
}


def ev(who: str, name: str, hours: float, channel: str = "web", **props) -> dict:
    """A track message ``hours`` after T0."""
    at = T0 + timedelta(hours=hours)
    return track(
        who, name, at, channel=channel, message_id=f"{who}-{name}-{hours}-{channel}", **props
    )


def seed(workspace) -> None:
    ingest(
        workspace,
        [
            # ann: Home, then orders 2 h later, then a big repeat order 24 h after that
            ev("ann", "Home", 0), ev("ann", "Order Completed", 2),
            ev("ann", "Repeat Order", 26, revenue=150),
            # bob: newsletter, Home, then an order 4 h after the newsletter
            ev("bob", "Email Opened", 0, "email"), ev("bob", "Home", 1),
            ev("bob", "Order Completed", 4, "store"),
            ev("bob", "Repeat Order", 30, revenue=20),  # too small: not the Return stage
            # cat: Home only (twice)
            ev("cat", "Home", 0), ev("cat", "Home", 5),
            # dan: buys in the shop without ever browsing (skips Discover), order on app ignored
            ev("dan", "Order Completed", 3, "store"), ev("dan", "Order Completed", 4, "app"),
            # eve: ordered before she ever visited: no conversion from Discover
            ev("eve", "Order Completed", 0), ev("eve", "Home", 1),
        ],
    )  # fmt: skip


@pytest.mark.usefixtures("each_engine")
def test_journey_metrics_and_current_stages_on_hand_built_events(workspace):
    # given
    seed(workspace)
    # when
    journey = services.journey_create(workspace=workspace, definition=SHOP)
    # then
    metrics = journey.metrics
    assert metrics["customers"] == 5
    discover, buy, back = metrics["stages"]
    assert (discover["customers"], discover["events"], discover["converted"]) == (4, 6, 2)
    assert discover["conversion"] == 0.5
    assert discover["median_seconds"] == (2 * 3600 + 4 * 3600) / 2  # ann 2 h, bob 4 h
    assert (buy["customers"], buy["events"], buy["converted"]) == (4, 4, 1)
    assert buy["median_seconds"] == 24 * 3600
    assert back == {
        "customers": 1, "events": 1, "converted": None, "conversion": None,
        "median_seconds": None,
    }  # fmt: skip
    tps = {tp.name: tp.pk for tp in journey.stages.get(name="Discover").touchpoints.all()}
    site, mail = metrics["touchpoints"][str(tps["Site"])], metrics["touchpoints"][str(tps["Mail"])]
    assert (site["customers"], site["events"], site["converted"]) == (4, 5, 2)
    assert site["median_seconds"] == (2 * 3600 + 3 * 3600) / 2  # bob's Home was at 1 h
    assert (mail["customers"], mail["converted"], mail["median_seconds"]) == (1, 1, 4 * 3600)

    stages = {
        row.customer_id: (row.stage.name, row.reached_at)
        for row in CustomerStage.objects.filter(journey=journey).select_related("stage")
    }
    assert stages == {
        customer_id(workspace, "ann"): ("Return", T0 + timedelta(hours=26)),
        customer_id(workspace, "bob"): ("Buy", T0 + timedelta(hours=4)),
        customer_id(workspace, "cat"): ("Discover", T0),
        customer_id(workspace, "dan"): ("Buy", T0 + timedelta(hours=3)),
        customer_id(workspace, "eve"): ("Buy", T0),
    }
    buy_stage = journey.stages.get(name="Buy")
    at_buy = set(
        selectors.customer_ids_at_stage(stage=buy_stage).values_list("customer_id", flat=True)
    )
    assert at_buy == {customer_id(workspace, w) for w in ("bob", "dan", "eve")}


def test_map_view_puts_touchpoints_under_their_stages(workspace):
    seed(workspace)
    journey = services.journey_create(workspace=workspace, definition=SHOP)
    views = selectors.journey_map(journey=journey)
    assert [v.stage.name for v in views] == ["Discover", "Buy", "Return"]
    assert [[tp.touchpoint.name for tp in v.touchpoints] for v in views] == [
        ["Site", "Mail"], ["Order"], ["Big repeat order"],
    ]  # fmt: skip
    assert [r.label() for r in views[2].touchpoints[0].rules] == [
        "Repeat Order where revenue greater than 100"
    ]
    # Site converts at 50% like its stage: fine; Mail converts 100%: good
    assert [tp.health for tp in views[0].touchpoints] == ["good", "good"]


@pytest.mark.usefixtures("each_engine")
def test_definition_round_trips_and_update_recomputes(workspace):
    seed(workspace)
    journey = services.journey_create(workspace=workspace, definition=SHOP)
    definition = selectors.journey_definition(journey=journey)
    assert [s["name"] for s in definition["stages"]] == ["Discover", "Buy", "Return"]
    assert definition["touchpoints"][3]["rules"][0]["conditions"] == [
        {"property": "revenue", "op": "gt", "value": 100.0}
    ]
    # when: the Return stage now counts any repeat order
    definition["touchpoints"][3]["rules"][0]["conditions"] = []
    services.journey_update(journey=journey, definition=definition)
    # then
    journey.refresh_from_db()
    assert journey.metrics["stages"][2]["customers"] == 2
    assert CustomerStage.objects.filter(journey=journey, stage__name="Return").count() == 2
    assert CustomerStage.objects.filter(journey=journey).count() == 5


@pytest.mark.usefixtures("each_engine")
def test_merge_after_compute_keeps_the_furthest_stage(workspace):
    # given: two profiles at different stages, computed, then found to be one person
    ingest(
        workspace,
        [
            {**ev("x", "Home", 0), "userId": None, "anonymousId": "anon-x"},
            ev("u-x", "Order Completed", 2),
        ],
    )
    journey = services.journey_create(workspace=workspace, definition=SHOP)
    assert CustomerStage.objects.filter(journey=journey).count() == 2
    ingest(
        workspace,
        [
            {
                "type": "identify", "anonymousId": "anon-x", "userId": "u-x",
                "timestamp": (T0 + timedelta(hours=3)).isoformat(), "messageId": "link-x",
            }
        ],
    )  # fmt: skip
    assert CustomerMerge.objects.filter(workspace=workspace).count() == 1
    survivor = CustomerMerge.objects.get().survivor_id
    # then: the survivor shows the furthest stage straight away, and after a recompute has one row
    [current] = selectors.customer_journey_stages(customer_id=survivor)
    assert current["stage"].name == "Buy"
    services.journey_recompute(journey=journey)
    assert list(
        CustomerStage.objects.filter(journey=journey).values_list("customer_id", "stage__name")
    ) == [(survivor, "Buy")]
    journey.refresh_from_db()
    assert journey.metrics["stages"][0]["converted"] == 1


def test_bad_definitions_get_clear_errors_and_store_nothing(workspace):
    bad = copy.deepcopy(SHOP)
    bad["stages"].append("Discover")  # a cycle back to the first stage
    bad["touchpoints"][0]["stage"] = "Discovery"  # unknown stage
    bad["touchpoints"][1]["rules"] = [{"event": "  "}]  # empty rule
    bad["touchpoints"][2]["rules"][0]["conditions"] = [
        {"property": "revenue", "op": "gt", "value": "lots"}
    ]
    with pytest.raises(DefinitionError) as caught:
        services.journey_create(workspace=workspace, definition=bad)
    assert caught.value.errors == [
        "stages[3]: stage 'Discover' is already stage 1; stages are ordered, so a journey cannot "
        "go back to an earlier stage (cycle)",
        "touchpoints[0].stage: unknown stage 'Discovery' (stages: Discover, Buy, Return)",
        "touchpoints[1].rules[0].event: empty rule: give the event name (or page/screen name) it "
        "matches",
        "touchpoints[2].rules[0].conditions[0].value: operator 'gt' needs a number, not 'lots'",
    ]
    assert not JourneyMap.objects.exists()
    assert not Rule.objects.exists()


def test_more_definition_errors(workspace):
    cases = [
        ({"name": "", "stages": []}, ["name: required", "stages: list at least one stage, in order (e.g. Awareness, Purchase)"]),
        (
            {"name": "J", "stages": ["A", "B"], "touchpoints": [{"stage": "A", "name": "T", "rules": [{"event": "E"}]}]},
            ["stage 'B' has no touchpoints: add one with a rule, or nobody can ever reach it"],
        ),
        (
            {"name": "J", "stages": ["A"], "touchpoints": [{"stage": "A", "name": "T", "rules": []}]},
            ["touchpoints[0].rules: a touchpoint needs at least one rule (the event that means a customer used it)"],
        ),
        (
            {"name": "J", "stages": ["A"], "touchpoints": [
                {"stage": "A", "name": "T", "rules": [{"event": "E", "conditions": [{"property": "p", "op": "eq"}]}]},
                {"stage": "a", "name": "t", "rules": [{"event": "F"}]},
            ]},
            [
                "touchpoints[0].rules[0].conditions[0].value: operator 'eq' needs a value",
                "touchpoints[1]: touchpoint 't' is already defined in stage 'A' (touchpoints[0]); put all its rules there",
            ],
        ),
    ]  # fmt: skip
    for definition, errors in cases:
        with pytest.raises(DefinitionError) as caught:
            services.journey_create(workspace=workspace, definition=definition)
        assert caught.value.errors == errors
    services.journey_create(workspace=workspace, definition=SHOP)
    with pytest.raises(DefinitionError, match="a journey called 'shop' already exists"):
        services.journey_create(workspace=workspace, definition={**SHOP, "name": "shop"})


@pytest.mark.usefixtures("each_engine")
def test_condition_operators(workspace):
    def matches(op, value, props):
        rule = parse_rule(
            {"event": "E", "conditions": [{"property": "p", "op": op, "value": value}]}, "r"
        )
        return rule.matches("E", "web", props)

    assert matches("eq", "Gold", {"p": "gold"})
    assert matches("eq", 3, {"p": "3"})
    assert matches("neq", "x", {})
    assert not matches("neq", "x", {"p": "x"})
    assert matches("gt", 10, {"p": 11})
    assert not matches("gt", 10, {"p": 10})
    assert matches("lt", 10, {"p": "9.5"})
    assert not matches("lt", 10, {"p": "n/a"})
    assert matches("contains", "late", {"p": "Very LATE parcel"})
    assert matches("contains", "b", {"p": ["a", "b"]})
    assert not matches("contains", "c", {"p": []})
    assert matches("exists", None, {"p": 0})
    assert not matches("exists", None, {"q": 1})
    nested = parse_rule(
        {"event": "E", "conditions": [{"property": "order.total", "op": "gt", "value": 5}]}, "r"
    )
    assert nested.matches("E", "", {"order": {"total": 6}})


def test_workspaces_never_see_each_others_journeys(workspace, other_workspace):
    seed(workspace)
    journey = services.journey_create(workspace=workspace, definition=SHOP)
    assert selectors.journey_get(workspace=other_workspace, journey_id=journey.pk) is None
    other = services.journey_create(workspace=other_workspace, definition=SHOP)
    assert other.metrics["customers"] == 0
    assert (
        selectors.stage_get(workspace=other_workspace, stage_id=journey.stages.first().pk) is None
    )


def test_stage_find_by_names(workspace, other_workspace):
    journey = services.journey_create(workspace=workspace, definition=SHOP)
    found = selectors.stage_find(workspace=workspace, journey="shop", stage="BUY")
    assert found == journey.stages.get(name="Buy")
    assert selectors.stage_find(workspace=workspace, journey="Shop", stage="Nope") is None
    assert selectors.stage_find(workspace=other_workspace, journey="Shop", stage="Buy") is None


@pytest.mark.usefixtures("each_engine")
def test_demo_retail_journey_maps_the_demos_real_events(db):
    # when: a small demo workspace is built (build_demo adds the retail journey map)
    build_demo(slug="demo", customers=300, seed=3, now=datetime(2025, 6, 1, tzinfo=UTC))
    workspace = Workspace.objects.get(slug="demo")
    # then: every rule names an event (and channel) the demo really sends
    sent = set(Event.objects.filter(workspace=workspace).values_list("name", "channel"))
    for tp in RETAIL_JOURNEY["touchpoints"]:
        for rule in tp["rules"]:
            assert any(
                name == rule["event"] and (not rule.get("channel") or channel == rule["channel"])
                for name, channel in sent
            ), rule
    journey = JourneyMap.objects.get(workspace=workspace)
    assert [s.name for s in journey.stages.all()] == [
        "Awareness", "Consideration", "Purchase", "Retention", "Advocacy",
    ]  # fmt: skip
    assert all(stage["customers"] > 0 for stage in journey.metrics["stages"])
    placed = dict(
        CustomerStage.objects.filter(journey=journey).values_list("customer_id", "stage__name")
    )
    # everyone who reached a stage is placed, but a detractor who reached it only at Advocacy
    assert len(placed) <= journey.metrics["customers"]
    # and nobody whose latest NPS says detractor is placed at Advocacy (latest NPS >= 7)
    latest = {}
    for who, score in (
        Response.objects.filter(workspace=workspace, completed=True, nps_score__isnull=False)
        .exclude(customer=None)
        .order_by("submitted_at", "pk")
        .values_list("customer_id", "nps_score")
    ):
        latest[who] = score
    advocates = [who for who, stage in placed.items() if stage == "Advocacy"]
    assert advocates
    assert all(latest.get(who, 10) >= 7 for who in advocates)
    # some reached Advocacy but were placed back (the rule is not idle on the demo)
    assert journey.metrics["stages"][4]["customers"] > len(advocates)


def test_touchpoint_csat_and_nps_from_survey_responses_colour_the_map(workspace):
    # given: responses about the order (CSAT, some on the wrong channel) and the newsletter (NPS)
    seed(workspace)
    journey = services.journey_create(workspace=workspace, definition=SHOP)
    survey = Survey.objects.create(workspace=workspace, name="After order", public_token="t1")

    def respond(key, touchpoint, channel, csat=None, nps=None, completed=True):
        Response.objects.create(
            workspace=workspace, survey=survey, response_key=key, touchpoint=touchpoint,
            channel=channel, csat_score=csat, nps_score=nps, completed=completed, started_at=T0,
        )  # fmt: skip

    for i, score in enumerate((5, 4, 2, 1, 1)):
        respond(f"c{i}", "Order Completed", "web", csat=score)
    respond("c-app", "Order Completed", "app", csat=5)  # no rule for app orders
    respond("c-open", "Order Completed", "web", csat=5, completed=False)  # not submitted
    for i, score in enumerate((10, 9, 9, 3)):
        respond(f"n{i}", "Mail", "email", nps=score)  # by the touchpoint's own name
    # when
    views = selectors.journey_map(journey=journey)
    # then
    order = views[1].touchpoints[0]
    assert order.feedback == {"responses": 5, "csat": 0.4, "nps": None}
    assert (order.health, order.health_reason) == ("weak", "CSAT 40%")
    mail = views[0].touchpoints[1]
    assert mail.feedback == {"responses": 4, "csat": None, "nps": 50.0}
    assert (mail.health, mail.health_reason) == ("good", "NPS +50")
    site = views[0].touchpoints[0]
    assert site.feedback == {}


def test_touchpoint_feedback_counts_responses_whose_event_meets_the_rules_conditions(workspace):
    # given: ann's repeat order was big (150), bob's small (20); each answered about it after
    seed(workspace)
    journey = services.journey_create(workspace=workspace, definition=SHOP)
    survey = Survey.objects.create(workspace=workspace, name="After order", public_token="t1")
    for who, csat in (("ann", 5), ("bob", 1)):
        Response.objects.create(
            workspace=workspace, survey=survey, response_key=who, touchpoint="Repeat Order",
            channel="web", csat_score=csat, completed=True, started_at=T0 + timedelta(hours=40),
            customer_id=customer_id(workspace, who),
        )  # fmt: skip
    # when
    views = selectors.journey_map(journey=journey)
    # then: "Big repeat order" (revenue > 100) has ann's answer only, as its walk has her alone
    big = views[2].touchpoints[0]
    assert big.touchpoint.name == "Big repeat order" and big.metrics["customers"] == 1
    assert big.feedback == {"responses": 1, "csat": 1.0, "nps": None}


def test_worker_cycle_moves_customers_on_as_new_events_arrive(workspace, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    from cxloop.journeys.tasks import journeys_cycle

    seed(workspace)
    journey = services.journey_create(workspace=workspace, definition=SHOP)
    assert (
        selectors.stage_of_customers(journey=journey)[customer_id(workspace, "cat")] == "Discover"
    )
    ingest(workspace, [ev("cat", "Order Completed", 7)])  # cat buys after the map was computed

    # when: the worker's cycle runs (immediate backend; repeat=False so it does not recurse)
    result = journeys_cycle.enqueue(repeat=False)

    # then
    assert result.return_value == 1
    assert selectors.stage_of_customers(journey=journey)[customer_id(workspace, "cat")] == "Buy"


def test_journeys_worker_chain_is_started_once(db):
    from django_tasks_db.models import DBTaskResult

    from cxloop.journeys.tasks import ensure_journeys_cycle, journeys_cycle

    first, second = ensure_journeys_cycle(), ensure_journeys_cycle()

    queued = DBTaskResult.objects.filter(task_path=journeys_cycle.module_path)
    assert (first, second) == (True, False)
    assert list(queued.values_list("status", flat=True)) == ["READY"]
