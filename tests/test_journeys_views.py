"""Journey pages through Django's test client: editor, map, funnel, stage on customer pages."""

from __future__ import annotations

import copy
import html
import json
import re

import pytest

from cxloop.journeys import selectors, services
from cxloop.journeys.definitions import parse_journey
from cxloop.journeys.models import JourneyMap
from factories import customer_id, ingest
from test_journeys_maps import SHOP, ev, seed

pytestmark = pytest.mark.django_db


def post_editor(client, url: str, definition: dict):
    """What the visual editor posts: the whole definition as JSON."""
    return client.post(url, {"definition": json.dumps(definition)})


def text(response) -> str:
    plain = html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))
    return re.sub(r"\s+", " ", plain)


def test_pages_need_login(client):
    assert client.get("/journeys/").status_code == 302
    assert client.get("/journeys/funnel/").status_code == 302


def test_empty_list_explains_what_a_journey_is(client, member):
    client.force_login(member)
    page = text(client.get("/journeys/"))
    assert "No journey maps yet." in page


def test_define_a_journey_in_the_editor(client, member, workspace):
    # given
    seed(workspace)
    client.force_login(member)
    assert client.get("/journeys/new/").status_code == 200
    # when
    response = post_editor(client, "/journeys/new/", SHOP)
    # then: the journey is stored and computed
    journey = JourneyMap.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert response["Location"] == f"/journeys/{journey.pk}/"
    assert [s["customers"] for s in journey.metrics["stages"]] == [4, 4, 1]
    assert journey.stages.get(name="Buy").description == "Orders"
    order = journey.stages.get(name="Buy").touchpoints.get()
    assert list(order.rules.values_list("event", "channel")) == [
        ("Order Completed", "web"),
        ("Order Completed", "store"),
    ]
    page = text(client.get(f"/journeys/{journey.pk}/"))
    assert "Big repeat order" in page
    assert "Repeat Order where revenue greater than 100" in page
    assert "Reached 4 Next stage 50% Median time 3.0 h" in page
    # the editor gets it back in the same definition format
    edit = client.get(f"/journeys/{journey.pk}/edit/")
    shown = edit.context["editor"]["definition"]
    assert shown == selectors.journey_definition(journey=journey)
    assert parse_journey(shown).touchpoints[3].rules[0].conditions[0].value == 100


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (lambda d: d["stages"].__setitem__(1, {"name": " "}), "stages[1].name", "Required"),
        (
            lambda d: d["stages"].__setitem__(2, "discover"),
            "stages[2]",
            "Stage 'discover' is already stage 1",
        ),
        (
            lambda d: d["touchpoints"][3]["rules"][0]["conditions"][0].__setitem__("op", "bigger"),
            "touchpoints[3].rules[0].conditions[0].op",
            "Unknown operator 'bigger'",
        ),
        (lambda d: d.__setitem__("name", ""), "name", "Required"),
        (
            lambda d: d["touchpoints"][0]["rules"][0].__setitem__("event", ""),
            "touchpoints[0].rules[0].event",
            "Empty rule",
        ),
    ],
)
def test_editor_errors_are_keyed_by_the_field_they_are_about(
    client, member, workspace, change, path, message
):
    client.force_login(member)
    definition = copy.deepcopy(SHOP)
    change(definition)
    response = post_editor(client, "/journeys/new/", definition)
    assert response.status_code == 422
    errors = response.context["editor"]["errors"]
    assert any(e["path"] == path and e["message"].startswith(message) for e in errors), errors
    assert message in text(response)  # also in the summary at the top
    assert response.context["editor"]["definition"] == definition  # nothing typed is lost
    assert not JourneyMap.objects.exists()


@pytest.mark.parametrize("posted", [{"definition": "{not json"}, {"definition": "[1, 2]"}, {}])
def test_an_unreadable_post_is_refused_with_a_message(client, member, posted):
    client.force_login(member)
    response = client.post("/journeys/new/", posted)
    assert response.status_code == 422
    assert "The journey was not saved" in text(response)


