"""The permission model, proven by walking every URL and every API operation for every role.

The tables below are the model as docs/architecture.md ("Permissions") states it, written out by
hand: a route or API operation missing from them fails the test, so nothing new ships without
naming the capability it needs. Each request runs in a savepoint that is rolled back, so every
role meets the same objects; a denied request must answer 403 or 404 and change nothing.
"""

from __future__ import annotations

import re

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import URLPattern, URLResolver, get_resolver

from cxloop.api.rest import api
from cxloop.core import services as core_services
from cxloop.core.models import Membership, WriteKey
from cxloop.core.permissions import ROLE_CAPABILITIES, Capability, Role, role_can
from cxloop.customers.models import Customer, CustomerMerge
from cxloop.events.services import events_ingest
from cxloop.feedback import services as feedback_services
from cxloop.feedback.models import Question, Response, Survey, Trigger
from cxloop.journeys import services as journey_services
from cxloop.journeys.models import JourneyMap, SavedAnalysis
from cxloop.predict import services as predict_services
from cxloop.segments import services as segment_services
from cxloop.segments.models import Segment
from cxloop.text import selectors as text_selectors
from cxloop.text import services as text_services
from cxloop.workflows import services as workflow_services
from cxloop.workflows._files import files_store
from cxloop.workflows.models import Rule, StepInstance, WorkflowRun, WorkflowTemplate

RA = Capability.READ_ANALYTICS
RC = Capability.READ_CUSTOMERS
RF = Capability.READ_FEEDBACK
ES = Capability.EDIT_SURVEYS
EJ = Capability.EDIT_JOURNEYS
EG = Capability.EDIT_SEGMENTS
EX = Capability.EXPORT
IM = Capability.IMPORT
MW = Capability.MANAGE_WORKSPACE
MC = Capability.MANAGE_CUSTOMERS
DD = Capability.DELETE_DATA
MF = Capability.MANAGE_WORKFLOWS
WT = Capability.WORK_TASKS
RP = Capability.READ_PII

# roles x capabilities, as the docs state it (independent of core.permissions' own table)
MODEL = {
    "admin": set(Capability),
    "analyst": {RA, RC, RF, ES, EJ, EG, EX, IM, MF, WT},
    "agent": {RA, RC, RF, WT, RP},
    "viewer": {RA},
}

