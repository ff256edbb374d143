"""Path analysis pages: the most common paths between two events, and what came before churn or
a complaint (Sankey charts built with plotly in Python)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from cxloop.core.permissions import Capability
from cxloop.journeys import paths as path_analysis
from cxloop.journeys import selectors as journey_selectors
from cxloop.metrics.trends import Range
from cxloop.segments import selectors as segment_selectors
from cxloop.web.charts.embed import figure_json
from cxloop.web.charts.paths import last_step_figure, sankey_figure
from cxloop.web.forms import error_lines, raw
from cxloop.web.forms.paths import BeforeForm, PathsForm
from cxloop.web.forms.trends import range_of
from cxloop.web.views.saved import pinned_redirect, saved_links
from cxloop.web.workspace import active_workspace, capability_required


def _segment_filter(workspace, segment_id: int | None) -> tuple[list, QuerySet | None, list[str]]:
    """(segments for the menu, the chosen one's member ids or None, errors)."""
    segments = list(segment_selectors.segment_list(workspace=workspace))
    if segment_id is None:
        return segments, None, []
    try:
        ids = segment_selectors.segment_member_ids(workspace=workspace, segment_id=segment_id)
    except segment_selectors.SegmentChoiceError as exc:
        return segments, None, [f"segment: {exc}"]
    return segments, ids, []


def _read(form: PathsForm | BeforeForm) -> dict:
    """The form's values: cleaned ones, the default for a missing one, what was typed for a bad
    one (shown back next to its error)."""
    form.is_valid()
    values: dict[str, Any] = {}
    for name in form.fields:
        if name in form.errors:
            values[name] = raw(form, name)
        else:
            value = form.cleaned_data.get(name)
            missing = value is None or name not in form.data
            values[name] = form.defaults.get(name, value) if missing else value
    return values


@capability_required(Capability.READ_ANALYTICS)
def paths(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    names = path_analysis.step_names(workspace=workspace)
    query, default_note = request.GET, ""
    if not query:  # open with something useful: a pinned view, else from the commonest start
        pinned = pinned_redirect(workspace, "path")
        if pinned is not None:
            return pinned
        common = journey_selectors.funnel_default_steps(workspace=workspace)
        if common:
            query = QueryDict(urlencode([("start", common[0])]))
            default_note = f"paths from {common[0]}, where most of this workspace's journeys start"
    form = PathsForm(query)
    values = _read(form)
    errors = error_lines(form, form.labels)
    segments, member_ids, problems = _segment_filter(workspace, form.cleaned_data.get("segment"))
    errors.extend(problems)
    start, end = values["start"] or "", values["end"] or ""
    max_steps, within_days, top = values["max_steps"], values["within_days"], values["top"]
    by_channel = bool(values["by_channel"])
    context = {
        "tab": "paths",
        "names": names,
        "segments": segments,
        "form": {**values, "within_days": within_days or "", "segment": raw(form, "segment")},
        "invalid": set(form.errors),
        "max_days": path_analysis.MAX_DAYS,
        "max_steps": path_analysis.MAX_STEPS,
        "max_top": path_analysis.MAX_TOP,
        "errors": errors,
        "asked": bool(start or end),
        "save_query": query.urlencode(),
        "default_note": default_note,
        "saved": saved_links(
            journey_selectors.saved_analysis_list(workspace=workspace, kind="path")[:12]
        ),
    }
    span = _range(workspace, form, context)
    if context["asked"] and span is not None and not errors:
        try:
            report = path_analysis.paths_between(
                workspace=workspace,
                start=start,
                end=end,
                max_steps=max_steps,
                within=timedelta(days=within_days) if within_days else None,
                by_channel=by_channel,
                top=top,
                since=span.since,
                until=span.until,
                customer_ids=member_ids,
                per=values["per"] or "customer",
            )
        except path_analysis.PathQueryError as exc:
            errors.append(str(exc))
        else:
            context["report"] = report
            context["conversion"] = report.conversion * 100
            if report.paths:
                context["chart_json"] = figure_json(sankey_figure(report.paths))
    return render(request, "paths/paths.html", context)


@capability_required(Capability.READ_ANALYTICS)
def paths_before(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    form = BeforeForm(request.GET)
    values = _read(form)
    errors = error_lines(form, form.labels)
    segments, member_ids, problems = _segment_filter(workspace, form.cleaned_data.get("segment"))
    errors.extend(problems)
    kind = values["kind"] if values["kind"] in ("churn", "complaint") else "churn"
    steps, days, by_channel = values["steps"], values["inactive_days"], bool(values["by_channel"])
    complaint_events, topics = values["complaint_events"], values["topics"] or ""
    context = {
        "tab": "before",
        "segments": segments,
        "names": path_analysis.step_names(workspace=workspace),
        "form": {**values, "kind": kind, "topics": topics, "segment": raw(form, "segment")},
        "invalid": set(form.errors),
        "max_days": path_analysis.MAX_INACTIVE_DAYS,
        "max_steps": path_analysis.MAX_STEPS,
        "errors": errors,
    }
    span = _range(workspace, form, context)
    if span is not None and not errors:
        try:
            if kind == "churn":  # inactive for N days as of the as-of time, not today
                report = path_analysis.paths_before_churn(
                    workspace=workspace,
                    inactive_days=days,
                    steps=steps,
                    by_channel=by_channel,
                    now=span.as_of,
                    customer_ids=member_ids,
                )
            else:
                report = path_analysis.paths_before_complaint(
                    workspace=workspace,
                    steps=steps,
                    complaint_events=_split(complaint_events),
                    complaint_topics=_split(topics),
                    by_channel=by_channel,
                    since=span.since,
                    until=span.until,
                    customer_ids=member_ids,
                )
        except path_analysis.PathQueryError as exc:
            errors.append(str(exc))
        else:
            context["report"] = report
            context["last_rows"] = [
                (label, n, n / report.customers * 100 if report.customers else 0)
                for label, n in report.last_step
            ]
            context["anywhere_rows"] = [
                (label, n, n / report.customers * 100 if report.customers else 0)
                for label, n in report.anywhere
            ]
            if report.paths:
                context["chart_json"] = figure_json(sankey_figure(report.paths, align_end=True))
                context["bar_json"] = figure_json(last_step_figure(report))
    return render(request, "paths/before.html", context)


def _range(workspace, form: PathsForm | BeforeForm, context: dict) -> Range | None:
    """The page's range and as-of time (the trends' rule), shown back in its fields."""
    span = range_of(workspace, form.cleaned_data, context["invalid"], context["errors"])
    if span is None:
        context["form"].update(date_from=raw(form, "date_from"), date_to=raw(form, "date_to"))
    else:
        context.update(span=span)
        context["form"].update(date_from=span.first, date_to=span.last)
    return span


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
