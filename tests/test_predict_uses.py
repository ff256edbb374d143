"""Predictions where people use them: customer-list columns, segment conditions and rule
conditions on the latest score, with values chosen by hand (tests/predict_rows.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cxloop.segments import selectors as segment_selectors
from cxloop.segments.definition import SegmentDefinitionError, definition_validate, describe
from cxloop.workflows import services as workflow_services
from cxloop.workflows.models import RuleFiring, WorkflowRun
from factories import customer_id, identify, ingest, response_make, survey_make, track
from predict_rows import run_make, score_make

OLD = datetime(2025, 1, 1, tzinfo=UTC)
NEW = datetime(2025, 2, 1, tzinfo=UTC)


@pytest.fixture
def people(workspace) -> dict[str, int]:
    """Ann, Bob, Cy and Dee. The older run scored Ann and Bob; the newer one Ann (changed) and
    Cy (no churn risk); Dee was never scored. Latest: Ann 250.5 / 35 %, Bob 50 / 90 % (his only
    score), Cy 400 / none, Dee nothing."""
    at = datetime(2025, 1, 1, tzinfo=UTC)
    ingest(workspace, [identify(n, {"name": n.title()}, at) for n in ("ann", "bob", "cy", "dee")])
    ids = {n: customer_id(workspace, n) for n in ("ann", "bob", "cy", "dee")}
    old, new = run_make(workspace, created_at=OLD), run_make(workspace, created_at=NEW)
    score_make(old, ids["ann"], clv=100, churn_risk=0.2, p_alive=0.9, expected_90=2.0)
    score_make(old, ids["bob"], clv=50, churn_risk=0.9, p_alive=0.1, expected_90=0.1)
    score_make(new, ids["ann"], clv=250.5, churn_risk=0.35, p_alive=0.8, expected_90=1.5)
    score_make(new, ids["cy"], clv=400, churn_risk=None, p_alive=0.6, expected_90=3.0)
    return ids


# ------------------------------------------------------------------ customer list


def _cells(html: str, customer: int) -> list[str]:
    row = re.search(rf'href="/customers/{customer}/".*?</tr>', html, re.S)
    assert row, f"no row for customer {customer}"
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row[0])]


@pytest.mark.django_db
def test_customer_list_shows_each_customers_latest_clv_and_churn_risk(client, member, people):
    client.force_login(member)
    # when
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/customers/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    html = html.content.decode()
    # then: the newest score of each (Bob's is from the older run); never scored: a dash
    assert _cells(html, people["ann"])[-2:] == ["CLV 250.50", "Churn risk 35%"]
    assert _cells(html, people["bob"])[-2:] == ["CLV 50.00", "Churn risk 90%"]
    assert _cells(html, people["cy"])[-2:] == ["CLV 400.00", "Churn risk —"]
    assert _cells(html, people["dee"])[-2:] == ["CLV —", "Churn risk —"]
    # one query for the page's rows, not one per row
    reading_scores = [q for q in queries.captured_queries if "predict_customerscore" in q["sql"]]
    assert len(reading_scores) == 1


# ------------------------------------------------------------------ segment conditions


def _members(workspace, *conditions, mode="all") -> set[int]:
    definition = {mode: list(conditions)}
    return set(segment_selectors.segment_customer_ids(workspace=workspace, definition=definition))


@pytest.mark.django_db
def test_segment_conditions_compare_the_latest_score(workspace, people):
    ann, bob, cy = people["ann"], people["bob"], people["cy"]
    # churn risk: Ann 0.35 (not her older 0.2), Bob 0.9; Cy has none, Dee no score: never match
    assert _members(workspace, {"prediction": "churn_risk", "op": "gte", "value": 0.35}) == {
        ann,
        bob,
    }
    assert _members(workspace, {"prediction": "churn_risk", "op": "gt", "value": 0.35}) == {bob}
    assert _members(workspace, {"prediction": "churn_risk", "op": "lt", "value": 0.3}) == set()
    # CLV: 250.5, 50, 400 (Ann's older 100 does not count)
    assert _members(workspace, {"prediction": "clv", "op": "lte", "value": 100}) == {bob}
    assert _members(workspace, {"prediction": "clv", "op": "gt", "value": 200}) == {ann, cy}
    # P(active) 0.8, 0.1, 0.6; expected purchases in 90 days 1.5, 0.1, 3.0
    assert _members(workspace, {"prediction": "p_alive", "op": "lt", "value": 0.7}) == {bob, cy}
    assert _members(
        workspace, {"prediction": "expected_purchases_90", "op": "gte", "value": 1.5}
    ) == {ann, cy}
    # combined with another condition and in "any"
    both = (
        {"prediction": "churn_risk", "op": "gte", "value": 0.3},
        {"prediction": "clv", "op": "gte", "value": 100},
    )
    assert _members(workspace, *both) == {ann}
    assert _members(workspace, *both, mode="any") == {ann, bob, cy}


@pytest.mark.django_db
def test_prediction_conditions_read_only_their_own_workspace(workspace, other_workspace, people):
    ingest(other_workspace, [identify("zed", {"name": "Zed"}, OLD)])
    zed = customer_id(other_workspace, "zed")
    score_make(run_make(other_workspace, created_at=NEW), zed, clv=999, churn_risk=0.99)
    condition = {"prediction": "clv", "op": "gt", "value": 300}
    assert _members(workspace, condition) == {people["cy"]}
    assert _members(other_workspace, condition) == {zed}


def test_prediction_conditions_are_validated_with_clear_errors():
    cleaned = definition_validate(
        {"all": [{"prediction": "churn_risk", "op": "gte", "value": "0.5"}]}
    )
    assert cleaned == {"all": [{"prediction": "churn_risk", "op": "gte", "value": 0.5}]}
    with pytest.raises(SegmentDefinitionError) as caught:
        definition_validate(
            {
                "any": [
                    {"prediction": "ltv", "op": "gt", "value": 1},
                    {"prediction": "clv", "op": "eq", "value": 1},
                    {"prediction": "churn_risk", "op": "gt", "value": 50},
                    {"prediction": "clv", "op": "gt", "value": "lots"},
                    {"prediction": "clv", "op": "gt", "value": -1},
                    {"prediction": "clv", "op": "gt", "value": 1, "days": 3},
                ]
            }
        )
    errors = caught.value.errors
    assert errors[0].startswith("condition 1 (prediction): unknown prediction 'ltv'; use clv,")
    assert errors[1] == (
        "condition 2 (prediction): unknown operator 'eq' for clv; use gt, gte, lt or lte"
    )
    assert errors[2] == (
        "condition 3 (prediction): churn_risk must be between 0 and 1 (a share: 0.5 means 50%),"
        " got 50"
    )
    assert errors[3] == "condition 4 (prediction): clv needs a number, got 'lots'"
    assert errors[4] == "condition 5 (prediction): clv must be at least 0, got -1"
    assert errors[5] == 'condition 6 (prediction): unknown field "days"'


def test_prediction_conditions_read_in_words():
    definition = {
        "all": [
            {"prediction": "churn_risk", "op": "gte", "value": 0.5},
            {"prediction": "clv", "op": "gt", "value": 100},
            {"prediction": "expected_purchases_90", "op": "lt", "value": 0.25},
        ]
    }
    assert describe(definition) == (
        "churn risk ≥ 50% and CLV > 100 and expected purchases in 90 days < 0.25"
    )


@pytest.mark.django_db
def test_api_and_builder_accept_a_prediction_condition(client, member, workspace, people):
    client.force_login(member)
    definition = {"all": [{"prediction": "churn_risk", "op": "gte", "value": 0.5}]}
    # the API saves and counts it
    made = client.post(
        "/api/segments",
        {"name": "Leaving", "definition": definition},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["count"] == 1 and made.json()["summary"] == "churn risk ≥ 50%"
    bad = client.post(
        "/api/segments",
        {"name": "Bad", "definition": {"all": [{"prediction": "clv", "op": "gt", "value": "x"}]}},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == ["condition 1 (prediction): clv needs a number, got 'x'"]
    # the builder adds a prediction row and saves what it says
    row = client.post("/segments/builder/", {"match": "all", "add": "prediction"})
    assert 'name="c-0-prediction"' in row.content.decode()
    saved = client.post(
        "/segments/new/",
        {"name": "Valuable", "match": "all", "mode": "builder", "row": ["0"],
         "c-0-kind": "prediction", "c-0-prediction": "clv", "c-0-op": "gte", "c-0-value": "250"},
    )  # fmt: skip
    assert saved.status_code == 302, saved.content.decode()[:2000]
    segment = segment_selectors.segment_list(workspace=workspace).get(name="Valuable")
    assert segment.definition == {"all": [{"prediction": "clv", "op": "gte", "value": 250}]}
    page = client.get(saved["Location"]).content.decode()
    assert 'name="c-0-prediction"' in page and "Ann" in page and "Cy" in page


# ------------------------------------------------------------------ rule conditions

STEPS = [{"key": "call", "title": "Call the customer", "fields": []}]
AT_RISK = [
    {"field": "prediction.churn_risk", "op": "gte", "value": 0.3},
    {"field": "prediction.clv", "op": "gt", "value": 100},
]


@pytest.mark.django_db
def test_a_rule_on_churn_risk_and_clv_fires_on_the_latest_score(workspace, people):
    template = workflow_services.template_create(workspace=workspace, name="Save", steps=STEPS)
    rule = workflow_services.rule_create(
        workspace=workspace, name="Valuable and leaving", trigger="response_received",
        conditions=AT_RISK, actions=[{"type": "start_workflow", "template_id": template.pk}],
        active=True,
    )  # fmt: skip
    survey = survey_make(workspace)
    for name in ("ann", "bob", "cy", "dee"):
        response = response_make(workspace, survey, NEW, nps=5, customer_id=people[name])
        workflow_services.rules_react_response(workspace_id=workspace.pk, response_id=response.pk)
    # then: only Ann (0.35 ≥ 0.3 and 250.5 > 100); Bob's CLV is 50, Cy has no churn risk, Dee
    # was never scored
    firing = RuleFiring.objects.get(rule=rule)
    assert firing.customer_id == people["ann"]
    assert firing.why == "prediction.churn_risk = 0.35 ≥ 0.3; prediction.clv = 250.5 > 100"
    assert list(WorkflowRun.objects.values_list("customer_id", flat=True)) == [people["ann"]]


@pytest.mark.django_db
def test_rule_conditions_on_predictions_in_event_rules_and_history(workspace, people):
    rule_conditions = [
        {"field": "event", "op": "eq", "value": "Cart Abandoned"},
        {"field": "prediction.p_alive", "op": "lt", "value": 0.7},
    ]
    template = workflow_services.template_create(workspace=workspace, name="Nudge", steps=STEPS)
    workflow_services.rule_create(
        workspace=workspace, name="Fading", trigger="event_received", conditions=rule_conditions,
        actions=[{"type": "start_workflow", "template_id": template.pk}], active=True,
    )  # fmt: skip
    at = NEW + timedelta(days=1)
    ingest(workspace, [track(n, "Cart Abandoned", at) for n in ("ann", "bob", "cy", "dee")])
    # when: the event scan (P(alive): Ann 0.8, Bob 0.1, Cy 0.6, Dee none)
    made = workflow_services.rules_scan_events()
    # then
    assert made == 2
    started = set(WorkflowRun.objects.values_list("customer_id", flat=True))
    assert started == {people["bob"], people["cy"]}
    # and "test against history" agrees, without acting
    seen, fired, listed = workflow_services.rule_test(
        workspace=workspace, trigger="event_received", conditions=rule_conditions,
        start=at - timedelta(days=1), end=at + timedelta(days=1),
    )  # fmt: skip
    assert (seen, fired) == (4, 2)
    assert {w.customer.pk for w in listed} == {people["bob"], people["cy"]}
    assert WorkflowRun.objects.count() == 2


def test_rule_conditions_on_predictions_are_validated():
    from cxloop.workflows.ruledefs import conditions_validate
    from cxloop.workflows.services import DefinitionError

    assert conditions_validate(
        "step_overdue", [{"field": "prediction.clv", "op": "gte", "value": "100"}]
    ) == [{"field": "prediction.clv", "op": "gte", "value": 100}]
    with pytest.raises(DefinitionError) as caught:
        conditions_validate(
            "run_started",
            [
                {"field": "prediction.ltv", "op": "gt", "value": 1},
                {"field": "prediction.churn_risk", "op": "contains", "value": "0.5"},
                {"field": "prediction.clv", "op": "gt", "value": "lots"},
            ],
        )
    errors = caught.value.errors
    assert errors[0].startswith("condition 1: field: 'prediction.ltv' is not one of template, ")
    assert errors[0].endswith("prediction.clv, prediction.churn_risk, prediction.p_alive, "
                              "prediction.expected_purchases_90, prediction.value_at_risk")  # fmt: skip
    assert errors[1] == (
        "condition 2: op: a prediction compares with lt, lte, gt, gte, exists, not 'contains'"
    )
    assert errors[2] == "condition 3: value: 'lots' is not a number"


# ------------------------------------------------------------------ value-at-risk actions


@pytest.fixture
def at_risk(workspace) -> dict[str, int]:
    """One run (the latest): Ann 1000 × 0.6 = 600, Bob 300 × 0.8 = 240, Cy 2000 × 0.1 = 200,
    Dee 50 × 0.9 = 45 at stake."""
    names = ("ann", "bob", "cy", "dee")
    ingest(workspace, [identify(n, {"name": n.title()}, OLD) for n in names])
    ids = {n: customer_id(workspace, n) for n in names}
    run = run_make(workspace, created_at=NEW)
    for name, clv, risk in (("ann", 1000, 0.6), ("bob", 300, 0.8), ("cy", 2000, 0.1),
                            ("dee", 50, 0.9)):  # fmt: skip
        score_make(run, ids[name], clv=clv, churn_risk=risk)
    return ids


@pytest.mark.django_db
def test_value_at_risk_filters_by_clv_too(client, member, at_risk):
    client.force_login(member)
    html = client.get("/predictions/?min_risk=50&min_clv=100").content.decode()
    listed = re.findall(r'<th scope="row"><a href="/customers/(\d+)/"', html)
    assert listed == [str(at_risk["ann"]), str(at_risk["bob"])]  # 600, 240; Cy 10 %, Dee 50
    assert 'id="build-segment"' in html and 'id="start-workflow"' in html


@pytest.mark.django_db
def test_build_a_segment_saves_the_lists_filter(client, member, workspace, at_risk):
    client.force_login(member)
    # when
    made = client.post("/predictions/segment/", {"min_risk": "50", "min_clv": "100"})
    again = client.post("/predictions/segment/", {"min_risk": "50", "min_clv": "100"})
    # then: a segment of prediction conditions, opened
    segments = list(segment_selectors.segment_list(workspace=workspace).order_by("pk"))
    assert [s.name for s in segments] == [
        "At risk: churn risk ≥ 50%, CLV ≥ 100",
        "At risk: churn risk ≥ 50%, CLV ≥ 100 (2)",
    ]
    assert made["Location"] == f"/segments/{segments[0].pk}/"
    assert again["Location"] == f"/segments/{segments[1].pk}/"
    assert segments[0].definition == {
        "all": [
            {"prediction": "churn_risk", "op": "gte", "value": 0.5},
            {"prediction": "clv", "op": "gte", "value": 100},
            {"prediction": "value_at_risk", "op": "gt", "value": 0},
        ]
    }
    members = segment_selectors.segment_customer_ids(
        workspace=workspace, definition=segments[0].definition
    )
    assert set(members) == {at_risk["ann"], at_risk["bob"]}
    page = client.get(made["Location"]).content.decode()
    assert "Saved the segment" in page
    # bad input is named, never a 5xx, and saves nothing
    bad = client.post("/predictions/segment/", {"min_risk": "150"})
    assert bad.status_code == 400 and "min_risk" in bad.content.decode()
    assert segment_selectors.segment_list(workspace=workspace).count() == 2


@pytest.mark.django_db
def test_start_a_workflow_for_the_listed_customers_skips_open_runs(
    client, member, workspace, at_risk
):
    template = workflow_services.template_create(workspace=workspace, name="Save", steps=STEPS)
    other = workflow_services.template_create(workspace=workspace, name="Other", steps=STEPS)
    ann = workspace.customer_set.get(pk=at_risk["ann"])
    workflow_services.run_start(template=template, customer=ann)  # open: Ann is skipped
    workflow_services.run_start(template=other, customer=workspace.customer_set.get(
        pk=at_risk["bob"]))  # fmt: skip
    client.force_login(member)
    # when: the list at 50 % or more (Ann, Bob, Dee) starts "Save"
    started = client.post("/predictions/workflow/", {"min_risk": "50", "template": template.pk})
    # then: Bob and Dee get a run (Bob's run of another workflow does not count); Ann is skipped
    assert started.status_code == 302 and started["Location"] == "/predictions/?min_risk=50"
    runs = WorkflowRun.objects.filter(template=template, source="value at risk")
    assert set(runs.values_list("customer_id", flat=True)) == {at_risk["bob"], at_risk["dee"]}
    assert all(r.started_by_id == member.pk for r in runs)
    page = client.get(started["Location"]).content.decode()
    assert "Started 2 runs of “Save”. 1 customer skipped: a run of it is still open." in page
    # again: everyone listed has an open run now
    client.post("/predictions/workflow/", {"min_risk": "50", "template": template.pk})
    assert WorkflowRun.objects.filter(template=template).count() == 3
    # no workflow chosen, or another workspace's: said, nothing started
    none = client.post("/predictions/workflow/", {"min_risk": "50"}, follow=True)
    assert "Choose a workflow to start" in none.content.decode()
    assert client.post("/predictions/workflow/", {"template": "999999"}).status_code == 302
    assert WorkflowRun.objects.count() == 4


@pytest.mark.django_db
def test_runs_for_customers_follow_merges_and_start_once_each(workspace):
    # given a visitor who signed in as "max": the visitor's profile is merged into max's
    ingest(workspace, [identify("max", {"name": "Max"}, OLD)])
    ingest(workspace, [track("v-1", "Page Viewed", OLD, anonymous=True)])
    visitor = workspace.identity_set.get(kind="anonymous_id", value="v-1").customer_id
    ingest(workspace, [{"type": "identify", "anonymousId": "v-1", "userId": "max",
                        "timestamp": NEW.isoformat()}])  # fmt: skip
    survivor = customer_id(workspace, "max")
    assert workspace.customer_set.get(pk=visitor).merged_into_id == survivor
    template = workflow_services.template_create(workspace=workspace, name="Save", steps=STEPS)
    # when: both ids are asked for, and an unknown id
    started, skipped = workflow_services.runs_start_for_customers(
        template=template, customer_ids=[visitor, survivor, 999_999]
    )
    # then: one run, for the survivor
    assert [r.customer_id for r in started] == [survivor]
    assert skipped == 2
