"""Run pages: the board (kanban by status and step, or a table; overdue and at-risk marked;
filters by template and assignee; htmx polls it and redraws only when something changed), one
run with its history and a form for each open step, its files (sent only to members who may read
the run), and each member's task inbox."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.views.decorators.http import require_POST

from cxloop.core import selectors as core_selectors
from cxloop.core.permissions import Capability
from cxloop.segments import selectors as segment_selectors
from cxloop.segments.definition import SegmentDefinitionError
from cxloop.web.forms import error_lines
from cxloop.web.forms.common import bad_params
from cxloop.web.forms.workflows import BoardForm, StepWorkForm
from cxloop.web.workspace import active_workspace, capability_required, role
from cxloop.workflows import selectors, services
from cxloop.workflows.definition import ROLES, describe_condition

BOARD_LIMIT = 300


def _board_context(request: HttpRequest, form: BoardForm) -> dict:
    workspace = active_workspace(request)
    params = form.cleaned_data
    members = None
    if params.get("segment"):
        segment = segment_selectors.segment_get(workspace=workspace, segment_id=params["segment"])
        if segment is None:
            raise Http404("No such segment in this workspace.")
        try:
            members = segment_selectors.segment_customer_ids(
                workspace=workspace, definition=segment.definition, segment_id=segment.pk
            )
        except SegmentDefinitionError as exc:  # e.g. a journey stage deleted since
            raise Http404(f"The segment needs fixing: {exc}") from None
    runs = list(
        selectors.run_list(
            workspace=workspace, status=params.get("status") or None,
            template_id=params.get("template"), assignee_id=params.get("assignee"),
            customer_ids=members,
        )[:BOARD_LIMIT]
    )  # fmt: skip
    now = selectors.now()
    open_steps = selectors.open_steps(run_ids=[r.pk for r in runs])
    columns: dict[str, list] = defaultdict(list)
    rows = []
    for run in runs:  # a run in a group of parallel steps shows once per open step
        steps: list[Any] = list(open_steps.get(run.pk, [])) or [None]
        for step in steps:
            timing = selectors.step_timing(step, now) if step else ""
            row = {"run": run, "step": step, "timing": timing}
            rows.append(row)
            columns[step.title if step else run.get_status_display()].append(row)
    order = [t for t in columns if t not in ("Done", "Cancelled")]
    order += [t for t in ("Done", "Cancelled") if t in columns]
    shown = ("template", "assignee", "segment", "status", "view")
    query = urlencode({k: params[k] for k in shown if params.get(k)})
    return {
        "rows": rows,
        "columns": [(title, columns[title]) for title in order],
        "view": params.get("view") or "board",
        "templates": selectors.template_list(workspace=workspace),
        "segments": segment_selectors.segment_list(workspace=workspace),
        "workers": [m for m in core_selectors.members(workspace=workspace) if m.role in ROLES],
        "chosen": params,
        "version": selectors.board_version(workspace=workspace),
        "runs": len(runs),
        "overdue": len({r["run"].pk for r in rows if r["timing"] == "overdue"}),
        "query": query,
        "limit": BOARD_LIMIT,
        "tab": "board",
    }


@capability_required(Capability.WORK_TASKS)
def run_board(request: HttpRequest) -> HttpResponse:
    form = BoardForm(request.GET)
    if not form.is_valid():
        return bad_params(request, form)
    return render(request, "workflows/board.html", _board_context(request, form))


@capability_required(Capability.WORK_TASKS)
def run_board_poll(request: HttpRequest) -> HttpResponse:
    """The board's htmx poll: 204 (nothing to swap) while the version it shows is current,
    else the board fragment. The version is also the ETag, for any other client."""
    form = BoardForm(request.GET)
    if not form.is_valid():
        return bad_params(request, form)
    version = selectors.board_version(workspace=active_workspace(request))
    shown = form.cleaned_data.get("v") or request.headers.get("If-None-Match", "").strip('"')
    if shown == version:
        response = HttpResponse(status=204)
    else:
        response = render(request, "workflows/_board.html", _board_context(request, form))
    response["ETag"] = f'"{version}"'
    response["Cache-Control"] = "no-cache"
    return response


def _run_or_404(request: HttpRequest, run_id: int):
    run = selectors.run_get(workspace=active_workspace(request), run_id=run_id)
    if run is None:
        raise Http404("No such run in this workspace.")
    return run


def _answers(run, answers: dict, step_id: int | None = None) -> list[dict]:
    """Answers to show: a file as a link to its download (never to the storage itself)."""
    shown = []
    for key, value in answers.items():
        if selectors.is_file(value):
            args = [run.pk, step_id, key] if step_id else [run.pk, key]
            url = reverse("run-step-file" if step_id else "run-file", args=args)
            shown.append({"key": key, "file": value, "url": url})
        else:
            shown.append({"key": key, "value": value})
    return shown


def _about(step, definition: dict) -> list[str]:
    """A step's line under its title: who, by when, whether it runs with the one before."""
    about = []
    if step.assignee:
        about.append(step.assignee.get_username())
    elif step.role:
        about.append(f"any {step.role}")
    if step.due_at:
        about.append(f"due {date_format(localtime(step.due_at), 'j M Y H:i')}")
    if definition.get("parallel"):
        about.append("at the same time as the step before")
    if definition.get("condition"):
        about.append(f"only when {describe_condition(definition['condition'])}")
    return about


