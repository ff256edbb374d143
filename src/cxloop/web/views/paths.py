"""Path analysis pages: the most common paths between two events, and what came before churn or
a complaint (Sankey charts built with plotly in Python)."""

from __future__ import annotations

from datetime import timedelta

import plotly.graph_objects as go
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cxloop.core.permissions import Capability
from cxloop.journeys import paths as path_analysis
from cxloop.segments import selectors as segment_selectors
from cxloop.web.charts import figure_json
from cxloop.web.workspace import active_workspace, capability_required


def _int(value: str | None, default: int, low: int, high: int) -> tuple[int, str | None]:
    if value in (None, ""):
        return default, None
    try:
        number = int(value)
    except ValueError:
        return default, f"{value!r} is not a whole number"
    if not low <= number <= high:
        return default, f"{number} is outside {low}–{high}"
    return number, None


def _segment_filter(request: HttpRequest, workspace) -> tuple[list, QuerySet | None, list[str]]:
    """(segments for the menu, the chosen one's member ids or None, errors)."""
    segments = list(segment_selectors.segment_list(workspace=workspace))
    chosen = request.GET.get("segment", "")
    if not chosen.isdigit():
        return segments, None, []
    try:
        ids = segment_selectors.segment_member_ids(workspace=workspace, segment_id=int(chosen))
    except segment_selectors.SegmentChoiceError as exc:
        return segments, None, [f"segment: {exc}"]
    return segments, ids, []


@capability_required(Capability.READ_ANALYTICS)
def paths(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    names = path_analysis.step_names(workspace=workspace)
    segments, member_ids, errors = _segment_filter(request, workspace)
    start = request.GET.get("start", "").strip()
    end = request.GET.get("end", "").strip()
    max_steps, problem = _int(request.GET.get("max_steps"), 6, 2, path_analysis.MAX_STEPS)
    if problem:
        errors.append(f"max steps: {problem}")
    within_days, problem = _int(request.GET.get("within_days"), 0, 1, 3650)
    if problem:
        errors.append(f"within days: {problem}")
    top, problem = _int(request.GET.get("top"), 10, 1, path_analysis.MAX_TOP)
    if problem:
        errors.append(f"top: {problem}")
    by_channel = request.GET.get("by_channel") == "1"
    context = {
        "tab": "paths",
        "names": names,
        "segments": segments,
        "form": {
            "start": start,
            "end": end,
            "max_steps": max_steps,
            "within_days": within_days or "",
            "top": top,
            "by_channel": by_channel,
            "segment": request.GET.get("segment", ""),
        },
        "errors": errors,
        "asked": bool(start or end),
    }
    if context["asked"] and not errors:
        try:
            report = path_analysis.paths_between(
                workspace=workspace,
                start=start,
                end=end,
                max_steps=max_steps,
                within=timedelta(days=within_days) if within_days else None,
                by_channel=by_channel,
                top=top,
                customer_ids=member_ids,
            )
        except path_analysis.PathQueryError as exc:
            errors.append(str(exc))
        else:
            context["report"] = report
            context["conversion"] = report.conversion * 100
            if report.paths:
                context["chart_json"] = figure_json(path_analysis.sankey_figure(report.paths))
    return render(request, "paths/paths.html", context)


@capability_required(Capability.READ_ANALYTICS)
def paths_before(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    segments, member_ids, errors = _segment_filter(request, workspace)
    kind = request.GET.get("kind", "churn")
    kind = kind if kind in ("churn", "complaint") else "churn"
    steps, problem = _int(request.GET.get("steps"), 3, 1, path_analysis.MAX_STEPS)
    if problem:
        errors.append(f"steps: {problem}")
    days, problem = _int(request.GET.get("inactive_days"), 90, 1, 3650)
    if problem:
        errors.append(f"inactive days: {problem}")
    complaint_events = request.GET.get(
        "complaint_events", ", ".join(path_analysis.DEFAULT_COMPLAINT_EVENTS)
    )
    topics = request.GET.get("topics", "")
    by_channel = request.GET.get("by_channel") == "1"
    context = {
        "tab": "before",
        "segments": segments,
        "names": path_analysis.step_names(workspace=workspace),
        "form": {
            "kind": kind,
            "steps": steps,
            "inactive_days": days,
            "complaint_events": complaint_events,
            "topics": topics,
            "by_channel": by_channel,
            "segment": request.GET.get("segment", ""),
        },
        "errors": errors,
    }
    if not errors:
        try:
            if kind == "churn":
                report = path_analysis.paths_before_churn(
                    workspace=workspace,
                    inactive_days=days,
                    steps=steps,
                    by_channel=by_channel,
                    customer_ids=member_ids,
                )
            else:
                report = path_analysis.paths_before_complaint(
                    workspace=workspace,
                    steps=steps,
                    complaint_events=_split(complaint_events),
                    complaint_topics=_split(topics),
                    by_channel=by_channel,
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
                context["chart_json"] = figure_json(
                    path_analysis.sankey_figure(report.paths, align_end=True)
                )
                context["bar_json"] = figure_json(_last_step_figure(report))
    return render(request, "paths/before.html", context)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _last_step_figure(report: path_analysis.BeforeReport) -> go.Figure:
    rows = list(reversed(report.last_step))
    figure = go.Figure(
        go.Bar(
            x=[n for _, n in rows],
            y=[label for label, _ in rows],
            orientation="h",
            marker={"color": "#2f4fd0"},
            hovertemplate="%{y}: %{x} customers<extra></extra>",
        )
    )
    figure.update_layout(
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        height=80 + 28 * len(rows),
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        yaxis={"automargin": True},
        xaxis={
            "title": {"text": "customers"},
            "rangemode": "tozero",
            "tickformat": ",d",
            **({"dtick": 1} if rows and max(n for _, n in rows) < 6 else {}),
        },
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure
