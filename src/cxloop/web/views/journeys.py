"""Journey pages: the list of journey maps, the map drawn with its metrics, the editor (funnels
are in cxloop.web.views.funnels)."""

from __future__ import annotations

import json
import re
from datetime import UTC
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cxloop.core.permissions import Capability
from cxloop.events.channels import CHANNELS
from cxloop.journeys import mapperiod, picker
from cxloop.journeys import selectors as journey_selectors
from cxloop.journeys import services as journey_services
from cxloop.journeys import tasks as journey_tasks
from cxloop.journeys.definitions import (
    FEEDBACK_METRICS,
    DefinitionError,
    FeedbackCondition,
    parse_rule,
)
from cxloop.metrics.funnelchange import change_periods
from cxloop.metrics.trends import TrendQueryError
from cxloop.text import selectors as text_selectors
from cxloop.web.charts.journeys import stage_chart
from cxloop.web.forms import MAX_TEXT, error_lines, raw
from cxloop.web.forms.journeys import JourneyEditorForm, JourneyMapForm
from cxloop.web.forms.trends import range_of
from cxloop.web.workspace import active_workspace, can, capability_required


def human_duration(seconds: float | None) -> str:
    """``3 min``, ``5.2 h``, ``12 days`` (— when unknown)."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    days = seconds / 86400
    return f"{days:.1f} days" if days < 10 else f"{days:.0f} days"


def _journey_or_404(request: HttpRequest, journey_id: int):
    journey = journey_selectors.journey_get(
        workspace=active_workspace(request), journey_id=journey_id
    )
    if journey is None:
        raise Http404("No such journey in this workspace.")
    return journey


# ------------------------------------------------------------------ journey maps


@capability_required(Capability.READ_ANALYTICS)
def journey_list(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    journeys = list(journey_selectors.journey_list(workspace=workspace))
    return render(request, "journeys/journey_list.html", {"journeys": journeys})


@capability_required(Capability.READ_ANALYTICS)
def journey_detail(request: HttpRequest, journey_id: int) -> HttpResponse:
    """The map over a date range (default: the last 90 days to the as-of time), optionally
    against the as many days before it (``journeys.mapperiod``)."""
    journey = _journey_or_404(request, journey_id)
    form = JourneyMapForm(request.GET)
    form.is_valid()
    data = form.cleaned_data
    invalid = set(form.errors)
    errors = error_lines(form, JourneyMapForm.labels)
    context: dict[str, Any] = {
        "journey": journey,
        "invalid": invalid,
        "errors": errors,
        "form": {
            "date_from": data.get("date_from") or raw(form, "date_from"),
            "date_to": data.get("date_to") or raw(form, "date_to"),
            "compare": bool(data.get("compare")),
        },
        "span": None,
        "previous": None,
        "stages": [],
        "chart": None,
    }
    span = range_of(journey.workspace, data, invalid, errors)
    previous = None
    if span is not None and data.get("compare"):
        try:
            previous = change_periods(
                workspace=journey.workspace, date_from=span.first, date_to=span.last
            ).previous
        except TrendQueryError as exc:
            errors.append(f"compare: {exc}")
    if span is None:
        return render(request, "journeys/journey_detail.html", context, status=422)
    context["form"].update(date_from=span.first, date_to=span.last)
    period = mapperiod.journey_map_period(
        journey=journey, since=span.since, until=span.until,
        previous=(previous.since, previous.until) if previous else None,
        use_stored=mapperiod.STALE_LABELLED,
    )  # fmt: skip
    context["stored_note"] = _stored_note(period)
    if context["stored_note"]:
        journey_tasks.refresh_soon()
    for view in period.stages:  # the template shows each stage's and touchpoint's median as text
        shown: Any = view
        shown.median = human_duration(view.metrics.get("median_seconds"))
        shown.before = _before(view.metrics, view.previous, "reached") if previous else ""
        feedback = view.stage.feedback
        shown.placed_when = FeedbackCondition(**feedback).label() if feedback else ""
        for tp in view.touchpoints:
            shown = tp
            shown.median = human_duration(tp.metrics.get("median_seconds"))
            shown.before = _before(tp.metrics, tp.previous, "used it") if previous else ""
            if previous:
                shown.before += _scores_before(tp.feedback, tp.previous_feedback)
            shown.top_negative = _top_negative(request, journey.workspace, tp.touchpoint.pk, span)
    context.update(
        span=span,
        previous=previous,
        stages=period.stages,
        total=period.customers,
        total_before=period.previous_customers,
        chart=stage_chart(period.stages),
        rated=any(tp.feedback for view in period.stages for tp in view.touchpoints),
    )
    return render(request, "journeys/journey_detail.html", context, status=422 if errors else 200)


def _stored_note(period: mapperiod.MapPeriod) -> str:
    """What the page says when it shows stored metrics the data has moved on from (empty when
    every period shown is current or walked now): "Figures as of 14:05 UTC; 1,234 new events
    since; recomputing."."""
    stale = [
        p.stored
        for p in (period.current, period.previous)
        if p is not None and p.stored is not None and not p.stored.current
    ]
    if not stale:
        return ""
    stored = stale[0]
    changes = []
    if stored.new_events or not stored.complete:
        more = "" if stored.complete else "+"
        changes.append(f"{stored.new_events:,}{more} new event{_plural(stored.new_events)}")
    if stored.rewalked:
        changes.append("profiles merged, unmerged or erased")
    return (
        f"Figures as of {stored.computed_at.astimezone(UTC):%H:%M} UTC; "
        f"{' and '.join(changes)} since; recomputing."
    )


