"""REST API for journey maps and funnels (session auth, workspace-scoped)."""

from __future__ import annotations

import pytest

from cxloop.journeys.models import JourneyMap
from test_journeys_maps import SHOP, seed

pytestmark = pytest.mark.django_db


def test_requires_login(client):
    assert client.get("/api/journeys").status_code == 401
    assert client.post("/api/funnels", {}, content_type="application/json").status_code == 401


def test_journey_crud(client, member, workspace):
    # given
    seed(workspace)
    client.force_login(member)
    # when
    created = client.post("/api/journeys", SHOP, content_type="application/json")
    # then
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["metrics"]["customers"] == 5
    assert [s["customers"] for s in body["metrics"]["stages"]] == [4, 4, 1]
    assert [s["name"] for s in body["definition"]["stages"]] == ["Discover", "Buy", "Return"]
    journey_id = body["id"]
    listed = client.get("/api/journeys").json()
    assert [(j["id"], j["name"], j["customers"]) for j in listed] == [(journey_id, "Shop", 5)]

    changed = {**SHOP, "name": "Shop v2", "stages": ["Discover", "Buy"]}
    changed["touchpoints"] = [tp for tp in SHOP["touchpoints"] if tp["stage"] != "Return"]
    updated = client.put(f"/api/journeys/{journey_id}", changed, content_type="application/json")
    assert updated.status_code == 200, updated.content
    assert updated.json()["name"] == "Shop v2"
    assert [s["customers"] for s in updated.json()["metrics"]["stages"]] == [4, 4]

    assert client.post(f"/api/journeys/{journey_id}/recompute").status_code == 200
    assert client.delete(f"/api/journeys/{journey_id}").status_code == 204
    assert client.get(f"/api/journeys/{journey_id}").status_code == 404


def test_invalid_definition_is_422_with_every_error(client, member):
    client.force_login(member)
    bad = {
        "name": "Bad",
        "stages": ["A", "B", "A"],
        "touchpoints": [{"stage": "C", "name": "T", "rules": [{"event": ""}]}],
    }
    response = client.post("/api/journeys", bad, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"] == [
        "stages[2]: stage 'A' is already stage 1; stages are ordered, so a journey cannot go back "
        "to an earlier stage (cycle)",
        "touchpoints[0].stage: unknown stage 'C' (stages: A, B)",
        "touchpoints[0].rules[0].event: empty rule: give the event name (or page/screen name) "
        "it matches",
    ]
    assert not JourneyMap.objects.exists()


@pytest.mark.usefixtures("each_engine")
def test_funnel_query(client, member, workspace):
    seed(workspace)
    client.force_login(member)
    response = client.post(
        "/api/funnels",
        {"steps": ["Home", {"event": "Order Completed"}], "window_seconds": 3 * 3600},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["counts"] == [4, 2]  # ann 2 h after Home, bob exactly 3 h after (inclusive)
    assert body["steps"] == ["Home", "Order Completed"]
    assert body["median_seconds"] == [None, 9000.0]
    shorter = client.post(
        "/api/funnels",
        {"steps": ["Home", "Order Completed"], "window_seconds": 2.5 * 3600},
        content_type="application/json",
    )
    assert shorter.json()["counts"] == [4, 1]

    split = client.post(
        "/api/funnels",
        {"steps": ["Home", "Order Completed"], "window_seconds": None, "split_by": "channel"},
        content_type="application/json",
    ).json()
    assert split["counts"] == [4, 2]
    assert split["groups"] == [{"label": "web", "counts": [4, 2]}]

    bad = client.post(
        "/api/funnels", {"steps": ["Home"], "split_by": ""}, content_type="application/json"
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == ["steps: a funnel needs at least 2 steps"]


def test_other_workspaces_journeys_are_404(client, member, other_workspace):
    from cxloop.journeys import services

    other = services.journey_create(workspace=other_workspace, definition=SHOP)
    client.force_login(member)
    assert client.get(f"/api/journeys/{other.pk}").status_code == 404
    assert client.get("/api/journeys", {"workspace": "globex"}).status_code == 404


@pytest.mark.usefixtures("each_engine")
def test_funnel_query_for_customers_at_a_stage(client, member, workspace):
    from cxloop.journeys import services

    seed(workspace)
    journey = services.journey_create(workspace=workspace, definition=SHOP)
    client.force_login(member)
    buy = journey.stages.get(name="Buy")
    body = client.post(
        "/api/funnels",
        {"steps": ["Home", "Order Completed"], "window_seconds": None, "stage_id": buy.pk},
        content_type="application/json",
    ).json()
    assert body["counts"] == [2, 1]  # bob (Home, then order) and eve (order before Home)
    missing = client.post(
        "/api/funnels",
        {"steps": ["Home", "Order Completed"], "stage_id": 999999},
        content_type="application/json",
    )
    assert missing.status_code == 422
    assert missing.json()["errors"] == ["stage_id: no stage 999999 in this workspace"]


def test_a_stage_feedback_condition_goes_through_the_api(client, member):
    client.force_login(member)
    nps = {"metric": "nps", "op": "gte", "value": 7}
    definition = {**SHOP, "stages": ["Discover", "Buy", {"name": "Return", "feedback": nps}]}
    created = client.post("/api/journeys", definition, content_type="application/json")
    assert created.status_code == 201, created.content
    assert [s["feedback"] for s in created.json()["definition"]["stages"]] == [{}, {}, nps]
    bad = {
        **definition,
        "stages": ["Discover", "Buy", {"name": "Return", "feedback": {"metric": "mood"}}],
    }
    refused = client.post("/api/journeys", bad, content_type="application/json")
    assert refused.status_code == 422
    assert any(e.startswith("stages[2].feedback.metric") for e in refused.json()["errors"])