def test_a_stage_without_touchpoints_is_shown_on_its_column(client, member, workspace):
    client.force_login(member)
    definition = copy.deepcopy(SHOP)
    definition["stages"].append("Advocacy")
    response = post_editor(client, "/journeys/new/", definition)
    errors = response.context["editor"]["errors"]
    assert {"path": "stages[3]", "message": "Stage 'Advocacy' has no touchpoints: add one with "
            "a rule, or nobody can ever reach it"} in errors  # fmt: skip


def test_the_rule_picker_lists_properties_seen_with_their_types(client, member, workspace):
    # given events whose properties are a number, text, a flag and a nested object
    seed(workspace)
    ingest(workspace, [
        ev("ann", "Order Delivered", 40, late=True, days=3, carrier={"name": "DPD"}),
        ev("bob", "Order Delivered", 41, late=False, days=1.5, carrier={"name": "DHL"}),
        ev("cat", "Order Delivered", 42, late=True, days=4, carrier={"name": "DPD"}),
    ])  # fmt: skip
    client.force_login(member)
    # when
    answer = client.get("/journeys/editor/properties/", {"event": "Order Delivered"}).json()
    # then
    seen = {p["name"]: p for p in answer["properties"]}
    assert seen["late"]["type"] == "boolean"
    assert seen["days"]["type"] == "number"
    assert seen["carrier.name"]["type"] == "string"
    assert seen["carrier.name"]["examples"] == ["DPD", "DHL"]  # most common first
    assert client.get("/journeys/editor/properties/").status_code == 422


def test_the_live_count_counts_events_the_rule_matches(client, member, workspace):
    # given: the seed's Repeat Order events: ann's revenue 150, bob's 20
    seed(workspace)
    client.force_login(member)

    def count(rule) -> str:
        return text(client.get("/journeys/editor/count/", {"rule": json.dumps(rule)}))

    # then: with and without a condition, on each number operator
    assert count({"event": "Repeat Order"}).startswith(" 2 matching events")
    gt = {"property": "revenue", "op": "gte", "value": 150}
    assert count({"event": "Repeat Order", "conditions": [gt]}).startswith(" 1 matching event ")
    lt = {"property": "revenue", "op": "lt", "value": 20}
    assert count({"event": "Repeat Order", "conditions": [lt]}).startswith(" 0 matching events")
    assert count({"event": "Order Completed", "channel": "store"}).startswith(" 2 matching")
    # and a half-made rule says what is missing, never a 5xx
    assert "Choose an event" in count({"event": ""})
    bad = {"event": "Repeat Order", "conditions": [{"property": "revenue", "op": "bigger"}]}
    assert "unknown operator 'bigger'" in count(bad)
    assert client.get("/journeys/editor/count/", {"rule": "{"}).status_code == 200


@pytest.mark.usefixtures("each_engine")
def test_funnel_page_shows_counts_split_and_dropoffs(client, member, workspace):
    seed(workspace)
    client.force_login(member)
    response = client.get(
        "/journeys/funnel/",
        {
            "step": ["Home", "Order Completed", ""],
            "step_channel": ["", "", ""],
            "window": "3",
            "unit": "hours",
            "split": "channel",
        },
    )
    assert response.status_code == 200
    page = text(response)
    assert "4 customers started · 2 finished" in page
    assert "1. Home 4 100% — —" in page
    assert "2. Order Completed 2 50% 50% 2.5 h" in page
    assert "Stopped after step 1 2" in page
    page_html = response.content.decode()
    assert f'href="/customers/{customer_id(workspace, "cat")}/"' in page_html
    assert f'href="/customers/{customer_id(workspace, "eve")}/"' in page_html


def test_funnel_page_errors(client, member):
    client.force_login(member)
    response = client.get(
        "/journeys/funnel/", {"step": ["Home", "X"], "window": "-1", "unit": "days"}
    )
    assert response.status_code == 422
    assert "Conversion window: give a positive number up to 100 years" in text(response)