def _plural(n: int) -> str:
    return "" if n == 1 else "s"


def _before(now: dict, then: dict, verb: str) -> str:
    """The compared period in words: "Before: 40 reached (+10), 25% to next stage (+5 pts),
    median 2.0 days"."""
    count, was = now.get("customers") or 0, then.get("customers") or 0
    parts = [f"{was:,} {verb} ({count - was:+,})"]
    if then.get("conversion") is not None or now.get("conversion") is not None:
        rate = then.get("conversion")
        text = "—" if rate is None else f"{rate:.0%}"
        if rate is not None and now.get("conversion") is not None:
            text += f" ({100 * (now['conversion'] - rate):+.0f} pts)"
        parts.append(f"{text} to next stage")
        parts.append(f"median {human_duration(then.get('median_seconds'))}")
    return "Before: " + ", ".join(parts)


def _scores_before(now: dict, then: dict) -> str:
    parts = []
    if then.get("csat") is not None:
        parts.append(f"CSAT {then['csat']:.0%}")
    if then.get("nps") is not None:
        parts.append(f"NPS {then['nps']:+.0f}")
    return ("; " + ", ".join(parts)) if parts else ""


def _top_negative(request: HttpRequest, workspace, touchpoint_id: int, span) -> tuple | None:
    """The touchpoint's top negative theme (theme, negative texts) in the range, for roles that
    read feedback, else None: theme names come from customers' words."""
    if not can(request, Capability.READ_FEEDBACK):
        return None
    ids = journey_selectors.touchpoint_response_ids(
        workspace=workspace, touchpoint_id=touchpoint_id, since=span.since, until=span.until
    ).response_ids
    return text_selectors.top_negative_theme(workspace=workspace, response_ids=ids)


@capability_required(Capability.EDIT_JOURNEYS)
@require_POST
def journey_recompute(request: HttpRequest, journey_id: int) -> HttpResponse:
    journey = _journey_or_404(request, journey_id)
    journey_services.journey_recompute(journey=journey)
    return redirect("journey-detail", journey_id=journey.pk)


@capability_required(Capability.EDIT_JOURNEYS)
@require_POST
def journey_delete(request: HttpRequest, journey_id: int) -> HttpResponse:
    journey = _journey_or_404(request, journey_id)
    journey_services.journey_delete(journey=journey)
    return redirect("journey-list")


@capability_required(Capability.EDIT_JOURNEYS)
def journey_new(request: HttpRequest) -> HttpResponse:
    return _journey_form(request, None)


@capability_required(Capability.EDIT_JOURNEYS)
def journey_edit(request: HttpRequest, journey_id: int) -> HttpResponse:
    return _journey_form(request, _journey_or_404(request, journey_id))


