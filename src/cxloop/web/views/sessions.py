"""Session settings: how a workspace's events form sessions (``analytics.sessions``), shown to
readers of analytics and changed by those who edit journeys."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cxloop.core import services as core_services
from cxloop.core.permissions import Capability
from cxloop.web.forms import error_lines
from cxloop.web.forms.sessions import SessionSettingsForm
from cxloop.web.workspace import active_workspace, can, capability_required


@capability_required(Capability.READ_ANALYTICS, write=Capability.EDIT_JOURNEYS)
@require_http_methods(["GET", "POST"])
def session_settings(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        form = SessionSettingsForm(request.POST)
        if form.is_valid():
            try:
                core_services.workspace_sessions_set(
                    workspace=workspace,
                    timeout_minutes=form.cleaned_data["timeout_minutes"],
                    session_property=form.cleaned_data["session_property"] or "",
                    actor=request.user,
                )
            except ValueError as exc:
                errors.append(str(exc))
            else:
                messages.success(request, "Session settings saved.")
                return redirect("session-settings")
        errors = error_lines(form, SessionSettingsForm.labels) + errors
        status = 422
        values = {"timeout_minutes": form.data.get("timeout_minutes", ""),
                  "session_property": form.data.get("session_property", "")}  # fmt: skip
        invalid = set(form.errors)
    else:
        values = {"timeout_minutes": workspace.session_timeout_minutes,
                  "session_property": workspace.session_property}  # fmt: skip
        invalid = set()
    context = {
        "tab": "sessions",
        "values": values,
        "errors": errors,
        "invalid": invalid,
        "can_edit": can(request, Capability.EDIT_JOURNEYS),
    }
    return render(request, "trends/sessions.html", context, status=status)