def _chosen(request: HttpRequest, steps: list, open_steps: list) -> tuple[Any, str]:
    """(the open step a completing POST is for, or None; why not)."""
    wanted = request.POST.get("_step", "")
    if not wanted:
        if len(open_steps) == 1:
            return open_steps[0], ""
        return None, "This run has no open step." if not open_steps else "step: which one?"
    chosen = next((s for s in steps if str(s.pk) == wanted), None)
    if chosen is None:
        return None, "step: not a step of this run"
    if chosen not in open_steps:
        return None, f"step: {chosen.title!r} is {chosen.get_status_display().lower()}"
    return chosen, ""


@capability_required(Capability.WORK_TASKS)
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    """One run: its steps, intake answers, history and a form for each open step (several
    while a group of parallel steps runs; POST with ``_step`` completes one of them)."""
    run = _run_or_404(request, run_id)
    steps = list(selectors.run_steps(run=run))
    open_steps = [s for s in steps if s.status == "open"]

    def form_for(step, data=None, files=None):  # ids unique when several forms share the page
        auto_id = f"id_s{step.pk}_%s" if len(open_steps) > 1 else "id_%s"
        return services.step_form_class(step)(data, files, auto_id=auto_id)

    forms = {s.pk: form_for(s) for s in open_steps}
    errors: dict[int, list[str]] = {}
    page_errors: list[str] = []
    status = 200
    if request.method == "POST":
        step, why_not = _chosen(request, steps, open_steps)
        if step is None:
            page_errors, status = [why_not], 409
        else:
            forms[step.pk] = form_for(step, request.POST, request.FILES)
            try:
                services.step_complete(
                    step=step, answers=request.POST, files=request.FILES, actor=request.user
                )
            except services.RunError as exc:
                errors[step.pk], status = exc.errors, 422
                forms[step.pk].is_valid()
            else:
                return redirect("run-detail", run_id=run.pk)
    definitions = {d["key"]: d for d in run.version.steps}
    now = selectors.now()
    context = {
        "run": run,
        "steps": [
            {
                "step": s,
                "timing": selectors.step_timing(s, now),
                "about": _about(s, definitions.get(s.key, {})),
                "answers": _answers(run, s.answers, s.pk),
            }
            for s in steps
        ],
        "intake": _answers(run, run.intake if isinstance(run.intake, dict) else {}),
        "work": [
            {"step": s, "form": forms[s.pk], "errors": errors.get(s.pk, [])} for s in open_steps
        ],
        "errors": page_errors,
        "history": [(h, h.action.replace("_", " ")) for h in selectors.run_history(run=run)],
        "workers": [m for m in core_selectors.members(workspace=run.workspace) if m.role in ROLES],
        "roles": ROLES,
        "tab": "board",
    }
    return render(request, "workflows/run_detail.html", context, status=status)


@capability_required(Capability.WORK_TASKS)
def run_file(
    request: HttpRequest, run_id: int, field: str, step_id: int | None = None
) -> FileResponse:
    """A file answered in a run (its intake form's, or a step's), for members who may read the
    run: always as a download, never shown inline."""
    run = _run_or_404(request, run_id)
    record = selectors.run_file(run=run, field=field, step_id=step_id)
    if record is None:
        raise Http404("No such file in this run.")
    try:
        handle = selectors.file_open(record)
    except (FileNotFoundError, OSError):
        raise Http404("The file is no longer kept.") from None
    response = FileResponse(
        handle, as_attachment=True, filename=record["name"], content_type="application/octet-stream"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _step_work(request: HttpRequest, run_id: int) -> tuple:
    run = _run_or_404(request, run_id)
    form = StepWorkForm(request.POST)
    if not form.is_valid():
        return run, None, form, error_lines(form)
    step = selectors.step_get(workspace=run.workspace, step_id=form.cleaned_data["step"])
    if step is None or step.run_id != run.pk:
        return run, None, form, ["step: not a step of this run"]
    return run, step, form, []


def _done(request: HttpRequest, run, errors: list[str]) -> HttpResponse:
    if errors:
        for error in errors:
            messages.error(request, error)
    return redirect("run-detail", run_id=run.pk)


@capability_required(Capability.WORK_TASKS)
@require_POST
def run_assign(request: HttpRequest, run_id: int) -> HttpResponse:
    run, step, form, errors = _step_work(request, run_id)
    if step is not None:
        try:
            if form.cleaned_data.get("user"):
                member = core_selectors.member_get(
                    workspace=run.workspace, user_id=form.cleaned_data["user"]
                )
                services.step_assign(
                    step=step, user=member.user if member else None, actor=request.user
                )
            elif form.cleaned_data.get("role"):
                services.step_assign_role(
                    step=step, role=form.cleaned_data["role"], actor=request.user
                )
            else:
                services.step_assign(step=step, user=request.user, actor=request.user)  # take it
        except services.RunError as exc:
            errors = exc.errors
    return _done(request, run, errors)


@capability_required(Capability.WORK_TASKS)
@require_POST
def run_extend(request: HttpRequest, run_id: int) -> HttpResponse:
    run, step, form, errors = _step_work(request, run_id)
    if step is not None:
        hours = form.cleaned_data.get("hours")
        if not hours:
            errors = ["hours: required"]
        else:
            try:
                services.step_extend(step=step, hours=hours, actor=request.user,
                                     reason=form.cleaned_data.get("reason") or "")  # fmt: skip
            except services.RunError as exc:
                errors = exc.errors
    return _done(request, run, errors)


@capability_required(Capability.WORK_TASKS)
def my_tasks(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    now = selectors.now()
    tasks = [
        {"step": s, "timing": selectors.step_timing(s, now)}
        for s in selectors.tasks_for(workspace=workspace, user=request.user, role=role(request))[
            :200
        ]
    ]
    notices = selectors.notices_for(workspace=workspace, user=request.user)
    return render(
        request, "workflows/tasks.html", {"tasks": tasks, "notices": notices, "tab": "tasks"}
    )