def _journey_form(request: HttpRequest, journey) -> HttpResponse:
    """The visual editor (``static/journeys/editor.js``) posts the whole definition as JSON in
    ``definition``; refused ones come back with each error keyed by the definition path it is
    about, which the editor shows next to that field."""
    workspace = active_workspace(request)
    errors: list[dict[str, str]] = []
    definition: dict[str, Any]
    if request.method == "POST":
        form = JourneyEditorForm(request.POST)
        definition, problem = form.parsed()
        if problem:
            errors.append({"path": "", "message": problem})
        else:
            try:
                if journey is None:
                    journey = journey_services.journey_create(
                        workspace=workspace, definition=definition
                    )
                else:
                    journey_services.journey_update(journey=journey, definition=definition)
                return redirect("journey-detail", journey_id=journey.pk)
            except DefinitionError as exc:
                errors = [_placed(error, definition) for error in exc.errors]
    elif journey is not None:
        definition = journey_selectors.journey_definition(journey=journey)
    else:
        definition = {"name": "", "description": "", "stages": [], "touchpoints": []}
    window = picker.picker_window(workspace=workspace)
    context = {
        "journey": journey,
        "errors": errors,
        "editor": {
            "definition": definition,
            "errors": errors,
            "channels": list(CHANNELS),
            "events": [name for name, _ in journey_selectors.event_names(workspace=workspace)],
            "urls": {
                "properties": reverse("journey-editor-properties"),
                "count": reverse("journey-editor-count"),
            },
        },
        "window": window,
        "metrics": FEEDBACK_METRICS,
    }
    status = 422 if errors else 200
    return render(request, "journeys/journey_form.html", context, status=status)


_PATH = re.compile(
    r"^((?:name|description|stages|touchpoints)(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*):\s*"
)
_STAGE_NAMED = re.compile(r"^stage '(.+?)' ")


def _placed(error: str, definition: dict) -> dict[str, str]:
    """``{"path", "message"}`` from a definition error (``stages[1].name: required``): the
    editor puts the message next to the field at ``path`` (all of them also in the summary)."""
    match = _PATH.match(error)
    if match:
        message = error[match.end() :]
        return {"path": match[1], "message": message[:1].upper() + message[1:]}
    named = _STAGE_NAMED.match(error)
    if named:  # "stage 'Buy' has no touchpoints": about that stage's column
        stages = definition.get("stages") or []
        for index, stage in enumerate(stages):
            name = stage.get("name") if isinstance(stage, dict) else stage
            if isinstance(name, str) and name.strip().casefold() == named[1].casefold():
                return {"path": f"stages[{index}]", "message": error[:1].upper() + error[1:]}
    return {"path": "", "message": error[:1].upper() + error[1:]}


# ------------------------------------------------------------------ the editor's rule picker


@capability_required(Capability.EDIT_JOURNEYS)
def journey_editor_properties(request: HttpRequest) -> HttpResponse:
    """The properties seen on events named ``event``, with their types (JSON for the editor)."""
    event = str(request.GET.get("event", "")).replace("\x00", "").strip()[:MAX_TEXT]
    if not event:
        return JsonResponse({"error": "event: choose an event first"}, status=422)
    workspace = active_workspace(request)
    window = picker.picker_window(workspace=workspace)
    seen = picker.event_properties(workspace=workspace, event=event, window=window)
    return JsonResponse(
        {
            "event": event,
            "properties": [
                {"name": p.name, "type": p.kind, "seen": p.seen, "examples": list(p.examples)}
                for p in seen
            ],
        }
    )


@capability_required(Capability.EDIT_JOURNEYS)
def journey_editor_count(request: HttpRequest) -> HttpResponse:
    """How many events one rule matches over the picker's window (an htmx fragment)."""
    workspace = active_workspace(request)
    window = picker.picker_window(workspace=workspace)
    context: dict[str, Any] = {"window": window}
    raw = str(request.GET.get("rule", ""))[: 10 * MAX_TEXT]
    try:
        rule = parse_rule(json.loads(raw), "rule")
    except (ValueError, RecursionError) as exc:  # DefinitionError is a ValueError
        errors = exc.errors if isinstance(exc, DefinitionError) else ["not a rule"]
        context["problem"] = _PATH.sub("", errors[0].replace("rule.", "", 1))
        if not raw or '"event": ""' in raw or '"event":""' in raw:
            context["problem"] = "Choose an event to see how many match."
    else:
        context["count"] = picker.rule_event_count(workspace=workspace, rule=rule, window=window)
    return render(request, "journeys/_rule_count.html", context)
