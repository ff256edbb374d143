"""What changed for a funnel's conversion and for NPS (the event-volume page is in
``views.trends``): this period against the previous one or a chosen range, with the groups and
events that explain the change, each linked to its people."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from cxloop.core.permissions import Capability
from cxloop.events.channels import CHANNELS
from cxloop.journeys import selectors as journey_selectors
from cxloop.journeys.definitions import DefinitionError, parse_rule
from cxloop.metrics import funnelchange, npschange, trends
from cxloop.metrics import selectors as metric_selectors
from cxloop.segments import selectors as segment_selectors
from cxloop.web.forms import error_lines, raw
from cxloop.web.forms.changes import FunnelChangeForm, NpsChangeForm
from cxloop.web.views.trends import _at, _field_of
from cxloop.web.workspace import active_workspace, capability_required

STEP_SLOTS = 3


def _compare_form(data: dict, form: Any) -> dict[str, Any]:
    return {
        name: data.get(name) or raw(form, name)
        for name in ("date_from", "date_to", "compare_from", "compare_to")
    } | {"trait": data.get("trait", raw(form, "trait"))}


def _shown_range(context: dict, periods: funnelchange.Periods) -> None:
    context["form"].update(date_from=periods.current.first, date_to=periods.current.last)
    if periods.chosen:
        context["form"].update(
            compare_from=periods.previous.first, compare_to=periods.previous.last
        )


def _people_link(definition: dict) -> str:
    query = urlencode({"definition": orjson.dumps(definition).decode()})
    return f"{reverse('segment-new')}?{query}"


def _event_rows(found: funnelchange.FunnelChange, steps: list) -> list[dict]:
    """Per event group: a new segment of the customers who started the funnel and did the
    event in the period (counted back from the as-of time) and did not convert."""
    span = found.periods.current
    days = max(1, (span.as_of.date() - span.first).days + 1)
    rows = []
    for group in found.of("event"):
        link = _people_link(
            {
                "all": [
                    {"event": steps[0].event, "within_days": days},
                    {"event": group.label, "within_days": days},
                    {"event": steps[-1].event, "did": False, "within_days": days},
                ]
            }
        )
        rows.append({"group": group, "people": link})
    return rows


@capability_required(Capability.READ_ANALYTICS)
def funnel_change_page(request: HttpRequest) -> HttpResponse:
    """What changed in a funnel's conversion, decomposed by channel, trait and event presence."""
    workspace = active_workspace(request)
    form = FunnelChangeForm(request.GET)
    form.is_valid()
    data = form.cleaned_data
    errors = error_lines(form, FunnelChangeForm.labels)
    names, channels = data.get("step", []), data.get("step_channel", [])
    if not request.GET:
        names = journey_selectors.funnel_default_steps(workspace=workspace)[-2:]
    count = max(STEP_SLOTS, len(names))
    slots = [
        {"number": i + 1, "event": _at(names, i), "channel": _at(channels, i)} for i in range(count)
    ]
    window_days = data.get("window_days") or 7
    context: dict[str, Any] = {
        "tab": "changes",
        "kind": "funnel",
        "event_names": journey_selectors.event_names(workspace=workspace),
        "channels": CHANNELS,
        "traits": metric_selectors.filter_options(workspace=workspace).breakdown_keys,
        "slots": slots,
        "form": _compare_form(data, form)
        | {"window_days": data.get("window_days") or raw(form, "window_days") or 7},
        "invalid": set(form.errors),
        "found": None,
        "min_customers": funnelchange.MIN_CUSTOMERS,
    }
    steps = []
    for i, slot in enumerate(s for s in slots if s["event"]):
        try:
            steps.append(
                parse_rule({"event": slot["event"], "channel": slot["channel"]}, f"step {i + 1}")
            )
        except DefinitionError as exc:
            errors.extend(exc.errors)
            context["invalid"].add("step")
    if len(steps) == 1:
        errors.append("steps: a funnel needs at least 2 steps")
        context["invalid"].add("step")
    if len(steps) >= 2 and not errors:
        try:
            found = funnelchange.funnel_change(
                workspace=workspace, steps=steps, window=timedelta(days=window_days),
                label=" to ".join(s.label() for s in (steps[0], steps[-1])),
                trait=context["form"]["trait"], date_from=data.get("date_from"),
                date_to=data.get("date_to"), compare_from=data.get("compare_from"),
                compare_to=data.get("compare_to"),
            )  # fmt: skip
        except trends.TrendQueryError as exc:
            errors.append(str(exc))
            context["invalid"].add(_field_of(str(exc)))
        else:
            _shown_range(context, found.periods)
            context.update(found=found, event_rows=_event_rows(found, steps))
    context["errors"] = [e[0].upper() + e[1:] for e in errors]
    return render(request, "trends/funnel_change.html", context, status=422 if errors else 200)


@capability_required(Capability.READ_ANALYTICS)
def nps_change_page(request: HttpRequest) -> HttpResponse:
    """What changed in NPS, decomposed by channel, trait and saved segment."""
    workspace = active_workspace(request)
    form = NpsChangeForm(request.GET)
    form.is_valid()
    data = form.cleaned_data
    errors = error_lines(form, NpsChangeForm.labels)
    options = metric_selectors.filter_options(workspace=workspace)
    with_segments = bool(data.get("segments")) or not request.GET
    context: dict[str, Any] = {
        "tab": "changes",
        "kind": "nps",
        "surveys": options.surveys,
        "traits": options.breakdown_keys,
        "form": _compare_form(data, form)
        | {"survey": data.get("survey") or raw(form, "survey"), "segments": with_segments},
        "invalid": set(form.errors),
        "found": None,
    }
    if not errors:
        segments = segment_selectors.segment_groups(workspace=workspace) if with_segments else None
        try:
            found = npschange.nps_change(
                workspace=workspace, survey_id=data.get("survey"), trait=context["form"]["trait"],
                segments=segments, date_from=data.get("date_from"), date_to=data.get("date_to"),
                compare_from=data.get("compare_from"), compare_to=data.get("compare_to"),
            )  # fmt: skip
        except trends.TrendQueryError as exc:
            errors.append(str(exc))
            context["invalid"].add(_field_of(str(exc)))
        else:
            _shown_range(context, found.periods)
            context["found"] = found
    context["errors"] = [e[0].upper() + e[1:] for e in errors]
    return render(request, "trends/nps_change.html", context, status=422 if errors else 200)
