"""Choosing customers by saved segment or journey stage: one selector each, and the pages and the
REST API give the same answer (and the same refusals) for the same input."""

from __future__ import annotations

import html
import re

import pytest

from cxloop.journeys import paths as path_analysis
from cxloop.journeys import selectors as journey_selectors
from cxloop.journeys import services as journey_services
from cxloop.segments import selectors as segment_selectors
from cxloop.segments import services as segment_services
from factories import customer_id
from test_journeys_maps import SHOP, seed

pytestmark = pytest.mark.django_db

FUNNEL = ["Home", "Order Completed"]


def text(response) -> str:
    plain = html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))
    return re.sub(r"\s+", " ", plain)


def stat(response, name: str) -> int:
    found = re.search(rf'id="stat-{name}">([\d,]+)<', response.content.decode())
    assert found, f"no stat-{name} on the page"
    return int(found.group(1).replace(",", ""))


@pytest.fixture
def segments(workspace):
    """Browsers did Home (ann, bob, cat, eve); Shop buyers ordered in the store (bob, dan)."""
    seed(workspace)
    browsers = segment_services.segment_create(
        workspace=workspace, name="Browsers", definition={"all": [{"event": "Home", "did": True}]}
    )
    shop_buyers = segment_services.segment_create(
        workspace=workspace,
        name="Shop buyers",
        definition={"all": [{"event": "Order Completed", "did": True, "channel": "store"}]},
    )
    return browsers, shop_buyers


# ------------------------------------------------------------------ the selectors


def test_segment_member_ids_names_a_missing_or_broken_segment(workspace, other_workspace):
    seed(workspace)
    journey = journey_services.journey_create(workspace=workspace, definition=SHOP)
    broken = segment_services.segment_create(
        workspace=workspace,
        name="Buyers",
        definition={"all": [{"stage": "Buy", "journey": journey.pk}]},
    )
    assert set(segment_selectors.segment_member_ids(workspace=workspace, segment_id=broken.pk)) == {
        customer_id(workspace, w) for w in ("bob", "dan", "eve")
    }
    elsewhere = segment_services.segment_create(
        workspace=other_workspace, name="Theirs", definition={"all": []}
    )

    with pytest.raises(segment_selectors.SegmentChoiceError) as missing:
        segment_selectors.segment_member_ids(workspace=workspace, segment_id=elsewhere.pk)
    journey_services.journey_delete(journey=journey)
    with pytest.raises(segment_selectors.SegmentChoiceError) as gone:
        segment_selectors.segment_member_ids(workspace=workspace, segment_id=broken.pk)

    assert missing.value.missing
    assert f"no segment {elsewhere.pk}" in str(missing.value)
    assert not gone.value.missing
    assert str(gone.value).startswith("segment 'Buyers': ")


def test_stage_member_ids_only_in_the_workspace(workspace, other_workspace):
    seed(workspace)
    buy = journey_services.journey_create(workspace=workspace, definition=SHOP).stages.get(
        name="Buy"
    )
    theirs = journey_services.journey_create(workspace=other_workspace, definition=SHOP)

    stage, ids = journey_selectors.stage_member_ids(workspace=workspace, stage_id=buy.pk)

    assert stage == buy
    assert set(ids) == {
        customer_id(workspace, w) for w in ("bob", "dan", "eve")
    }  # ann went on to Return
    with pytest.raises(journey_selectors.StageChoiceError, match="no stage"):
        journey_selectors.stage_member_ids(
            workspace=workspace, stage_id=theirs.stages.get(name="Buy").pk
        )


# ------------------------------------------------------------------ page and API agree


def test_funnel_split_by_segments_is_the_same_on_the_page_and_in_the_api(client, member, segments):
    client.force_login(member)

    page = client.get(
        "/journeys/funnel/",
        {"step": FUNNEL, "window": "3", "unit": "hours", "split": "segments"},
    )
    api = client.post(
        "/api/funnels",
        {"steps": FUNNEL, "window_seconds": 3 * 3600, "split_by": "segments"},
        content_type="application/json",
    )

    # Home then an order within 3 h: ann (2 h) and bob (3 h); cat never orders, eve ordered first
    assert api.status_code == 200, api.content
    assert api.json()["groups"] == [
        {"label": "Browsers", "counts": [4, 2]},
        {"label": "Shop buyers", "counts": [1, 1]},  # dan never did Home
    ]
    assert page.status_code == 200
    assert "Browsers 4 2" in text(page)
    assert "Shop buyers 1 1" in text(page)


