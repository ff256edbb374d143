"""The typed REST API: session auth, workspace scoping, 360 and timeline, OpenAPI schema."""

from __future__ import annotations

import pytest

from cxloop.events.services import events_ingest


@pytest.fixture
def data(workspace, other_workspace):
    events_ingest(
        workspace=workspace,
        messages=[
            {"type": "identify", "userId": "u1", "messageId": "1", "traits": {"email": "ann@x.io", "name": "Ann"},
             "context": {"consent": {"categoryPreferences": {"email": True}}}},
            {"type": "track", "userId": "u1", "messageId": "2", "event": "Order Completed",
             "properties": {"channel": "store"}},
            {"type": "page", "anonymousId": "a1", "messageId": "3", "name": "Home"},
        ],
    )  # fmt: skip
    events_ingest(
        workspace=other_workspace,
        messages=[
            {"type": "identify", "userId": "b1", "messageId": "1", "traits": {"name": "Ann B"}}
        ],
    )


def test_requires_login(client, data):
    assert client.get("/api/customers").status_code == 401


def test_search_is_scoped_to_the_members_workspace(client, member, data):
    client.force_login(member)

    body = client.get("/api/customers", {"q": "ann"}).json()

    assert body["count"] == 1
    assert body["items"][0]["display_name"] == "Ann"
    assert client.get("/api/customers", {"workspace": "globex"}).status_code == 404


def test_customer_360_and_timeline(client, member, data):
    client.force_login(member)
    customer_id = client.get("/api/customers", {"q": "ann"}).json()["items"][0]["id"]

    detail = client.get(f"/api/customers/{customer_id}").json()
    events = client.get(f"/api/customers/{customer_id}/events", {"channel": "store"}).json()

    assert {(i["kind"], i["value"]) for i in detail["identities"]} == {
        ("user_id", "u1"),
        ("email", "ann@x.io"),
    }
    assert [(c["channel"], c["status"]) for c in detail["consents"]] == [("email", "granted")]
    assert events["count"] == 1
    assert events["items"][0]["name"] == "Order Completed"


def test_other_workspaces_customer_is_404(client, member, data, other_workspace):
    from cxloop.customers.models import Customer

    foreign = Customer.objects.get(workspace=other_workspace)
    client.force_login(member)

    assert client.get(f"/api/customers/{foreign.pk}").status_code == 404
    assert client.get(f"/api/customers/{foreign.pk}/events").status_code == 404


def test_bad_paging_is_a_clear_error(client, member, data):
    client.force_login(member)

    response = client.get("/api/customers", {"limit": 0})

    assert response.status_code == 422
    assert response.json()["detail"].startswith("limit: ")


def test_openapi_schema_lists_the_routes(client, member):
    client.force_login(member)

    paths = client.get("/api/openapi.json").json()["paths"]

    assert {
        "/api/customers",
        "/api/customers/{customer_id}",
        "/api/customers/{customer_id}/events",
    } <= set(paths)