# url name -> (capability for GET, capability for POST)
WEB = {
    "home": (RA, RA),
    "switch-workspace": (RA, RA),
    "customer-list": (RC, RC),
    "customer-detail": (RC, RC),
    "customer-timeline": (RC, RC),
    "sources": (MW, MW),
    "survey-list": (RA, RA),
    "survey-new": (ES, ES),
    "review-import": (IM, IM),
    "survey-detail": (RA, RA),
    "survey-build": (ES, ES),
    "survey-preview": (ES, ES),  # the editor's preview of a draft; stores nothing
    "survey-status": (ES, ES),
    "trigger-add": (ES, ES),
    "trigger-toggle": (ES, ES),
    "survey-export": (EX, EX),
    "survey-import": (IM, IM),
    "dashboard": (RA, RA),
    "dashboard-panel": (RA, RA),
    "journey-list": (RA, RA),
    "journey-new": (EJ, EJ),
    "journey-funnel": (RA, RA),
    "journey-funnel-why": (RA, RA),
    "saved-analyses": (RA, EJ),
    "saved-analysis-pin": (EJ, EJ),
    "saved-analysis-delete": (EJ, EJ),
    "journey-detail": (RA, RA),
    "journey-edit": (EJ, EJ),
    "journey-recompute": (EJ, EJ),
    "journey-delete": (EJ, EJ),
    "journey-editor-properties": (EJ, EJ),  # the editor's rule picker
    "journey-editor-count": (EJ, EJ),
    "paths": (RA, RA),
    "paths-before": (RA, RA),
    "trends": (RA, RA),
    "trends-conversion": (RA, RA),
    "trends-changes": (RA, RA),
    "session-settings": (RA, EJ),
    "trends-changes-funnel": (RA, RA),
    "trends-changes-nps": (RA, RA),
    "segment-list": (RA, RA),
    "segment-new": (EG, EG),
    "segment-preview": (RA, RA),  # counts a draft definition; stores nothing
    "segment-builder": (RA, RA),  # redraws the editor's rows; stores nothing
    "personas": (RA, RA),
    "segment-detail": (RA, EG),  # readers see it, editors save it
    "segment-delete": (EG, EG),
    "team": (MW, MW),
    "member-role": (MW, MW),
    "member-remove": (MW, MW),
    "key-create": (MW, MW),
    "key-revoke": (MW, MW),
    "audit-log": (MW, MW),
    "customer-export": (MC, MC),
    "customer-erase": (MC, MC),
    "merge-unmerge": (MC, MC),
    "value-at-risk": (RC, RC),  # names customers
    "value-at-risk-segment": (EG, EG),  # saves the list's filter as a segment
    "value-at-risk-workflow": (WT, WT),  # starts a run per listed customer
    "model-health": (RA, RA),  # aggregates only
    "text-search": (RF, RF),  # comment text (redacted without read_pii)
    "text-detail": (RF, EG),  # editors correct its sentiment label
    "text-teach": (RF, EG),  # labelled texts and the workspace's own model
    "text-themes": (RF, EG),  # themes are curated like personas
    "text-key-drivers": (RF, RF),  # aggregates of comment themes
    "text-roadblocks": (RF, RF),  # comment examples (redacted without read_pii)
    "text-theme-trends": (RF, RF),  # aggregates of comment themes
    "text-roadblock-segment": (EG, EG),  # saves a roadblock's customers as a segment
    "prediction-settings": (EG, EG),  # what counts as a purchase and as churn; refits
    "workflow-list": (WT, WT),
    "workflow-new": (MF, MF),
    "workflow-edit": (MF, MF),
    "workflow-process": (WT, WT),
    "run-board": (WT, WT),
    "run-board-poll": (WT, WT),
    "run-detail": (WT, WT),
    "run-assign": (WT, WT),
    "run-file": (WT, WT),  # a file answered on the intake form: as reading the run
    "run-step-file": (WT, WT),  # a file answered in a step
    "run-extend": (WT, WT),
    "my-tasks": (WT, WT),
    "rule-list": (MF, MF),
    "rule-new": (MF, MF),
    "rule-edit": (MF, MF),
    "rule-delete": (MF, MF),
    "loop-report": (RA, RA),
    "workflow-calendar": (MF, MF),  # business hours that deadlines count in
}
# no login: sign-in/out, the public survey pages and widget, the tracking API
PUBLIC_WEB = {
    "login", "logout", "survey-answer", "survey-save", "survey-embed", "track", "workflow-intake",
}  # fmt: skip
# other permission systems: Django's admin (staff only) and the REST API (walked below)
OTHER_NAMESPACES = {"admin", "api"}