def test_funnel_stage_filter_is_the_same_on_the_page_and_in_the_api(
    client, member, workspace, other_workspace
):
    seed(workspace)
    buy = journey_services.journey_create(workspace=workspace, definition=SHOP).stages.get(
        name="Buy"
    )
    theirs = journey_services.journey_create(workspace=other_workspace, definition=SHOP)
    client.force_login(member)

    page = client.get(
        "/journeys/funnel/", {"step": FUNNEL, "window": "30", "unit": "days", "stage": buy.pk}
    )
    api = client.post(
        "/api/funnels",
        {"steps": FUNNEL, "window_seconds": 30 * 86400, "stage_id": buy.pk},
        content_type="application/json",
    )

    assert api.json()["counts"] == [2, 1]  # bob (Home, then order) and eve (order before Home)
    assert "2 customers started · 1 finished" in text(page)

    foreign = theirs.stages.get(name="Buy").pk  # another workspace's stage is no stage here
    bad_page = client.get(
        "/journeys/funnel/", {"step": FUNNEL, "window": "30", "unit": "days", "stage": foreign}
    )
    bad_api = client.post(
        "/api/funnels", {"steps": FUNNEL, "stage_id": foreign}, content_type="application/json"
    )
    assert bad_page.status_code == bad_api.status_code == 422
    assert f"Stage: no stage {foreign} in this workspace" in text(bad_page)
    assert bad_api.json()["errors"] == [f"stage_id: no stage {foreign} in this workspace"]


def test_customer_list_refuses_an_unknown_stage(client, member, workspace, other_workspace):
    theirs = journey_services.journey_create(workspace=other_workspace, definition=SHOP)
    client.force_login(member)

    assert client.get("/customers/", {"stage": theirs.stages.first().pk}).status_code == 404
    assert client.get("/customers/", {"stage": "abc"}).status_code == 400  # not an id at all


def test_paths_for_a_segment_are_the_same_on_the_page_and_in_the_api(client, member, segments):
    _, shop_buyers = segments
    client.force_login(member)
    query = {"start": "Home", "end": "Order Completed", "segment": shop_buyers.pk}

    page = client.get("/paths/", query)
    api = client.get("/api/paths", query).json()

    # of bob and dan only bob did Home, then ordered
    assert (api["started"], api["completed"]) == (1, 1)
    assert api["paths"] == [{"steps": ["Home", "Order Completed"], "customers": 1, "share": 1.0}]
    assert (stat(page, "started"), stat(page, "completed")) == (1, 1)


def test_paths_refuse_a_segment_of_another_workspace(client, member, segments, other_workspace):
    theirs = segment_services.segment_create(
        workspace=other_workspace, name="Theirs", definition={"all": []}
    )
    client.force_login(member)
    query = {"start": "Home", "segment": theirs.pk}

    page = client.get("/paths/", query)
    api = client.get("/api/paths", query)
    before = client.get("/api/paths/before", {"segment": theirs.pk})

    assert f"segment: no segment {theirs.pk} in this workspace" in text(page)
    assert 'id="stat-started"' not in page.content.decode()
    assert api.status_code == before.status_code == 404
    assert api.json()["detail"] == f"segment: no segment {theirs.pk} in this workspace"


@pytest.mark.parametrize("top", [0, path_analysis.MAX_TOP + 1])
def test_paths_top_has_one_bound_for_page_and_api(client, member, segments, top):
    client.force_login(member)
    query = {"start": "Home", "top": top}

    page = client.get("/paths/", query)
    api = client.get("/api/paths", query)
    before = client.get("/api/paths/before", {"top": top})

    assert f"top: {top} is outside 1–{path_analysis.MAX_TOP}" in text(page)
    assert api.status_code == before.status_code == 422
    assert api.json()["detail"].startswith("top: Input should be")  # the schema's bound
    assert f"top: Input should be less than or equal to {path_analysis.MAX_TOP}" in str(
        client.get("/api/paths", {"start": "Home", "top": path_analysis.MAX_TOP + 1}).json()
    )


def test_paths_top_at_the_bound_works_on_page_and_api(client, member, segments):
    client.force_login(member)
    query = {"start": "Home", "top": path_analysis.MAX_TOP}

    page = client.get("/paths/", query)
    api = client.get("/api/paths", query)

    assert api.status_code == 200
    assert api.json()["started"] == 4
    assert stat(page, "started") == 4
