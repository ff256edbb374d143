"""Journey pages through Django's test client: editor, map, funnel, stage on customer pages."""

from __future__ import annotations

import html
import re

import pytest

from cxloop.journeys import services
from cxloop.journeys.models import JourneyMap
from factories import customer_id
from test_journeys_maps import SHOP, seed

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Shop",
    "description": "Browse and buy",
    "stages": "Discover: first visits\nBuy\nReturn",
    "row-stage": ["Discover", "Discover", "Buy", "Buy", "Return", ""],
    "row-touchpoint": ["Site", "Mail", "Order", "Order", "Big repeat order", ""],
    "row-event": ["Home", "Email Opened", "Order Completed", "Order Completed", "Repeat Order", ""],
    "row-channel": ["", "email", "web", "store", "", ""],
    "row-conditions": ["", "", "", "", "revenue gt 100", ""],
}


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


def test_define_a_journey_in_the_form(client, member, workspace):
    # given
    seed(workspace)
    client.force_login(member)
    assert client.get("/journeys/new/").status_code == 200
    # when
    response = client.post("/journeys/new/", FORM)
    # then: the same journey as the API definition, computed
    journey = JourneyMap.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert response["Location"] == f"/journeys/{journey.pk}/"
    assert [s["customers"] for s in journey.metrics["stages"]] == [4, 4, 1]
    assert journey.stages.get(name="Discover").description == "first visits"
    order = journey.stages.get(name="Buy").touchpoints.get()
    assert list(order.rules.values_list("event", "channel")) == [
        ("Order Completed", "web"),
        ("Order Completed", "store"),
    ]
    page = text(client.get(f"/journeys/{journey.pk}/"))
    assert "Discover" in page
    assert "Big repeat order" in page
    assert "Repeat Order where revenue greater than 100" in page
    assert "Reached 4 Next stage 50% Median time 3.0 h" in page
    # the editor shows it back, one row per rule
    edit = client.get(f"/journeys/{journey.pk}/edit/").content.decode()
    assert 'value="revenue gt 100"' in edit
    assert edit.count('name="row-event"') == 5 + 3  # five rules and three blank rows


def test_form_errors_name_the_row(client, member, workspace):
    client.force_login(member)
    form = {
        **FORM,
        "stages": "Discover\nBuy\nDiscover",
        "row-stage": ["Discover", "Buyy", "Buy"],
        "row-touchpoint": ["Site", "Order", "Order 2"],
        "row-event": ["Home", "Order Completed", ""],
        "row-channel": ["", "", ""],
        "row-conditions": ["", "", "revenue bigger 3"],
    }
    response = client.post("/journeys/new/", form)
    assert response.status_code == 422
    page = text(response)
    assert "Row 3, conditions: cannot read 'revenue bigger 3'" in page
    client_errors = client.post("/journeys/new/", {**form, "row-conditions": ["", "", ""]})
    page = text(client_errors)
    assert (
        "Stage line 3: stage 'Discover' is already stage 1; stages are ordered, so a journey "
        "cannot go back to an earlier stage (cycle)" in page
    )
    assert "Row 2, stage: unknown stage 'Buyy' (stages: Discover, Buy)" in page
    assert "Row 3, event: empty rule" in page
    assert not JourneyMap.objects.exists()


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