API = {
    "text_search": RF,
    "text_drivers": RF,
    "text_analysis": RF,
    "text_themes": RF,
    "text_key_drivers": RF,
    "text_roadblocks": RF,
    "text_theme_trends": RF,
    "text_label": EG,  # a person's sentiment label overrides the model
    "text_labels_import": EG,
    "text_teaching": RF,
    "text_teaching_train": EG,
    "list_customers": RC,
    "get_customer": RC,
    "list_customer_events": RC,
    "list_surveys": RA,
    "create_survey": ES,
    "create_survey_from_template": ES,
    "get_survey": RA,
    "update_survey": ES,
    "delete_survey": DD,
    "submit_response": IM,
    "list_responses": RF,
    "export_responses": EX,
    "import_reviews": IM,
    "metrics_query": RA,
    "metrics_summary": RA,
    "metrics_retention": RA,
    "metrics_comments": RF,
    "metrics_groups": RA,
    "list_journeys": RA,
    "create_journey": EJ,
    "get_journey": RA,
    "journey_map_range": RA,
    "update_journey": EJ,
    "delete_journey": EJ,
    "recompute_journey": EJ,
    "run_funnel": RA,
    "funnel_correlation": RA,
    "paths_between": RA,
    "paths_before": RA,
    "run_trend": RA,
    "run_conversion_trend": RA,
    "run_volume_change": RA,
    "run_funnel_change": RA,
    "run_nps_change": RA,
    "list_segments": RA,
    "create_segment": EG,
    "preview_segment": RA,
    "get_segment": RA,
    "update_segment": EG,
    "delete_segment": EG,
    "segment_members": RC,
    "list_personas": RA,
    "list_members": MW,
    "add_member": MW,
    "set_member_role": MW,
    "remove_member": MW,
    "list_keys": MW,
    "create_key": MW,
    "revoke_key": MW,
    "list_audit": MW,
    "export_customer": MC,
    "erase_customer": MC,
    "unmerge": MC,
    "customer_scores": RC,
    "value_at_risk": RC,
    "latest_run": RA,
    "list_runs": WT,
    "start_run": WT,
    "get_run": WT,
    "complete_step": WT,
    "list_templates": WT,
    "list_rules": MF,
}
PUBLIC_API = {"submit_public_response"}  # anyone with the survey's link

# a valid body for each operation that takes one, so the permission check (not validation) answers
JOURNEY = {"name": "Walk", "stages": ["Buy"], "touchpoints": [
    {"stage": "Buy", "name": "Order", "rules": [{"event": "Order Completed"}]}]}  # fmt: skip
API_BODIES = {
    "create_survey": {"name": "Walked"},
    "create_survey_from_template": {"template": "csat"},
    "update_survey": {"name": "Renamed", "status": "closed"},
    "submit_response": {"response_key": "walk-1", "answers": {"nps": 9}},
    "create_journey": JOURNEY,
    "update_journey": JOURNEY,
    "run_funnel": {"steps": ["Home", "Order Completed"]},
    "run_trend": {"series": ["Home"]},
    "run_conversion_trend": {"steps": ["Home", "Order Completed"]},
    "run_volume_change": {"event": "Home"},
    "run_funnel_change": {"steps": ["Home", "Order Completed"]},
    "run_nps_change": {},
    "funnel_correlation": {"steps": ["Home", "Order Completed"]},
    "create_segment": {"name": "Walked", "definition": {"all": []}},
    "preview_segment": {"definition": {"all": []}},
    "update_segment": {"name": "Renamed"},
    "add_member": {"username": "newbie", "role": "viewer", "password": "a long enough pass 42"},
    "set_member_role": {"role": "viewer"},
    "create_key": {"label": "walk", "kind": "server"},
    "start_run": lambda ids: {"template_id": ids["template_id"], "customer_id": ids["customer_id"]},
    "complete_step": {"answers": {"note": "called"}},
    "text_label": {"label": "negative"},
}
API_FILES = {
    "import_reviews": "rating,text\n5,Great\n",
    "text_labels_import": "text,label\nGreat,1\n",
}

CSRF = "walkthetokenwalkthetokenwalkthe1"  # 32 letters/digits: a valid unmasked CSRF secret
ROLES = ["admin", "analyst", "agent", "viewer", "outsider"]  # outsider: signed in, no membership


# ------------------------------------------------------------------ the world every role meets


