"""REST routes for closing the loop (mounted under /api/ by cxloop.api.rest): list and start
runs, read one with its steps and history, complete its open step, list templates and rules.

Signed-in users only (session cookie); the workspace is the ``workspace`` query parameter
(slug) or the user's first workspace. Answers are checked by the step's own form: 422 names
each field; a step that is not open answers 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from cxloop.api.access import request_workspace
from cxloop.api.errors import BODY_ERRORS, ERRORS, errors
from cxloop.api.params import MAX_ID, ObjectIn, id_param, limit_param, offset_param
from cxloop.core.permissions import Capability
from cxloop.customers import selectors as customer_selectors
from cxloop.workflows import selectors, services

router = Router(tags=["workflows"])
Answer = str | int | float | bool | None


class WorkflowStepOut(Schema):
    id: int
    key: str
    title: str
    status: str
    assignee: str | None
    role: str
    due_at: datetime | None
    completed_at: datetime | None
    answers: dict


class WorkflowRunOut(Schema):
    id: int
    template_id: int
    template: str
    version: int
    title: str
    status: str
    source: str
    customer_id: int | None
    context: dict
    intake: dict
    started_at: datetime
    first_contact_at: datetime | None
    closed_at: datetime | None
    outcome: str


class WorkflowHistoryOut(Schema):
    at: datetime
    actor: str
    action: str
    step_id: int | None
    detail: dict


class WorkflowRunDetailOut(WorkflowRunOut):
    steps: list[WorkflowStepOut]
    history: list[WorkflowHistoryOut]


class WorkflowRunPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[WorkflowRunOut]


class WorkflowRunIn(ObjectIn):
    template_id: int = Field(..., ge=1, le=MAX_ID)
    customer_id: int | None = Field(None, ge=1, le=MAX_ID)
    title: str = Field("", max_length=200)


class StepAnswersIn(ObjectIn):
    answers: dict[str, Answer] = Field(default_factory=dict, max_length=50)


class WorkflowTemplateOut(Schema):
    id: int
    name: str
    description: str
    version: int
    steps: list[dict]
    intake_public: bool
    archived: bool


class WorkflowRuleOut(Schema):
    id: int
    name: str
    active: bool
    trigger: str
    params: dict = {}  # what a segment, metric or schedule trigger watches
    conditions: list[dict]
    actions: list[dict]
    fired: int
    last_fired: datetime | None


def _run_out(run) -> dict:
    return {
        "id": run.pk, "template_id": run.template_id, "template": run.template.name,
        "version": run.version.number, "title": run.title, "status": run.status,
        "source": run.source, "customer_id": run.customer_id, "context": run.context,
        "intake": run.intake, "started_at": run.started_at,
        "first_contact_at": run.first_contact_at, "closed_at": run.closed_at,
        "outcome": run.outcome,
    }  # fmt: skip


def _detail(run) -> dict:
    steps = [
        {"id": s.pk, "key": s.key, "title": s.title, "status": s.status,
         "assignee": s.assignee.get_username() if s.assignee else None, "role": s.role,
         "due_at": s.due_at, "completed_at": s.completed_at, "answers": s.answers}
        for s in selectors.run_steps(run=run)
    ]  # fmt: skip
    history = [
        {"at": h.at, "actor": h.actor_label, "action": h.action, "step_id": h.step_id,
         "detail": h.detail}
        for h in selectors.run_history(run=run)
    ]  # fmt: skip
    return {**_run_out(run), "steps": steps, "history": history}


def _run(request: HttpRequest, run_id: int, workspace: str | None):
    run = selectors.run_get(
        workspace=request_workspace(request, workspace, need=Capability.WORK_TASKS), run_id=run_id
    )
    if run is None:
        raise HttpError(404, "no such run in this workspace")
    return run


@router.get(
    "/workflows/runs", response={200: WorkflowRunPage, **ERRORS}, summary="List workflow runs"
)
def list_runs(
    request: HttpRequest,
    workspace: str | None = None,
    status: Literal["open", "done", "cancelled"] | None = None,
    template_id: int | None = Query(None, ge=1, le=MAX_ID),
    customer_id: int | None = Query(None, ge=1, le=MAX_ID),
    limit: int = limit_param(50),
    offset: int = offset_param(),
):
    """Newest first; filter by status, template or customer."""
    runs = selectors.run_list(
        workspace=request_workspace(request, workspace, need=Capability.WORK_TASKS),
        status=status, template_id=template_id, customer_id=customer_id,
    )  # fmt: skip
    return {"count": runs.count(), "limit": limit, "offset": offset,
            "items": [_run_out(r) for r in runs[offset : offset + limit]]}  # fmt: skip


@router.post(
    "/workflows/runs",
    response={201: WorkflowRunDetailOut, **BODY_ERRORS},
    summary="Start a run of a workflow (for a customer)",
)
def start_run(request: HttpRequest, payload: WorkflowRunIn, workspace: str | None = None):
    ws = request_workspace(request, workspace, need=Capability.WORK_TASKS)
    template = selectors.template_get(workspace=ws, template_id=payload.template_id)
    if template is None:
        raise HttpError(404, "template_id: no such workflow in this workspace")
    customer = None
    if payload.customer_id is not None:
        customer = customer_selectors.customer_get(workspace=ws, customer_id=payload.customer_id)
        if customer is None:
            raise HttpError(404, "customer_id: no such customer in this workspace")
    try:
        run = services.run_start(
            template=template, customer=customer, title=payload.title, source="api",
            actor=request.user,
        )  # fmt: skip
    except services.RunError as exc:
        return Status(422, {"detail": str(exc), "errors": exc.errors})
    return Status(201, _detail(selectors.run_get(workspace=ws, run_id=run.pk)))


@router.get(
    "/workflows/runs/{run_id}",
    response={200: WorkflowRunDetailOut, **ERRORS},
    summary="One run with its steps and history",
)
def get_run(request: HttpRequest, run_id: int = id_param(), workspace: str | None = None):
    return _detail(_run(request, run_id, workspace))


@router.post(
    "/workflows/runs/{run_id}/steps/{step_id}/complete",
    response={200: WorkflowRunDetailOut, **BODY_ERRORS, **errors(409)},
    summary="Complete a run's open step with its answers",
)
def complete_step(
    request: HttpRequest,
    payload: StepAnswersIn,
    run_id: int = id_param(),
    step_id: int = id_param(),
    workspace: str | None = None,
):
    run = _run(request, run_id, workspace)
    step = selectors.step_get(workspace=run.workspace, step_id=step_id)
    if step is None or step.run_id != run.pk:
        raise HttpError(404, "no such step in this run")
    if step.status != "open":
        raise HttpError(409, f"step: {step.title!r} is {step.get_status_display().lower()}")
    answers = {k: "" if v is None else str(v) for k, v in payload.answers.items()}
    try:
        services.step_complete(step=step, answers=answers, actor=request.user)
    except services.RunError as exc:
        if exc.errors and exc.errors[0].startswith("step:"):  # done meanwhile
            raise HttpError(409, exc.errors[0]) from None
        return Status(422, {"detail": str(exc), "errors": exc.errors})
    return Status(200, _detail(selectors.run_get(workspace=run.workspace, run_id=run.pk)))


@router.get(
    "/workflows/templates",
    response={200: list[WorkflowTemplateOut], **ERRORS},
    summary="List workflow templates (their current version)",
)
def list_templates(request: HttpRequest, workspace: str | None = None):
    ws = request_workspace(request, workspace, need=Capability.WORK_TASKS)
    return [
        {"id": t.pk, "name": t.name, "description": t.description,
         "version": t.current.number if t.current else 0,
         "steps": t.current.steps if t.current else [], "intake_public": t.intake_public,
         "archived": t.archived}
        for t in selectors.template_list(workspace=ws)
    ]  # fmt: skip


@router.get(
    "/workflows/rules", response={200: list[WorkflowRuleOut], **ERRORS}, summary="List rules"
)
def list_rules(request: HttpRequest, workspace: str | None = None):
    ws = request_workspace(request, workspace, need=Capability.MANAGE_WORKFLOWS)
    return [
        {"id": r.pk, "name": r.name, "active": r.active, "trigger": r.trigger,
         "params": r.params, "conditions": r.conditions, "actions": r.actions,
         "fired": getattr(r, "fired", 0), "last_fired": getattr(r, "last_fired", None)}
        for r in selectors.rule_list(workspace=ws)
    ]  # fmt: skip