def test_customer_pages_show_and_filter_by_stage(client, member, workspace):
    seed(workspace)
    journey = services.journey_create(workspace=workspace, definition=SHOP)
    buy = journey.stages.get(name="Buy")
    client.force_login(member)
    # the 360 page shows the current stage
    detail = text(client.get(f"/customers/{customer_id(workspace, 'ann')}/"))
    assert "Journey stage Shop : Return" in detail
    # the customer list filters by stage
    listed = client.get("/customers/", {"stage": buy.pk})
    shown = set(map(int, re.findall(r'href="/customers/(\d+)/"', listed.content.decode())))
    assert shown == {customer_id(workspace, w) for w in ("bob", "dan", "eve")}
    assert "3 customers, most recently seen first at stage Buy of Shop" in text(listed)
    # combined with a search, and as an htmx fragment
    fragment = client.get(
        "/customers/",
        {"stage": buy.pk, "q": "zzz"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="results",
    )
    assert "No customers match “zzz” at stage Buy." in text(fragment)


@pytest.mark.usefixtures("each_engine")
def test_funnel_page_can_keep_to_customers_at_a_stage(client, member, workspace):
    seed(workspace)
    journey = services.journey_create(workspace=workspace, definition=SHOP)
    client.force_login(member)
    discover = journey.stages.get(name="Discover")
    response = client.get(
        "/journeys/funnel/",
        {"step": ["Home", "Order Completed"], "window": "30", "unit": "days", "stage": discover.pk},
    )
    page = text(response)
    assert "1 customer started · 0 finished" in page  # cat: at Discover, never ordered
    assert "Only customers now at Discover (Shop)" in page


@pytest.mark.usefixtures("each_engine")
def test_funnel_page_splits_by_saved_segments(client, member, workspace):
    from cxloop.segments import services as segment_services

    seed(workspace)
    segment_services.segment_create(
        workspace=workspace,
        name="Newsletter readers",
        definition={"all": [{"event": "Email Opened", "did": True}]},
    )
    segment_services.segment_create(
        workspace=workspace,
        name="Shop buyers",
        definition={"all": [{"event": "Order Completed", "did": True, "channel": "store"}]},
    )
    client.force_login(member)

    response = client.get(
        "/journeys/funnel/",
        {"step": ["Home", "Order Completed"], "window": "3", "unit": "hours", "split": "segments"},
    )

    assert response.status_code == 200
    page = text(response)
    assert "By saved segment (customers can be in several)" in page
    # bob read the newsletter and bought in the shop within 3 h of Home; dan never did Home
    assert "Newsletter readers 1 1" in page
    assert "Shop buyers 1 1" in page


@pytest.mark.usefixtures("each_engine")
def test_funnel_page_reports_an_unknown_split_instead_of_failing(client, member, workspace):
    seed(workspace)
    client.force_login(member)

    for split in ("bogus", "stage:abc"):
        response = client.get(
            "/journeys/funnel/",
            {"step": ["Home", "Order Completed"], "window": "3", "unit": "hours", "split": split},
        )
        assert response.status_code == 422
        assert "split_by" in text(response)


def test_funnel_split_by_segments_leaves_out_a_segment_whose_journey_is_gone(
    client, member, workspace
):
    from cxloop.segments import services as segment_services

    seed(workspace)
    journey = services.journey_create(workspace=workspace, definition=SHOP)
    segment_services.segment_create(
        workspace=workspace,
        name="Buyers",
        definition={"all": [{"stage": "Buy", "journey": journey.pk}]},
    )
    services.journey_delete(journey=journey)
    client.force_login(member)

    response = client.get(
        "/journeys/funnel/",
        {"step": ["Home", "Order Completed"], "window": "3", "unit": "hours", "split": "segments"},
    )

    assert response.status_code == 200
    assert "4 customers started · 2 finished" in text(response)