@pytest.fixture
def world(db, workspace):
    result = events_ingest(
        workspace=workspace,
        messages=[
            {"type": "identify", "userId": "u-1", "traits": {"email": "ann@example.com"},
             "timestamp": "2025-03-01T10:00:00Z"},
            {"type": "track", "userId": "u-1", "event": "Order Completed",
             "timestamp": "2025-03-02T10:00:00Z"},
            # a visitor, then the same visitor signing in as u-1: a merge (to unmerge)
            {"type": "page", "anonymousId": "a-1", "name": "Home",
             "timestamp": "2025-03-03T10:00:00Z"},
        ],
    )  # fmt: skip
    assert result.accepted == 3
    joined = events_ingest(
        workspace=workspace,
        messages=[{"type": "identify", "anonymousId": "a-1", "userId": "u-1",
                   "timestamp": "2025-03-03T10:05:00Z"}],
    )  # fmt: skip
    assert joined.accepted == 1
    merge = CustomerMerge.objects.get(workspace=workspace)
    survey = feedback_services.survey_create_from_template(workspace=workspace, template="nps")
    trigger = feedback_services.trigger_create(
        survey=survey, event_name="Order Completed", from_event_id=0
    )
    segment = segment_services.segment_create(
        workspace=workspace, name="Everyone", definition={"all": []}
    )
    journey = journey_services.journey_create(workspace=workspace, definition=JOURNEY)
    saved = journey_services.saved_analysis_create(
        workspace=workspace, name="Checkout", kind="funnel", query="step=Home&step=Order+Completed"
    )
    predict_services.predictions_run(workspace=workspace)
    commented = feedback_services.response_submit(
        survey=survey, answers={"nps": 3, "why_detractor": "Slow. Call +44 20 7946 0958"},
        response_key="walk-1",
    ).response  # fmt: skip
    text_services.text_analyse_responses(responses=[commented])
    staffer = core_services.user_create_or_reset(username="staffer", password="staffer-pass-1")
    core_services.membership_set(user=staffer, workspace=workspace, role="agent")
    key = core_services.write_key_create(workspace=workspace, label="extra")
    template = workflow_services.template_create(
        workspace=workspace, name="Follow-up",
        steps=[{"key": "call", "title": "Call", "assignee": {"kind": "member", "user_id": staffer.pk},
                "deadline_hours": 1, "fields": [{"key": "note", "label": "Note", "type": "text"}]}],
    )  # fmt: skip
    run = workflow_services.run_start(template=template, customer=merge.survivor)
    upload = {"doc": SimpleUploadedFile("doc.pdf", b"%PDF-1.4 walk")}
    files_store(upload, workspace_id=workspace.pk)  # a file answered on intake and in the step
    WorkflowRun.objects.filter(pk=run.pk).update(intake=upload)
    StepInstance.objects.filter(run=run).update(answers=upload)
    rule = workflow_services.rule_create(
        workspace=workspace, name="Detractors", trigger="response_received",
        conditions=[{"field": "nps", "op": "lte", "value": 6}],
        actions=[{"type": "start_workflow", "template_id": template.pk}],
    )  # fmt: skip
    users = {}
    for role in ROLES:
        user = core_services.user_create_or_reset(username=f"{role}-u", password="walk-pass-123")
        if role != "outsider":
            core_services.membership_set(user=user, workspace=workspace, role=role)
        users[role] = user
    ids = {
        "customer_id": merge.survivor_id,
        "merge_id": merge.pk,
        "survey_id": survey.pk,
        "trigger_id": trigger.pk,
        "segment_id": segment.pk,
        "journey_id": journey.pk,
        "saved_id": saved.pk,
        "user_id": staffer.pk,
        "key_id": key.pk,
        "template_id": template.pk,
        "run_id": run.pk,
        "rule_id": rule.pk,
        "step_id": run.steps.get().pk,
        "field": "doc",
        "analysis_id": text_selectors.analysis_for_response(
            workspace=workspace, response_id=commented.pk
        ).pk,
    }
    # every request is rolled back, so this is the state each one starts from
    return {"workspace": workspace, "users": users, "ids": ids, "state": _state(workspace)}


def _client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.cookies["csrftoken"] = CSRF
    return client


