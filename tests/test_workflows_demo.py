"""The demo closes its loops: the detractor rule and workflow, loops replayed from the demo's
answers through the real services, "you said, we did" emails; the closed-loop report's numbers
checked against numpy; the customer 360 page lists each loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.core import mail

from cxloop.core.models import Workspace
from cxloop.demo.generator import build_demo
from cxloop.workflows import selectors, services
from cxloop.workflows.models import RuleFiring, WorkflowRun
from factories import customer_id, identify, ingest, response_make, survey_make

NOW = datetime(2026, 6, 1, tzinfo=UTC)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def demo(db) -> Workspace:
    build_demo(slug="demo-loop", customers=200, seed=4, now=NOW)
    return Workspace.objects.get(slug="demo-loop")


def test_the_demo_ships_the_detractor_loop_and_closes_some(demo):
    rule = selectors.rule_list(workspace=demo).get()
    assert (rule.name, rule.trigger, rule.active) == (
        "Detractor follow-up",
        "response_received",
        True,
    )
    assert rule.conditions == [{"field": "nps", "op": "lte", "value": 6}]
    template = selectors.template_list(workspace=demo).get()
    steps = template.current.steps
    assert steps[0]["deadline_hours"] == 48 and steps[0]["escalate"] == {
        "kind": "role",
        "role": "admin",
    }
    assert steps[-1]["title"] == "Tell the customer what changed" and steps[-1]["email"]

    runs = WorkflowRun.objects.filter(workspace=demo)
    assert runs.count() == RuleFiring.objects.filter(rule=rule).count() > 0
    assert all(r.context["nps"] <= 6 for r in runs)
    closed = runs.filter(status="done")
    assert closed.exists() and runs.filter(status="open").exists()
    said_we_did = [m for m in mail.outbox if m.subject == "You said, we did"]
    sent = [h for r in closed for h in selectors.run_history(run=r) if h.action == "email_sent"]
    assert len(said_we_did) == len(sent) > 0
    assert all(r.outcome for r in closed)


def test_the_loop_report_matches_numpy(workspace):
    ingest(workspace, [identify("u-1", {"email": "a@example.com"}, T0)])
    customer = workspace.customer_set.get(pk=customer_id(workspace, "u-1"))
    template = services.template_create(
        workspace=workspace, name="Loop", steps=[
            {"key": "call", "title": "Call", "fields": []},
            {"key": "close", "title": "Close", "fields": [{"key": "outcome", "label": "Outcome", "type": "text"}]},
        ],
    )  # fmt: skip
    services.rule_create(workspace=workspace, name="d", trigger="response_received",
                         conditions=[{"field": "nps", "op": "lte", "value": 6}],
                         actions=[{"type": "start_workflow", "template_id": template.pk}], active=True)  # fmt: skip
    survey = survey_make(workspace)
    # three detractors: contacted after 2, 4 and 10 hours; two closed after 10 and 20 hours
    for contact, close in ((2, 10), (4, 20), (10, None)):
        response = response_make(workspace, survey, T0, nps=3, customer=customer)
        (firing,) = services.rules_react_response(
            workspace_id=workspace.pk, response_id=response.pk, at=T0
        )
        run = WorkflowRun.objects.get(pk=int(firing.outcomes[0]["detail"].split("#")[1]))
        steps = list(selectors.run_steps(run=run))
        services.step_complete(step=steps[0], answers={}, at=T0 + timedelta(hours=contact))
        if close:
            services.step_complete(step=steps[1], answers={"outcome": "fixed"},
                                   at=T0 + timedelta(hours=close))  # fmt: skip

    report = selectors.loop_report(
        workspace=workspace, start=T0 - timedelta(days=1), end=T0 + timedelta(days=1)
    )

    assert (report.loops, report.closed, report.detractors) == (3, 2, 3)
    assert report.loop_rate == pytest.approx(2 / 3)
    assert report.first_contact_hours == pytest.approx(
        (np.median([2, 4, 10]), np.percentile([2, 4, 10], 90))
    )
    assert report.close_hours == pytest.approx((np.median([10, 20]), np.percentile([10, 20], 90)))
    assert report.outcomes == [("fixed", 2)]
    assert (report.rescored, report.score_change, report.score_change_interval) == (0, None, None)


def test_the_loop_report_says_how_far_the_next_score_moved(workspace):
    from scipy import stats

    ingest(workspace, [identify(f"u-{i}", {"email": f"c{i}@example.com"}, T0) for i in range(4)])
    template = services.template_create(workspace=workspace, name="Loop",
                                        steps=[{"key": "call", "title": "Call", "fields": []}])  # fmt: skip
    services.rule_create(workspace=workspace, name="d", trigger="response_received",
                         conditions=[{"field": "nps", "op": "lte", "value": 6}],
                         actions=[{"type": "start_workflow", "template_id": template.pk}], active=True)  # fmt: skip
    survey = survey_make(workspace)
    # four detractors (2, 3, 5, 6); three answer again after their loop closed: 7, 9, 6
    # (changes +5, +6, +1); the fourth answers only before the close
    for i, (first, later) in enumerate(((2, 7), (3, 9), (5, 6), (6, None))):
        customer = workspace.customer_set.get(pk=customer_id(workspace, f"u-{i}"))
        response = response_make(workspace, survey, T0, nps=first, customer=customer)
        services.rules_react_response(workspace_id=workspace.pk, response_id=response.pk, at=T0)
        run = WorkflowRun.objects.get(customer=customer)
        services.step_complete(step=run.steps.get(), answers={}, at=T0 + timedelta(hours=5))
        response_make(workspace, survey, T0 + timedelta(hours=1), nps=0, customer=customer)
        if later is not None:
            response_make(workspace, survey, T0 + timedelta(days=3), nps=later, customer=customer)

    report = selectors.loop_report(
        workspace=workspace, start=T0 - timedelta(days=1), end=T0 + timedelta(days=1)
    )

    changes = [5, 6, 1]
    low, high = stats.t.interval(
        0.95, len(changes) - 1, loc=np.mean(changes), scale=stats.sem(changes)
    )
    assert report.rescored == 3
    assert report.score_change == pytest.approx(4.0)
    assert report.score_change_interval == pytest.approx((low, high))


def test_the_360_page_lists_the_customers_loops(client, admin_member, workspace):
    ingest(workspace, [identify("u-1", {"email": "a@example.com"}, T0)])
    customer = workspace.customer_set.get(pk=customer_id(workspace, "u-1"))
    template = services.template_create(workspace=workspace, name="Callback",
                                        steps=[{"key": "call", "title": "Call", "fields": []}])  # fmt: skip
    run = services.run_start(template=template, customer=customer, context={"nps": 2})
    client.force_login(admin_member)

    page = client.get(f"/customers/{customer.pk}/")

    assert page.status_code == 200
    assert f'href="/workflows/runs/{run.pk}/"><strong>Callback</strong>' in page.text
    assert "after NPS 2" in page.text
