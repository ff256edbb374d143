"""Rule conditions on the customer's saved segments and journey stages and on a response's
text analytics (sentiment, themes), and the "add to segment" action: expectations by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cxloop.journeys.models import CustomerStage, JourneyMap, Stage
from cxloop.segments import selectors as segment_selectors
from cxloop.segments import services as segment_services
from cxloop.text import services as text_services
from cxloop.text.models import Theme
from cxloop.workflows import services
from cxloop.workflows.models import Notice, RuleFiring
from factories import customer_id, identify, ingest, member_make, response_make, survey_make

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOTIFY = [{"type": "notify", "role": "agent", "text": "look"}]
GOLD = {"all": [{"trait": "tier", "op": "eq", "value": "gold"}]}


@pytest.fixture
def people(workspace):
    """Ann (gold), Bob (silver), Cat (gold)."""
    member_make(workspace=workspace, username="al", role="agent")
    ingest(workspace, [identify("ann", {"tier": "gold"}, T0),
                       identify("bob", {"tier": "silver"}, T0),
                       identify("cat", {"tier": "gold"}, T0)])  # fmt: skip
    return {
        k: workspace.customer_set.get(pk=customer_id(workspace, k)) for k in ("ann", "bob", "cat")
    }


@pytest.fixture
def gold(workspace, people):
    return segment_services.segment_create(workspace=workspace, name="Gold", definition=GOLD)


def _rule(workspace, conditions, actions=NOTIFY, trigger="response_received"):
    return services.rule_create(
        workspace=workspace, name="r", trigger=trigger, conditions=conditions, actions=actions,
        active=True,
    )  # fmt: skip


def _reply(workspace, survey, customer, comment="", nps=5, at=T0):
    return response_make(workspace, survey, at, nps=nps, customer=customer, comment=comment)


def _fired(workspace, response) -> bool:
    return bool(services.rules_react_response(workspace_id=workspace.pk, response_id=response.pk))


def test_a_segment_condition_fires_for_members_only(workspace, people, gold):
    _rule(workspace, [{"field": "in_segment", "op": "eq", "value": gold.pk}])
    survey = survey_make(workspace)

    assert _fired(workspace, _reply(workspace, survey, people["ann"])) is True
    assert _fired(workspace, _reply(workspace, survey, people["bob"])) is False
    assert _fired(workspace, _reply(workspace, survey, people["cat"])) is True
    whys = sorted(RuleFiring.objects.values_list("why", flat=True))
    assert whys == [f"in segment #{gold.pk}", f"in segment #{gold.pk}"]
    assert Notice.objects.count() == 2


def test_not_in_a_segment_fires_for_the_others(workspace, people, gold):
    _rule(workspace, [{"field": "in_segment", "op": "neq", "value": str(gold.pk)}])
    survey = survey_make(workspace)

    assert _fired(workspace, _reply(workspace, survey, people["ann"])) is False
    assert _fired(workspace, _reply(workspace, survey, people["bob"])) is True
    assert RuleFiring.objects.get().why == f"not in segment #{gold.pk}"


@pytest.fixture
def shop(workspace, people):
    """Map Shop: Browse → Buy → Return; Ann is at Buy, Bob at Browse, Cat nowhere."""
    journey = JourneyMap.objects.create(workspace=workspace, name="Shop")
    stages = [Stage.objects.create(journey=journey, position=i, name=n)
              for i, n in enumerate(["Browse", "Buy", "Return"])]  # fmt: skip
    for who, stage in (("ann", stages[1]), ("bob", stages[0])):
        CustomerStage.objects.create(workspace=workspace, journey=journey, stage=stage,
                                     customer=people[who], reached_at=T0)  # fmt: skip
    return journey, stages


def test_a_stage_condition_reads_the_customers_stage_in_that_map(workspace, people, shop):
    journey, (_browse, buy, _back) = shop
    _rule(workspace, [{"field": f"stage.{journey.pk}", "op": "eq", "value": buy.pk}])
    survey = survey_make(workspace)

    assert [_fired(workspace, _reply(workspace, survey, people[k])) for k in ("ann", "bob", "cat")] == [
        True, False, False
    ]  # fmt: skip
    assert RuleFiring.objects.get().why == f"stage.{journey.pk} = {buy.pk} is {buy.pk}"


def test_reached_a_stage_holds_at_it_or_later(workspace, people, shop):
    journey, (browse, buy, _back) = shop
    _rule(workspace, [{"field": f"reached.{journey.pk}", "op": "eq", "value": browse.pk}])
    survey = survey_make(workspace)
    fired = [_fired(workspace, _reply(workspace, survey, people[k])) for k in ("ann", "bob", "cat")]
    assert fired == [True, True, False]  # Cat is in no stage of the map

    other = _rule(workspace, [{"field": f"reached.{journey.pk}", "op": "neq", "value": buy.pk}])
    other.name = "not yet"
    other.save()
    assert [f.customer_id for f in RuleFiring.objects.filter(rule=other)] == []
    services.rules_react_response(
        workspace_id=workspace.pk, response_id=_reply(workspace, survey, people["bob"]).pk
    )
    assert [f.customer_id for f in RuleFiring.objects.filter(rule=other)] == [people["bob"].pk]


def test_sentiment_negative_fires_on_a_negative_comment_not_before_analysis(workspace, people):
    _rule(workspace, [{"field": "sentiment", "op": "eq", "value": "negative"}])
    survey = survey_make(workspace)
    angry = _reply(
        workspace, survey, people["ann"], "Terrible service, the parcel was late and broken."
    )
    happy = _reply(workspace, survey, people["bob"], "Great service, lovely people, thank you!")
    silent = _reply(workspace, survey, people["cat"], "")

    # not analysed yet: the reaction works it out on the spot
    assert _fired(workspace, angry) is True
    assert _fired(workspace, happy) is False
    assert _fired(workspace, silent) is False  # no comment: no sentiment
    why = RuleFiring.objects.get().why
    assert why == "sentiment = 'negative' is 'negative'"


def test_sentiment_is_read_from_the_stored_analysis_when_there_is_one(workspace, people):
    rule = _rule(workspace, [{"field": "sentiment", "op": "eq", "value": "positive"},
                             {"field": "sentiment_score", "op": "gte", "value": "0.5"}])  # fmt: skip
    survey = survey_make(workspace)
    happy = _reply(workspace, survey, people["bob"], "Great service, lovely people, thank you!")
    stored = text_services.text_analyse_response(workspace_id=workspace.pk, response_id=happy.pk)
    assert stored.label == "positive" and stored.score >= 0.5
    # what the analysis stored wins (as if it had been analysed differently)
    type(stored).objects.filter(pk=stored.pk).update(label="neutral", score=0.0)

    assert _fired(workspace, happy) is False
    type(stored).objects.filter(pk=stored.pk).update(label="positive", score=0.75)
    services.rule_update(rule=rule, name="r2", trigger="response_received",
                         conditions=rule.conditions, actions=rule.actions, active=True)  # fmt: skip
    assert _fired(workspace, happy) is True
    assert RuleFiring.objects.get().why == (
        "sentiment = 'positive' is 'positive'; sentiment_score = 0.75 ≥ 0.5"
    )


def test_a_theme_condition_matches_by_keyword_rule_or_stored_link(workspace, people):
    delivery = Theme.objects.create(workspace=workspace, name="Delivery", phrases=["courier"],
                                    rules=["parcel"])  # fmt: skip
    Theme.objects.create(workspace=workspace, name="Price", phrases=["expensive"])
    _rule(workspace, [{"field": "theme", "op": "eq", "value": delivery.pk}])
    survey = survey_make(workspace)
    parcel = _reply(workspace, survey, people["ann"], "My PARCEL never came")
    courier = _reply(workspace, survey, people["bob"], "The courier was rude")
    price = _reply(workspace, survey, people["cat"], "Too expensive for me")

    assert _fired(workspace, parcel) is True  # keyword rule, not analysed yet
    assert _fired(workspace, courier) is True  # key phrase
    assert _fired(workspace, price) is False
    # analysed: the stored links are read (the price text carries no delivery link)
    text_services.text_analyse_response(workspace_id=workspace.pk, response_id=price.pk)
    assert _fired(workspace, price) is False
    assert RuleFiring.objects.filter(why=f"mentions theme #{delivery.pk}").count() == 2


def test_add_to_segment_puts_the_customer_in_its_members_once(workspace, people, gold):
    survey = survey_make(workspace)
    _rule(workspace, [{"field": "nps", "op": "lte", "value": 6}],
          [{"type": "add_to_segment", "segment_id": gold.pk}])  # fmt: skip
    assert segment_selectors.segment_count(workspace=workspace, definition=gold.definition,
                                           segment_id=gold.pk) == 2  # fmt: skip

    bob = people["bob"]
    first = _reply(workspace, survey, bob, nps=3)
    [firing] = services.rules_react_response(workspace_id=workspace.pk, response_id=first.pk)
    assert firing.outcomes == [
        {"action": f"add to segment #{gold.pk}", "ok": True, "detail": "added to 'Gold'"}
    ]
    assert segment_selectors.segment_count(workspace=workspace, definition=gold.definition,
                                           segment_id=gold.pk) == 3  # fmt: skip
    members = segment_selectors.segment_member_ids(workspace=workspace, segment_id=gold.pk)
    assert set(members) == {people["ann"].pk, bob.pk, people["cat"].pk}
    assert segment_selectors.segment_memberships(workspace=workspace, customer_ids=[bob.pk]) == {
        bob.pk: ["Gold"]
    }

    again = _reply(workspace, survey, bob, nps=2, at=T0 + timedelta(days=1))
    [firing] = services.rules_react_response(workspace_id=workspace.pk, response_id=again.pk)
    assert firing.outcomes[0]["detail"] == "already added to 'Gold'"
    assert segment_selectors.segment_count(workspace=workspace, definition=gold.definition,
                                           segment_id=gold.pk) == 3  # fmt: skip
    # the rule's own segment condition now sees Bob in
    assert segment_selectors.customer_segment_ids(
        workspace=workspace, customer_id=bob.pk, segment_ids=[gold.pk, gold.pk]
    ) == {gold.pk}


def test_bad_segment_stage_sentiment_and_theme_conditions_name_the_field(
    workspace, people, gold, shop
):
    journey, stages = shop
    with pytest.raises(services.DefinitionError) as caught:
        _rule(workspace, [
            {"field": "in_segment", "op": "eq", "value": 999999},
            {"field": "in_segment", "op": "lt", "value": gold.pk},
            {"field": f"stage.{journey.pk}", "op": "eq", "value": "x"},
            {"field": "stage.999999", "op": "eq", "value": stages[0].pk},
            {"field": "sentiment", "op": "eq", "value": "furious"},
            {"field": "sentiment_score", "op": "gte", "value": "2"},
            {"field": "theme", "op": "eq", "value": 999999},
            {"field": "in_segment", "op": "eq", "value": {"$ne": 1}},
        ], actions=[{"type": "add_to_segment", "segment_id": 999999},
                    {"type": "add_to_segment"}])  # fmt: skip
    assert caught.value.errors == [
        "condition 1: value: no saved segment 999999 here",
        "condition 2: op: 'lt' here is eq (is) or neq (is not)",
        "condition 3: value: choose a stage",
        "condition 4: field: no journey map 999999 here",
        "condition 5: value: 'furious' is not one of negative, neutral, positive",
        "condition 6: value: '2' is not a score from -1 to 1",
        "condition 7: value: no theme 999999 here",
        "condition 8: value: choose a saved segment",
        "action 1: segment_id: no saved segment 999999 here",
        "action 2: segment_id: required",
    ]
    with pytest.raises(services.DefinitionError) as caught:
        _rule(
            workspace,
            [{"field": "sentiment", "op": "eq", "value": "negative"}],
            trigger="step_completed",
        )
    assert caught.value.errors[0].startswith("condition 1: field: 'sentiment' is not one of")


def test_history_replay_uses_todays_membership_and_says_so(workspace, people, gold):
    survey = survey_make(workspace)
    for who, nps in (("ann", 3), ("bob", 2), ("cat", 9)):
        _reply(workspace, survey, people[who], nps=nps)
    conditions = [{"field": "in_segment", "op": "eq", "value": gold.pk},
                  {"field": "nps", "op": "lte", "value": 6}]  # fmt: skip
    seen, fired, listed = services.rule_test(
        workspace=workspace, trigger="response_received", conditions=conditions,
        start=T0 - timedelta(days=1), end=T0 + timedelta(days=1),
    )  # fmt: skip
    assert (seen, fired) == (3, 1)  # Ann only: Bob is not gold, Cat is a promoter
    assert listed[0].customer == people["ann"]
    assert "today's membership" in services.replay_note("response_received", conditions)
    assert services.replay_note("response_received", [{"field": "nps"}]) == ""


def test_history_replay_reads_sentiment(workspace, people):
    survey = survey_make(workspace)
    _reply(workspace, survey, people["ann"], "Awful, the worst support ever.")
    done = _reply(workspace, survey, people["bob"], "Wonderful, very helpful, thanks!")
    text_services.text_analyse_response(workspace_id=workspace.pk, response_id=done.pk)
    seen, fired, _ = services.rule_test(
        workspace=workspace, trigger="response_received",
        conditions=[{"field": "sentiment", "op": "neq", "value": "positive"}],
        start=T0 - timedelta(days=1), end=T0 + timedelta(days=1),
    )  # fmt: skip
    assert (seen, fired) == (2, 1)


def test_a_segment_trigger_reads_another_segment_and_a_stage(workspace, people, gold, shop):
    """Entering "Gold" fires only for whoever is also in "North" and has reached Buy. Cat is
    gold from the first round (no entry); Bob enters at Browse (no firing), then, once at Buy,
    leaves and enters again (fires)."""
    journey, (_browse, buy, _back) = shop
    CustomerStage.objects.filter(customer=people["bob"]).update(stage=_browse)
    CustomerStage.objects.create(workspace=workspace, journey=journey, stage=buy,
                                 customer=people["cat"], reached_at=T0)  # fmt: skip
    north = segment_services.segment_create(
        workspace=workspace, name="North", definition={"all": [
            {"trait": "region", "op": "eq", "value": "north"}]})  # fmt: skip
    ingest(workspace, [identify("bob", {"region": "north"}, T0),
                       identify("cat", {"region": "north"}, T0)])  # fmt: skip
    rule = services.rule_create(
        workspace=workspace, name="g", trigger="segment_entered", params={"segment_id": gold.pk},
        conditions=[{"field": "in_segment", "op": "eq", "value": north.pk},
                    {"field": f"reached.{journey.pk}", "op": "eq", "value": buy.pk}],
        actions=NOTIFY, active=True, at=T0,
    )  # fmt: skip
    services.rules_scan_segments(now=T0)
    ingest(workspace, [identify("bob", {"tier": "gold"}, T0 + timedelta(hours=1)),
                       identify("cat", {"tier": "gold"}, T0 + timedelta(hours=1))])  # fmt: skip
    assert services.rules_scan_segments(now=T0 + timedelta(hours=2)) == 0  # Bob: not at Buy
    CustomerStage.objects.filter(customer=people["bob"]).update(stage=buy)
    ingest(workspace, [identify("bob", {"tier": "silver"}, T0 + timedelta(hours=3))])
    services.rules_scan_segments(now=T0 + timedelta(hours=3))
    ingest(workspace, [identify("bob", {"tier": "gold"}, T0 + timedelta(hours=4))])
    assert services.rules_scan_segments(now=T0 + timedelta(hours=4)) == 1
    firing = RuleFiring.objects.get(rule=rule)
    assert firing.customer == people["bob"]
    assert firing.why == (f"entered segment 'Gold'; in segment #{north.pk}; "
                          f"reached stage #{buy.pk} of journey map #{journey.pk}")  # fmt: skip
