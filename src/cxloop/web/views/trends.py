"""The trends pages: events and unique customers over time (with breakdown, formulas and a CSV of
the table), and funnel conversion per period with its interval."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from cxloop.core import csvsafe
from cxloop.core.permissions import Capability
from cxloop.customers import selectors as customer_selectors
from cxloop.events.channels import CHANNELS
from cxloop.journeys import selectors as journey_selectors
from cxloop.journeys.definitions import OPS, DefinitionError, RuleSpec, parse_rule
from cxloop.metrics import changes, trends
from cxloop.segments import selectors as segment_selectors
from cxloop.segments import trendsplit
from cxloop.web.charts.embed import figure_json
from cxloop.web.charts.trends import conversion_figure, trend_figure
from cxloop.web.forms import error_lines, raw
from cxloop.web.forms.trends import SERIES_SLOTS, UNITS, ChangeForm, ConversionForm, TrendForm
from cxloop.web.views.saved import pinned_redirect
from cxloop.web.workspace import active_workspace, capability_required


def _at(values: list[str], i: int) -> str:
    return values[i] if i < len(values) else ""


def _series(data: dict) -> tuple[list[RuleSpec], list[dict], list[str]]:
    """(rules of the filled slots, every slot as shown, errors naming the series letter)."""
    events = data.get("event", [])
    channels, props, ops, values = (data.get(k, []) for k in ("channel", "prop", "op", "value"))
    count = min(max(SERIES_SLOTS, len(events)), trends.MAX_SERIES)
    slots: list[dict] = []
    rules: list[RuleSpec] = []
    errors: list[str] = []
    for i in range(count):
        slot = {
            "letter": trends.LETTERS[i], "event": _at(events, i), "channel": _at(channels, i),
            "prop": _at(props, i), "op": _at(ops, i) or "eq", "value": _at(values, i),
        }  # fmt: skip
        slots.append(slot)
        if not slot["event"]:
            continue
        letter = trends.LETTERS[len(rules)]
        conditions = []
        if slot["prop"]:
            conditions.append(
                {"property": slot["prop"], "op": slot["op"], "value": slot["value"] or None}
            )
        try:
            rules.append(
                parse_rule(
                    {"event": slot["event"], "channel": slot["channel"], "conditions": conditions},
                    f"series {letter}",
                )
            )
        except DefinitionError as exc:
            errors.extend(exc.errors)
    return rules, slots, errors


def _csv(header: list[str], rows: list[list[object]], name: str) -> HttpResponse:
    handle = io.StringIO()
    writer = csvsafe.writer(handle, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows([["" if cell is None else cell for cell in row] for row in rows])
    response = HttpResponse(handle.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@capability_required(Capability.READ_ANALYTICS)
def trends_page(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    query, default_note = request.GET, ""
    if not query:  # open with something useful: a pinned trend, else the common sequence's ends
        pinned = pinned_redirect(workspace, "trend")
        if pinned is not None:
            return pinned
        common = journey_selectors.funnel_default_steps(workspace=workspace)
        if common:
            query = QueryDict(urlencode([("event", common[0]), ("event", common[-1])]))
            default_note = "the first and last events of this workspace's most common sequence"
    form = TrendForm(query)
    form.is_valid()
    data = form.cleaned_data
    errors = error_lines(form, TrendForm.labels)
    rules, slots, problems = _series(data)
    errors.extend(problems)
    breakdown = data.get("breakdown", raw(form, "breakdown"))
    prop = data.get("breakdown_property", "")
    trait = data.get("breakdown_trait", "")
    chosen_segments = [s for s in data.get("breakdown_segment", []) if s]
    journey = data.get("breakdown_journey", "")
    trait_names = customer_selectors.customer_trait_names(workspace=workspace)
    formulas = [f for f in data.get("formula", []) if f]
    context: dict[str, Any] = {
        "tab": "trends",
        "event_names": journey_selectors.event_names(workspace=workspace),
        "channels": CHANNELS,
        "ops": OPS,
        "units": [u for u, _ in UNITS],
        "slots": slots,
        "form": {
            "by": data.get("by") or "day",
            "measure": data.get("measure") or "events",
            "chart": data.get("chart") or "line",
            "breakdown": breakdown,
            "breakdown_property": prop,
            "breakdown_trait": trait,
            "breakdown_segment": chosen_segments,
            "breakdown_journey": journey,
            "top": data.get("top") or 5,
            "formula": formulas[0] if formulas else raw(form, "formula"),
            "date_from": data.get("date_from") or raw(form, "date_from"),
            "date_to": data.get("date_to") or raw(form, "date_to"),
        },
        "invalid": set(form.errors),
        "report": None,
        "default_note": default_note,
        "trait_names": trait_names if not trait or trait in trait_names else [trait, *trait_names],
        "segments": list(
            segment_selectors.segment_list(workspace=workspace).values_list("pk", "name")
        ),
        "journeys": list(
            journey_selectors.journey_list(workspace=workspace).values_list("pk", "name")
        ),
    }
    split = _breakdown(breakdown, prop, trait, chosen_segments, journey, context["invalid"], errors)
    if rules and not errors:
        try:
            report = trendsplit.trend_split_report(
                workspace=workspace, series=rules, unit=context["form"]["by"],
                measure=context["form"]["measure"], date_from=data.get("date_from"),
                date_to=data.get("date_to"), breakdown=split, top=context["form"]["top"],
                formulas=formulas,
            )  # fmt: skip
        except trends.TrendQueryError as exc:
            errors.append(str(exc))
            field = _field_of(str(exc))
            if field == "breakdown" and breakdown in _BREAKDOWN_FIELDS:
                field = _BREAKDOWN_FIELDS[breakdown]
            context["invalid"].add(field)
        else:
            header, rows = trends.trend_table(report)
            context["form"].update(date_from=report.span.first, date_to=report.span.last)
            if data.get("format") == "csv":
                return _csv(header, rows, f"trend-{report.span.first}-{report.span.last}.csv")
            context.update(
                report=report,
                header=header,
                rows=rows,
                figure=figure_json(trend_figure(report, chart=context["form"]["chart"])),
                csv_query=_with_csv(request),
                save_query=query.urlencode(),
            )
    context["errors"] = [e[0].upper() + e[1:] for e in errors]
    return render(request, "trends/trends.html", context, status=422 if errors else 200)


_BREAKDOWN_FIELDS = {
    "property": "breakdown_property",
    "trait": "breakdown_trait",
    "segment": "breakdown_segment",
    "segments": "breakdown_segment",
    "stage": "breakdown_journey",
}


def _breakdown(
    kind: str,
    prop: str,
    trait: str,
    segments: list[str],
    journey: str,
    invalid: set[str],
    errors: list[str],
) -> str:
    """The selector's breakdown text from the page's fields, or '' with the missing one named."""
    missing = {
        "property": (prop, "breakdown property: name the event property (e.g. plan)"),
        "trait": (trait, "breakdown trait: choose a customer trait"),
        "segment": (segments, "breakdown segment: choose a saved segment"),
        "segments": (segments, "breakdown segment: choose one or more saved segments"),
        "stage": (journey, "breakdown journey map: choose a journey map"),
    }
    if kind in missing and not missing[kind][0]:
        invalid.add(_BREAKDOWN_FIELDS[kind])
        errors.append(missing[kind][1])
        return ""
    if kind == "segment" and len(segments) > 1:
        invalid.add("breakdown_segment")
        errors.append(
            "breakdown segment: choose one segment to compare its members with everyone else, "
            "or break down by each of several segments"
        )
        return ""
    value = {
        "property": prop,
        "trait": trait,
        "segment": ",".join(segments),
        "segments": ",".join(segments),
        "stage": journey,
    }
    return f"{kind}:{value[kind]}" if kind in value else kind


def _field_of(message: str) -> str:
    """The form field a selector's error names first ("formula 'C / A': …" → formula)."""
    word = message.split(" ", 1)[0].rstrip(":")
    return {"from": "date_from", "to": "date_to"}.get(word, word)


