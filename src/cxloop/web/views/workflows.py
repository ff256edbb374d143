"""Workflow template pages: the list, the form-based editor (add, remove, reorder steps and
their fields; htmx redraws the form, every button also works without it), and the public
intake form that starts a run (``/w/<token>/``, no login, like public survey pages)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from cxloop.core import selectors as core_selectors
from cxloop.core import throttle
from cxloop.core.permissions import Capability
from cxloop.web.forms import error_lines
from cxloop.web.forms.common import bad_params
from cxloop.web.forms.workflows import EditorForm, ProcessForm, field_row, step_row
from cxloop.web.workspace import active_workspace, capability_required
from cxloop.workflows import process, selectors, services
from cxloop.workflows.definition import ASSIGNEE_KINDS, FIELD_TYPES, OPS, ROLES

if TYPE_CHECKING:
    from cxloop.workflows.models import TemplateVersion

MAX_STEPS = 30


def saved_redirect(request: HttpRequest, url: str) -> HttpResponse:
    """After a save: a plain redirect, or for htmx (which would swap the next page's form into
    this one) an ``HX-Redirect`` so the browser goes there itself."""
    if request.headers.get("HX-Request") == "true":
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _blank_step(n: int) -> dict[str, Any]:
    return {"key": f"step_{n}", "title": "", "assignee": {"kind": "unassigned"},
            "deadline_hours": None, "deadline_from": "previous", "fields": [],
            "condition": None, "escalate": None, "email": None}  # fmt: skip


def _blank_field() -> dict[str, Any]:
    return {"key": "", "label": "", "type": "text", "required": False}


def _field_from(data, prefix: str, errors: list[str], where: str) -> dict[str, Any]:
    row = field_row(data, prefix)
    row.is_valid()
    errors.extend(f"{where}: {line}" for line in error_lines(row))
    c = row.cleaned_data
    field = {"key": c.get("key", ""), "label": c.get("label", ""),
             "type": c.get("type") or "text", "required": bool(c.get("required"))}  # fmt: skip
    if field["type"] == "choice":
        field["choices"] = [x.strip() for x in c.get("choices", "").split(",") if x.strip()]
    if field["type"] == "rating":
        field["max"] = c.get("max") or "5"
    return field


def _steps_from(data, count: int, errors: list[str]) -> list[dict[str, Any]]:
    steps = []
    for i in range(count):
        row = step_row(data, i)
        row.is_valid()
        errors.extend(f"step {i + 1}: {line}" for line in error_lines(row))
        c = {k: (v or "") for k, v in row.cleaned_data.items()}
        kind = c.get("assignee_kind") or "unassigned"
        assignee: dict[str, Any] = {"kind": kind}
        if kind == "member":
            assignee["user_id"] = c.get("assignee_user")
        elif kind in ("role", "round_robin", "owner"):
            assignee["role"] = c.get("assignee_role") or "agent"
        fields_count = int(c["fields"]) if str(c.get("fields", "")).isdigit() else 0
        step = {
            "key": c.get("key", ""), "title": c.get("title", ""), "assignee": assignee,
            "deadline_hours": c.get("deadline_hours") or None,
            "deadline_from": c.get("deadline_from") or "previous",
            "deadline_business": bool(row.cleaned_data.get("deadline_business")),
            "parallel": bool(row.cleaned_data.get("parallel")) and i > 0,
            "fields": [_field_from(data, f"s{i}f{j}", errors, f"step {i + 1} field {j + 1}")
                       for j in range(min(fields_count, 20))],
            "condition": None, "escalate": None, "email": None,
        }  # fmt: skip
        if c.get("cond_step"):
            step["condition"] = {"step": c["cond_step"], "field": c.get("cond_field", ""),
                                 "op": c.get("cond_op") or "eq", "value": c.get("cond_value", "")}  # fmt: skip
        if c.get("escalate_role"):
            step["escalate"] = {"kind": "role", "role": c["escalate_role"]}
        if c.get("email_subject") or c.get("email_body"):
            step["email"] = {"subject": c.get("email_subject", ""), "body": c.get("email_body", "")}
        steps.append(step)
    return steps


def _apply(op: str, steps: list[dict], intake: list[dict]) -> None:
    """An editor button: change the rows in place (nothing is saved)."""
    name, *numbers = op.split("-")
    at = [int(n) for n in numbers]
    if name == "add_step" and len(steps) < MAX_STEPS:
        steps.append(_blank_step(len(steps) + 1))
    elif name == "add_intake" and len(intake) < 20:
        intake.append(_blank_field())
    elif at and at[0] < len(steps if name != "remove_intake" else intake):
        i = at[0]
        if name == "remove_step":
            steps.pop(i)
        elif name == "up" and i > 0:
            steps[i - 1], steps[i] = steps[i], steps[i - 1]
        elif name == "down" and i < len(steps) - 1:
            steps[i + 1], steps[i] = steps[i], steps[i + 1]
        elif name == "add_field" and len(steps[i]["fields"]) < 20:
            steps[i]["fields"].append(_blank_field())
        elif name == "remove_field" and len(at) == 2 and at[1] < len(steps[i]["fields"]):
            steps[i]["fields"].pop(at[1])
        elif name == "remove_intake":
            intake.pop(i)


@capability_required(Capability.WORK_TASKS)
def workflow_list(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    templates = selectors.template_list(workspace=workspace)
    return render(request, "workflows/list.html", {"templates": templates, "tab": "templates"})


@capability_required(Capability.MANAGE_WORKFLOWS)
def workflow_new(request: HttpRequest) -> HttpResponse:
    return _editor(request, None)


@capability_required(Capability.MANAGE_WORKFLOWS)
def workflow_edit(request: HttpRequest, template_id: int) -> HttpResponse:
    template = selectors.template_get(workspace=active_workspace(request), template_id=template_id)
    if template is None:
        raise Http404("No such workflow in this workspace.")
    return _editor(request, template)


def _editor(request: HttpRequest, template) -> HttpResponse:
    workspace = active_workspace(request)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        form = EditorForm(request.POST)
        form.is_valid()
        errors = error_lines(form)
        counts = form.counts()
        name = form.cleaned_data.get("name") or ""
        description = form.cleaned_data.get("description") or ""
        intake_public = bool(form.cleaned_data.get("intake_public"))
        steps = _steps_from(request.POST, counts["steps"], errors)
        intake = [_field_from(request.POST, f"i{j}", errors, f"intake field {j + 1}")
                  for j in range(min(counts["intakes"], 20))]  # fmt: skip
        op = form.cleaned_data.get("op") or "save"
        if op != "save":
            _apply(op, steps, intake)
        elif not errors:
            try:
                if template is None:
                    template = services.template_create(
                        workspace=workspace, name=name, description=description, steps=steps,
                        intake_fields=intake, intake_public=intake_public, actor=request.user,
                    )  # fmt: skip
                else:
                    services.template_new_version(
                        template=template, name=name, description=description, steps=steps,
                        intake_fields=intake, intake_public=intake_public, actor=request.user,
                    )  # fmt: skip
            except services.DefinitionError as exc:
                errors = exc.errors
            else:
                return saved_redirect(request, reverse("workflow-edit", args=[template.pk]))
        if errors and op == "save":
            status = 422
    elif template is not None:
        name, description, intake_public = (
            template.name,
            template.description,
            template.intake_public,
        )
        steps = [dict(s) for s in template.current.steps] if template.current else []
        intake = list(template.current.intake_fields) if template.current else []
    else:
        name, description, intake_public = "", "", False
        steps, intake = [_blank_step(1)], []
    for i, step in enumerate(steps):
        step["rows"] = [
            {"f": f, "p": f"s{i}f{j}", "remove": f"remove_field-{i}-{j}",
             "where": f"Step {i + 1} field {j + 1}"}
            for j, f in enumerate(step["fields"])
        ]  # fmt: skip
    intake_rows = [
        {"f": f, "p": f"i{j}", "remove": f"remove_intake-{j}", "where": f"Intake field {j + 1}"}
        for j, f in enumerate(intake)
    ]
    context = {
        "intake_rows": intake_rows,
        "template": template, "name": name, "description": description,
        "intake_public": intake_public, "steps": steps, "intake": intake, "errors": errors,
        "workers": [m for m in core_selectors.members(workspace=workspace) if m.role in ROLES],
        "roles": ROLES, "assignee_kinds": ASSIGNEE_KINDS, "field_types": FIELD_TYPES, "ops": OPS,
        "intake_url": request.build_absolute_uri(
            reverse("workflow-intake", args=[template.intake_token])) if template else "",
        "versions": template.versions.order_by("-number")[:10] if template else [],
        "tab": "templates",
    }  # fmt: skip
    return render(request, "workflows/editor.html", context, status=status)


DOWNLOADS = {
    "html": ("html", "text/html; charset=utf-8"),
    "md": ("md", "text/markdown; charset=utf-8"),
    "pdf": ("pdf", "application/pdf"),
}


@capability_required(Capability.WORK_TASKS)
def workflow_process(request: HttpRequest, template_id: int) -> HttpResponse:
    """The process of one version (``?version=``, default the current one) in words, as a
    flowchart and in numbers from that version's runs; ``?format=html|md|pdf`` downloads it."""
    workspace = active_workspace(request)
    template = selectors.template_get(workspace=workspace, template_id=template_id)
    if template is None or template.current is None:
        raise Http404("No such workflow in this workspace.")
    form = ProcessForm(request.GET)
    version: TemplateVersion | None = template.current
    if form.is_valid() and form.cleaned_data.get("version"):
        number = form.cleaned_data["version"]
        version = selectors.template_version_get(template=template, number=number)
        if version is None:
            form.add_error("version", f"this workflow has no version {number}")
    if not form.is_valid() or version is None:
        return bad_params(request, form)
    names = {m.user.pk: m.user.get_username() for m in core_selectors.members(workspace=workspace)}
    stats = selectors.step_stats(version=version)
    doc = process.document(
        name=template.name, description=template.description, version=version.number,
        steps=version.steps, names=names, stats=stats,
    )  # fmt: skip
    kind = form.cleaned_data.get("format")
    if kind:
        extension, content_type = DOWNLOADS[kind]
        if kind == "md":
            body: str | bytes = process.markdown(doc)
        elif kind == "pdf":
            body = process.pdf(doc)
        else:
            body = render_to_string(
                "workflows/process_document.html", {"doc": doc, "header": process.STATS_HEADER}
            )
        response = HttpResponse(body, content_type=content_type)
        name = process.filename(template.name, version.number, extension)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response
    context = {
        "template": template, "version": version, "doc": doc, "header": process.STATS_HEADER,
        "versions": selectors.template_versions(template=template).values_list("number", flat=True),
        "query": "" if version == template.current else f"version={version.number}&",
        "tab": "templates",
    }  # fmt: skip
    return render(request, "workflows/process.html", context)


# ------------------------------------------------------------------ public intake form


@csrf_exempt
@require_http_methods(["GET", "POST"])
def workflow_intake(request: HttpRequest, token: str) -> HttpResponse:
    """The public intake form: submitting it starts a run tied to the customer (matched by
    email, or created). POSTs are limited per client IP like survey answers."""
    template = selectors.template_by_intake_token(token=token)
    if template is None:
        return render(request, "workflows/intake_closed.html", status=404)
    form_class = services.intake_form_class(template)
    errors: list[str] = []
    status = 200
    form = form_class()
    if request.method == "POST":
        wait = throttle.survey_limited(request, token=f"intake:{token}")
        if wait is not None:
            response = render(request, "workflows/intake_closed.html", {"wait": wait}, status=429)
            response["Retry-After"] = str(wait)
            return response
        form = form_class(request.POST, request.FILES)
        try:
            services.intake_submit(template=template, data=request.POST, files=request.FILES)
        except services.RunError as exc:
            errors, status = exc.errors, 422
            form.is_valid()
        else:
            return render(request, "workflows/intake_thanks.html", {"template": template})
    return render(request, "workflows/intake.html",
                  {"template": template, "form": form, "errors": errors}, status=status)  # fmt: skip
