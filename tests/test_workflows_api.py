"""The workflows REST API: start a run for a customer, complete its step (422 naming the field,
409 once done), list runs, templates and rules with the roles' limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cxloop.workflows import services
from factories import customer_id, identify, ingest, member_make

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STEPS = [{"key": "call", "title": "Call", "fields": [
    {"key": "mood", "label": "Mood", "type": "rating", "max": 5, "required": True}]}]  # fmt: skip


@pytest.fixture
def template(workspace):
    return services.template_create(workspace=workspace, name="Call back", steps=STEPS)


@pytest.fixture
def agent(client, workspace):
    user = member_make(workspace=workspace, username="al", role="agent")
    client.force_login(user)
    return user


def test_start_a_run_then_complete_its_step(client, agent, workspace, template):
    ingest(workspace, [identify("u-1", {"email": "zoe@example.com"}, T0)])
    customer = customer_id(workspace, "u-1")

    started = client.post("/api/workflows/runs", {"template_id": template.pk,
                          "customer_id": customer, "title": "Zoe"}, content_type="application/json")  # fmt: skip
    run = started.json()
    step = run["steps"][0]
    url = f"/api/workflows/runs/{run['id']}/steps/{step['id']}/complete"
    bad = client.post(url, {"answers": {"mood": 9}}, content_type="application/json")
    good = client.post(url, {"answers": {"mood": 4}}, content_type="application/json")
    again = client.post(url, {"answers": {"mood": 4}}, content_type="application/json")

    assert started.status_code == 201
    assert (run["customer_id"], run["title"], run["source"], step["status"]) == (
        customer,
        "Zoe",
        "api",
        "open",
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        "Mood: Select a valid choice. 9 is not one of the available choices."
    ]
    assert good.status_code == 200
    done = good.json()
    assert done["status"] == "done" and done["steps"][0]["answers"] == {"mood": 4}
    assert [h["action"] for h in done["history"]] == ["started", "opened", "completed", "closed"]
    assert [h["actor"] for h in done["history"]][-2:] == ["al", "al"]
    assert again.status_code == 409


def test_unknown_template_or_customer_is_404(client, agent, workspace, template, other_workspace):
    other = services.template_create(workspace=other_workspace, name="Theirs", steps=STEPS)

    theirs = client.post(
        "/api/workflows/runs", {"template_id": other.pk}, content_type="application/json"
    )
    nobody = client.post("/api/workflows/runs", {"template_id": template.pk, "customer_id": 10**9},
                         content_type="application/json")  # fmt: skip

    assert theirs.status_code == 404 and theirs.json()["detail"].startswith("template_id")
    assert nobody.status_code == 404 and nobody.json()["detail"].startswith("customer_id")


def test_list_runs_filters_and_rules_need_manage_workflows(client, agent, workspace, template):
    first = services.run_start(template=template, at=T0)
    services.run_cancel(run=first)
    second = services.run_start(template=template, at=T0)

    opened = client.get("/api/workflows/runs?status=open").json()
    everything = client.get("/api/workflows/runs").json()

    assert [r["id"] for r in opened["items"]] == [second.pk]
    assert everything["count"] == 2
    assert client.get("/api/workflows/templates").json()[0]["steps"][0]["key"] == "call"
    assert client.get("/api/workflows/rules").status_code == 403  # agents work tasks only


def test_listed_rules_say_what_their_trigger_watches(client, workspace):
    admin = member_make(workspace=workspace, username="boss", role="admin")
    client.force_login(admin)
    services.rule_create(
        workspace=workspace, name="NPS alert", trigger="metric_crossed",
        params={"metric": "nps", "days": "30", "direction": "below", "threshold": "20"},
        conditions=[], actions=[{"type": "notify", "role": "admin", "text": "NPS {value}"}],
    )  # fmt: skip

    rules = client.get("/api/workflows/rules").json()

    assert rules[0]["params"] == {"metric": "nps", "days": 30, "direction": "below",
                                  "threshold": 20.0}  # fmt: skip


def test_each_open_step_of_a_parallel_group_is_completed_on_its_own(client, agent, workspace):
    steps = [
        {"key": "call", "title": "Call"},
        {"key": "refund", "title": "Refund", "parallel": True,
         "fields": [{"key": "receipt", "label": "Receipt", "type": "file", "required": True}]},
    ]  # fmt: skip
    template = services.template_create(workspace=workspace, name="Both", steps=steps)
    run = services.run_start(template=template, at=T0)

    shown = client.get(f"/api/workflows/runs/{run.pk}").json()
    assert [(s["key"], s["status"]) for s in shown["steps"]] == [
        ("call", "open"),
        ("refund", "open"),
    ]
    call, refund = (s["id"] for s in shown["steps"])
    done = client.post(f"/api/workflows/runs/{run.pk}/steps/{call}/complete", {"answers": {}},
                       content_type="application/json")  # fmt: skip
    no_file = client.post(f"/api/workflows/runs/{run.pk}/steps/{refund}/complete",
                          {"answers": {"receipt": "r.pdf"}}, content_type="application/json")  # fmt: skip

    assert done.status_code == 200 and done.json()["status"] == "open"
    assert no_file.status_code == 422
    assert "Receipt: This field is required." in no_file.content.decode()