def _state(workspace) -> tuple:
    """Everything a request could wrongly change."""
    return (
        list(Survey.objects.filter(workspace=workspace).values_list("pk", "name", "status")),
        Question.objects.filter(survey__workspace=workspace).count(),
        Response.objects.filter(survey__workspace=workspace).count(),
        list(Trigger.objects.filter(survey__workspace=workspace).values_list("pk", "active")),
        list(Segment.objects.filter(workspace=workspace).values_list("pk", "name", "definition")),
        list(
            JourneyMap.objects.filter(workspace=workspace).values_list("pk", "name", "computed_at")
        ),
        list(
            Customer.objects.filter(workspace=workspace).values_list("pk", "traits", "merged_into")
        ),
        sorted(Membership.objects.filter(workspace=workspace).values_list("user_id", "role")),
        list(WriteKey.objects.filter(workspace=workspace).values_list("pk", "revoked_at")),
        list(WorkflowTemplate.objects.filter(workspace=workspace).values_list("pk", "current")),
        list(WorkflowRun.objects.filter(workspace=workspace).values_list("pk", "status")),
        list(
            StepInstance.objects.filter(run__workspace=workspace).values_list(
                "pk", "status", "assignee", "due_at", "role"
            )
        ),
        list(Rule.objects.filter(workspace=workspace).values_list("pk", "name", "active")),
        list(SavedAnalysis.objects.filter(workspace=workspace).values_list("pk", "name", "pinned")),
    )


def _send(client: Client, method: str, url: str, *, allowed: bool, what: str, world, **kwargs):
    """One request in a savepoint that is rolled back (every role meets the same objects),
    checked before the rollback: a denied one must not have changed anything."""
    with transaction.atomic():
        response = client.generic(method, url, HTTP_X_CSRFTOKEN=CSRF, **kwargs)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        status = response.status_code
        assert status < 500, f"{what}: {status}"
        if allowed:
            assert status not in (401, 403, 404), f"{what}: allowed by the model, got {status}"
        else:
            assert status in (403, 404), f"{what}: denied by the model, got {status}"
            assert b"CSRF" not in response.content, f"{what}: refused for CSRF, not for the role"
            changed = _state(world["workspace"]) != world["state"]
            assert not changed, f"{what}: denied, yet something changed"
        transaction.set_rollback(True)


# ------------------------------------------------------------------ web pages


def _web_routes(patterns=None, prefix: str = "", namespace: str | None = None):
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from _web_routes(
                entry.url_patterns, prefix + str(entry.pattern), entry.namespace or namespace
            )
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry, namespace


WEB_ROUTES = {
    entry.name: (route, entry.callback)
    for route, entry, namespace in _web_routes()
    if namespace not in OTHER_NAMESPACES and entry.name not in PUBLIC_WEB
}


def test_the_code_table_is_the_documented_model():
    assert {role: set(caps) for role, caps in ROLE_CAPABILITIES.items()} == MODEL
    assert set(ROLE_CAPABILITIES) == set(Role)


def test_every_web_route_names_its_capability_and_nothing_else_is_public():
    named = {e.name for _, e, ns in _web_routes() if ns not in OTHER_NAMESPACES}
    assert named - set(WEB) - PUBLIC_WEB == set(), "routes without a capability in WEB"
    assert set(WEB) - named == set(), "WEB names routes that no longer exist"
    for name, (_, view) in WEB_ROUTES.items():
        assert getattr(view, "capability", None) == WEB[name][0], name
        assert getattr(view, "write_capability", None) == WEB[name][1], name


@pytest.mark.parametrize("name", sorted(WEB))
def test_web_route_for_every_role(world, name):
    route, _ = WEB_ROUTES[name]
    url = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(world["ids"][m.group(1)]), route)
    for role in ROLES:
        client = _client(world["users"][role])
        for method, capability in zip(("GET", "POST"), WEB[name], strict=True):
            allowed = role != "outsider" and capability in MODEL[role]
            _send(client, method, url, allowed=allowed, what=f"{role} {method} {url}", world=world)


# ------------------------------------------------------------------ REST API


def _api_operations():
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for method in operation.methods:
                    yield method, "/api/" + (prefix + path).lstrip("/"), operation.view_func


