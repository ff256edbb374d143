"""The workspace's business hours: steps whose deadline counts in business hours use them."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from cxloop.core.permissions import Capability
from cxloop.web.forms import error_lines
from cxloop.web.forms.workflows import WEEKDAYS, CalendarForm
from cxloop.web.workspace import active_workspace, capability_required
from cxloop.workflows import selectors, services

DEFAULT = {"zone": "UTC", "days": [0, 1, 2, 3, 4], "opens": "09:00", "closes": "17:00",
           "holidays": []}  # fmt: skip


@capability_required(Capability.MANAGE_WORKFLOWS)
def workflow_calendar(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    errors: list[str] = []
    current = selectors.calendar_definition(workspace_id=workspace.pk)
    shown = dict(current or DEFAULT)
    if request.method == "POST":
        form = CalendarForm(request.POST)
        if not form.is_valid():
            errors = error_lines(form)
        elif form.cleaned_data.get("op") == "clear":
            services.calendar_clear(workspace=workspace)
            messages.success(request, "Business hours removed: deadlines count plain hours.")
            return redirect("workflow-calendar")
        else:
            data = form.cleaned_data
            days: list[str] = list(data.get("days") or [])
            raw = {
                "zone": data.get("zone"),
                "days": days,
                "opens": data.get("opens"),
                "closes": data.get("closes"),
                "holidays": data.get("holidays") or "",
            }
            try:
                services.calendar_set(workspace=workspace, raw=raw)
            except services.CalendarError as refused:
                errors = refused.errors
                shown = {**raw, "days": [int(d) for d in days]}
                shown["holidays"] = [h for h in str(raw["holidays"]).split() if h]
            else:
                messages.success(request, "Business hours saved.")
                return redirect("workflow-calendar")
    context = {
        "current": current,
        "shown": shown,
        "weekdays": [(int(value), name) for value, name in WEEKDAYS],
        "errors": errors,
        "field_errors": {
            e.split(":")[0]: e.split(":", 1)[1].strip() for e in reversed(errors) if ":" in e
        },
        "tab": "templates",
    }
    return render(request, "workflows/calendar.html", context, status=422 if errors else 200)
