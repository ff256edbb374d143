"""The closed-loop report: of the loops rules started in a date range, how many closed, how
fast the first contact and the close came (median and p90), and their outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cxloop.core.permissions import Capability
from cxloop.web.forms.common import bad_params
from cxloop.web.forms.workflows import ReportForm
from cxloop.web.workspace import active_workspace, capability_required
from cxloop.workflows import selectors

DEFAULT_DAYS = 90


@capability_required(Capability.READ_ANALYTICS)
def loop_report(request: HttpRequest) -> HttpResponse:
    form = ReportForm(request.GET)
    if not form.is_valid():
        return bad_params(request, form)
    end_day = form.cleaned_data.get("end") or selectors.now().date()
    start_day = form.cleaned_data.get("start") or end_day - timedelta(days=DEFAULT_DAYS - 1)
    if start_day > end_day:
        form.add_error("start", "must not be after end")
        return bad_params(request, form)
    start = datetime.combine(start_day, time(), UTC)
    end = datetime.combine(end_day, time(), UTC) + timedelta(days=1)
    report = selectors.loop_report(workspace=active_workspace(request), start=start, end=end)
    return render(request, "workflows/report.html",
                  {"report": report, "start": start_day, "end": end_day, "tab": "report"})  # fmt: skip