def _with_csv(request: HttpRequest) -> str:
    query = request.GET.copy()
    query["format"] = "csv"
    return query.urlencode()


@capability_required(Capability.READ_ANALYTICS)
def conversion_page(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    form = ConversionForm(request.GET)
    form.is_valid()
    data = form.cleaned_data
    errors = error_lines(form, ConversionForm.labels)
    names, channels = data.get("step", []), data.get("step_channel", [])
    count = max(3, len(names))
    slots = [
        {"number": i + 1, "event": _at(names, i), "channel": _at(channels, i)} for i in range(count)
    ]
    window_days = data.get("window_days") or 7
    context: dict[str, Any] = {
        "tab": "conversion",
        "event_names": journey_selectors.event_names(workspace=workspace),
        "channels": CHANNELS,
        "units": [u for u, _ in UNITS],
        "slots": slots,
        "form": {
            "by": data.get("by") or "week",
            "window_days": data.get("window_days") or raw(form, "window_days") or 7,
            "date_from": data.get("date_from") or raw(form, "date_from"),
            "date_to": data.get("date_to") or raw(form, "date_to"),
        },
        "invalid": set(form.errors),
        "found": None,
    }
    steps = []
    for i, slot in enumerate(s for s in slots if s["event"]):
        try:
            steps.append(
                parse_rule({"event": slot["event"], "channel": slot["channel"]}, f"step {i + 1}")
            )
        except DefinitionError as exc:
            errors.extend(exc.errors)
    if len(steps) == 1:
        errors.append("steps: a funnel needs at least 2 steps")
    if len(steps) >= 2 and not errors:
        try:
            found = trends.conversion_trend(
                workspace=workspace, steps=steps, window=timedelta(days=window_days),
                unit=context["form"]["by"], date_from=data.get("date_from"),
                date_to=data.get("date_to"),
            )  # fmt: skip
        except trends.TrendQueryError as exc:
            errors.append(str(exc))
            context["invalid"].add(_field_of(str(exc)))
        else:
            context["form"].update(date_from=found.span.first, date_to=found.span.last)
            context.update(
                found=found,
                steps_label=" → ".join(s.label() for s in steps),
                points=[
                    {"period": trends.period_text(p.period, found.unit), "point": p}
                    for p in found.points
                ],
                figure=figure_json(conversion_figure(found))
                if any(p.entered for p in found.points)
                else None,
            )
    context["errors"] = [e[0].upper() + e[1:] for e in errors]
    return render(request, "trends/conversion.html", context, status=422 if errors else 200)


@capability_required(Capability.READ_ANALYTICS)
def changes_page(request: HttpRequest) -> HttpResponse:
    """What changed: an event's volume against the previous period, decomposed by channel."""
    workspace = active_workspace(request)
    form = ChangeForm(request.GET)
    form.is_valid()
    data = form.cleaned_data
    errors = error_lines(form, ChangeForm.labels)
    event = data.get("event", raw(form, "event"))
    context: dict[str, Any] = {
        "tab": "changes",
        "event_names": journey_selectors.event_names(workspace=workspace),
        "channels": CHANNELS,
        "form": {
            "event": event,
            "channel": data.get("channel", ""),
            "date_from": data.get("date_from") or raw(form, "date_from"),
            "date_to": data.get("date_to") or raw(form, "date_to"),
        },
        "invalid": set(form.errors),
        "found": None,
    }
    if event and not errors:
        try:
            step = parse_rule({"event": event, "channel": data.get("channel", "")}, "event")
            found = changes.volume_change(
                workspace=workspace, step=step, label=step.label(), date_from=data.get("date_from"),
                date_to=data.get("date_to"),
            )  # fmt: skip
        except DefinitionError as exc:
            errors.extend(exc.errors)
            context["invalid"].add("event")
        except trends.TrendQueryError as exc:
            errors.append(str(exc))
            context["invalid"].add(_field_of(str(exc)))
        else:
            context["form"].update(date_from=found.span.first, date_to=found.span.last)
            context["found"] = found
    context["errors"] = [e[0].upper() + e[1:] for e in errors]
    return render(request, "trends/changes.html", context, status=422 if errors else 200)