API_OPERATIONS = {view.__name__: (method, path) for method, path, view in _api_operations()}


def test_every_api_operation_names_its_capability():
    names = set(API_OPERATIONS)
    assert names - set(API) - PUBLIC_API == set(), "operations without a capability in API"
    assert set(API) - names == set(), "API names operations that no longer exist"
    assert len(API_OPERATIONS) == len(list(_api_operations())), "one name per operation"


@pytest.mark.parametrize("name", sorted(API))
def test_api_operation_for_every_role(world, name):
    method, path = API_OPERATIONS[name]
    url = re.sub(r"\{(\w+)\}", lambda m: str(world["ids"][m.group(1)]), path)
    for role in ROLES:
        client = _client(world["users"][role])
        if name in API_FILES:
            upload = SimpleUploadedFile("r.csv", API_FILES[name].encode(), "text/csv")
            kwargs = {"data": encode_multipart(BOUNDARY, {"file": upload})}
            kwargs["content_type"] = MULTIPART_CONTENT
        elif name in API_BODIES:
            body = API_BODIES[name]
            body = body(world["ids"]) if callable(body) else body  # bodies naming world objects
            kwargs = {"data": orjson.dumps(body), "content_type": "application/json"}
        else:
            kwargs = {}
        allowed = role != "outsider" and API[name] in MODEL[role]
        what = f"{role} {method} {url}"
        _send(client, method, url, allowed=allowed, what=what, world=world, **kwargs)


def test_bodies_are_only_given_to_operations_that_exist():
    assert set(API_BODIES) | set(API_FILES) <= set(API)


# ------------------------------------------------------------------ the reported cases


def test_agent_cannot_delete_an_admins_survey(world):
    """Issue #8's reproducer: as an agent, DELETE /api/surveys/<id> answered 204."""
    survey_id = world["ids"]["survey_id"]
    client = _client(world["users"]["agent"])

    response = client.delete(f"/api/surveys/{survey_id}", HTTP_X_CSRFTOKEN=CSRF)

    assert response.status_code == 403
    assert Survey.objects.filter(pk=survey_id).exists()


def test_only_an_admin_deletes_a_survey_with_its_answers(world):
    """An analyst edits and closes surveys, but destroying collected answers is an admin's act."""
    survey_id = world["ids"]["survey_id"]

    refused = _client(world["users"]["analyst"]).delete(
        f"/api/surveys/{survey_id}", HTTP_X_CSRFTOKEN=CSRF
    )
    assert refused.status_code == 403
    assert Survey.objects.filter(pk=survey_id).exists()
    done = _client(world["users"]["admin"]).delete(
        f"/api/surveys/{survey_id}", HTTP_X_CSRFTOKEN=CSRF
    )
    assert done.status_code == 204
    assert not Survey.objects.filter(pk=survey_id).exists()


def test_agent_cannot_delete_close_or_export_on_the_web(world):
    ids = world["ids"]
    client = _client(world["users"]["agent"])

    assert client.post(f"/segments/{ids['segment_id']}/delete/").status_code == 403
    assert client.post(f"/journeys/{ids['journey_id']}/delete/").status_code == 403
    assert client.post(
        f"/surveys/{ids['survey_id']}/status/", {"status": "closed"}, HTTP_X_CSRFTOKEN=CSRF
    ).status_code == 403  # fmt: skip
    assert client.get(f"/surveys/{ids['survey_id']}/export.csv").status_code == 403
    assert Segment.objects.filter(pk=ids["segment_id"]).exists()
    assert JourneyMap.objects.filter(pk=ids["journey_id"]).exists()
    assert Survey.objects.get(pk=ids["survey_id"]).status == "active"


def test_role_can_refuses_non_members_and_unknown_roles():
    assert not role_can(None, RA)
    assert not role_can("owner", RA)
    assert role_can("viewer", RA) and not role_can("viewer", RC)
