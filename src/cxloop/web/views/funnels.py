"""The funnel page: customers doing a chosen series of events in order, split and filtered."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

import orjson
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers

from cxloop.core.permissions import Capability
from cxloop.events.channels import CHANNELS
from cxloop.journeys import selectors as journey_selectors
from cxloop.journeys.correlation import MAX_PROPERTY_KEYS, MAX_PROPERTY_VALUES
from cxloop.journeys.definitions import (
    FUNNEL_MODES,
    OPS,
    DefinitionError,
    parse_exclusions,
    parse_mode,
    parse_steps,
)
from cxloop.segments import selectors as segment_selectors
from cxloop.web.charts.journeys import funnel_chart
from cxloop.web.forms import error_lines, raw
from cxloop.web.forms.journeys import EXCLUSION_SLOTS, STEP_SLOTS, UNITS, FunnelForm
from cxloop.web.forms.trends import range_of
from cxloop.web.views.journeys import human_duration
from cxloop.web.views.saved import pinned_redirect, saved_links
from cxloop.web.workspace import active_workspace, capability_required

if TYPE_CHECKING:
    from cxloop.journeys.models import Stage


@capability_required(Capability.READ_ANALYTICS)
def funnel(request: HttpRequest) -> HttpResponse:
    return _funnel(request, why=False)


@capability_required(Capability.READ_ANALYTICS)
def funnel_why(request: HttpRequest) -> HttpResponse:
    """The funnel page's "why they dropped" on its own (loaded into the page by htmx once the
    funnel shows, as it reads every entrant's events; a page of its own without script)."""
    return _funnel(request, why=True)


def _funnel(request: HttpRequest, *, why: bool) -> HttpResponse:
    workspace = active_workspace(request)
    default_note = ""
    if (
        not request.GET and not why
    ):  # open with something useful: a pinned funnel, else the common path
        pinned = pinned_redirect(workspace, "funnel")
        if pinned is not None:
            return pinned
        default = journey_selectors.funnel_default_steps(workspace=workspace)
        if default:
            default_note = "the most common sequence of this workspace's customers"
        query = QueryDict(urlencode([("step", name) for name in default]))
    else:
        query = request.GET
    form = FunnelForm(query)
    form.is_valid()
    data = form.cleaned_data
    names = data.get("step", [])
    channels = data.get("step_channel", [])
    conditions = _conditions(data)
    chosen = [n for n in names if n]
    split = data.get("split", raw(form, "split"))
    trait = data.get("trait", "")
    mode = data.get("mode", "ordered")
    per = data.get("per") or "customer"
    stage, only, stage_error = _stage_filter(workspace, data.get("stage"), raw(form, "stage"))
    context = {
        "slots": _slots(names, channels, conditions),
        "exclusion_slots": _exclusion_slots(data),
        "window": data.get("window", raw(form, "window")),
        "unit": data.get("unit", "days"),
        "units": list(UNITS),
        "mode": mode,
        "modes": list(FUNNEL_MODES.items()),
        "per": per,
        "ops": list(OPS.items()),
        "split": split,
        "trait": trait,
        "channels": CHANNELS,
        "stage_param": str(stage.pk) if stage else "",
        "stage": stage,
        "invalid": set(form.errors) | ({"stage"} if stage_error else set()),
        "errors": [],
        "report": None,
        "default_note": default_note,
        "save_query": query.urlencode(),
        "date_from": data.get("date_from") or raw(form, "date_from"),
        "date_to": data.get("date_to") or raw(form, "date_to"),
        "span": None,
    }
    if not why:  # the form's pickers and the saved funnels: the page's, not its "why"'s
        context.update(_form_context(workspace))
    errors = error_lines(form, FunnelForm.labels)
    if stage_error:
        errors.append(stage_error)
    span = range_of(workspace, data, context["invalid"], errors)
    if span is not None:
        context.update(span=span, date_from=span.first, date_to=span.last)
    if chosen and span is not None:
        steps_raw = [
            {
                "event": n,
                "channel": channels[i] if i < len(channels) else "",
                "conditions": conditions[i] if i < len(conditions) else [],
            }
            for i, n in enumerate(names)
            if n
        ]
        try:
            steps = parse_steps(steps_raw)
            mode = parse_mode(mode, steps)
            exclusions = parse_exclusions(_exclusions_raw(data), steps=len(steps))
        except DefinitionError as exc:
            errors.extend(exc.errors)
        split_by = f"trait:{trait}" if split == "trait" else split
        groups = (
            segment_selectors.segment_groups(workspace=workspace)
            if split == segment_selectors.SPLIT_SEGMENTS
            else None
        )
        if split == "trait" and not trait:
            context["invalid"].add("trait")
            errors.append("Split by trait: name the trait (e.g. city or loyalty_tier)")
        if not errors and why:
            correlation = journey_selectors.funnel_correlation(
                workspace=workspace, steps=steps, window=data["window_delta"], only=only,
                mode=mode, exclusions=exclusions, since=span.since, until=span.until, per=per,
                entered=data.get("entered"),
                sample_size=None if data.get("everyone") else journey_selectors.CORRELATION_SAMPLE,
            )  # fmt: skip
            context.update(
                correlation=correlation,
                everyone_query=_with(query, everyone="1", entered=None),
                property_keys=MAX_PROPERTY_KEYS,
                property_values=MAX_PROPERTY_VALUES,
                correlation_rows=_correlation_rows(correlation, steps),
                funnel_query=_with(query, everyone=None, entered=None),
            )
        elif not errors:
            try:
                report = journey_selectors.funnel(
                    workspace=workspace,
                    steps=steps,
                    window=data["window_delta"],
                    split_by=split_by,
                    groups=groups,
                    only=only,
                    mode=mode,
                    exclusions=exclusions,
                    since=span.since,
                    until=span.until,
                    per=per,
                )
            except ValueError as exc:  # an unknown split (its message is shown as it is)
                errors.append(str(exc))
                context["errors"] = errors
                return render(request, "journeys/funnel.html", context, status=422)
            else:
                context.update(_funnel_context(workspace, report))
                # the entrants counted here tell "why they dropped" how much to sample
                context["why_query"] = _with(query, entered=str(report.counts[0]))
    context["errors"] = [e[0].upper() + e[1:] for e in errors]
    status = 422 if context["errors"] else 200
    if why:
        fragment = request.headers.get("HX-Request") == "true"
        template = "journeys/_funnel_why.html" if fragment else "journeys/funnel_why.html"
        response = render(request, template, context, status=status)
        patch_vary_headers(response, ("HX-Request",))
        return response
    return render(request, "journeys/funnel.html", context, status=status)


def _form_context(workspace) -> dict:
    """What the funnel form offers: event names, splits, stages and the saved funnels."""
    choices = journey_selectors.stage_choices(workspace=workspace)
    return {
        "event_names": journey_selectors.event_names(workspace=workspace),
        "has_segments": segment_selectors.segment_list(workspace=workspace).exists(),
        "stage_splits": [
            (f"stage:{journey.pk}", f"Current stage in {journey.name}") for journey, _ in choices
        ],
        "stage_choices": choices,
        "saved": saved_links(
            journey_selectors.saved_analysis_list(workspace=workspace, kind="funnel")[:12]
        ),
    }


def _with(query: QueryDict, **values: str | None) -> str:
    """``query`` as URL text with ``values`` set (None: left out)."""
    changed = query.copy()
    for key, value in values.items():
        if value is None:
            changed.pop(key, None)
        else:
            changed[key] = value
    return changed.urlencode()


def _conditions(data: dict) -> list[list[dict]]:
    """Per step slot, its property condition (a list of none or one)."""
    props, ops, values = (data.get(k, []) for k in ("step_prop", "step_op", "step_value"))
    found = []
    for i in range(max(len(props), len(ops), len(values))):
        prop = props[i].strip() if i < len(props) else ""
        op = (ops[i] if i < len(ops) else "") or "eq"
        value = values[i] if i < len(values) else ""
        found.append([{"property": prop, "op": op, "value": value}] if prop else [])
    return found


def _exclusions_raw(data: dict) -> list[dict]:
    events, afters = data.get("exclude", []), data.get("exclude_after", [])
    found = []
    for i, event in enumerate(events):
        if event.strip():
            after = afters[i] if i < len(afters) else ""
            found.append({"event": event, "after": int(after) if after.isdigit() else after})
    return found


def _exclusion_slots(data: dict) -> list[dict]:
    events, afters = data.get("exclude", []), data.get("exclude_after", [])
    count = max(EXCLUSION_SLOTS, len(events))
    return [
        {
            "number": i + 1,
            "event": events[i] if i < len(events) else "",
            "after": afters[i] if i < len(afters) else "",
        }
        for i in range(count)
    ]


def _correlation_rows(correlation, steps) -> list[dict]:
    last = steps[-1].event
    rows = []
    for row in correlation.rows:
        if row.kind == "trait":
            condition = {"trait": row.trait, "op": "eq", "value": row.value}
            having = f"have {row.label}"
        elif row.kind == "property":
            condition = {
                "event": row.source,
                "where": {"property": row.trait, "op": "eq", "value": row.value},
            }
            having = f"did {row.label}"
        else:
            condition = {"event": row.event}
            having = f"did {row.event}"
        segment = {
            "all": [
                {"event": steps[0].event},
                condition,
                {"event": last, "did": row.raises},
            ]
        }
        rows.append(
            {
                "row": row,
                "odds": f"{row.odds_ratio:.2f}",
                "people": f"{reverse('segment-new')}?{urlencode({'definition': orjson.dumps(segment).decode()})}",
                "people_label": f"{having} and {'did not reach' if not row.raises else 'reached'} {last}",
            }
        )
    return rows


def _stage_filter(
    workspace, stage_id: int | None, typed: str
) -> tuple[Stage | None, set[int] | None, str]:
    """(the chosen stage or None, its customers' ids or None, an error or "")."""
    if stage_id is None:
        return None, None, ""
    try:
        stage, ids = journey_selectors.stage_member_ids(workspace=workspace, stage_id=stage_id)
    except journey_selectors.StageChoiceError:
        return None, None, f"stage: no stage {typed} in this workspace"
    return stage, set(ids), ""


def _slots(names: list[str], channels: list[str], conditions: list[list[dict]]) -> list[dict]:
    count = max(STEP_SLOTS, len(names))
    slots = []
    for i in range(count):
        condition = conditions[i][0] if i < len(conditions) and conditions[i] else {}
        slots.append(
            {
                "number": i + 1,
                "event": names[i] if i < len(names) else "",
                "channel": channels[i] if i < len(channels) else "",
                "prop": condition.get("property", ""),
                "op": condition.get("op", "eq"),
                "value": condition.get("value", ""),
            }
        )
    return slots


def _funnel_context(workspace, report) -> dict:
    labels = [f"{k + 1}. {s.label()}" for k, s in enumerate(report.steps)]
    rows = [
        {
            "label": labels[k],
            "count": report.counts[k],
            "overall": report.conversion[k],
            "step": report.step_conversion[k],
            "median": human_duration(report.median_seconds[k]),
        }
        for k in range(len(report.steps))
    ]
    groups = [
        {
            "label": label,
            "counts": counts,
            "rates": [f"{100 * n / counts[0]:.1f}%" if counts[0] else "—" for n in counts],
        }
        for label, counts in report.groups
    ]
    return {
        "report": report,
        "rows": rows,
        "first": report.counts[0] if report.counts else 0,
        "groups": groups,
        "step_labels": labels,
        "chart": funnel_chart(labels, report.counts, report.groups),
        "dropoffs": journey_selectors.funnel_dropoffs(workspace=workspace, report=report),
        # the same steps on "What changed": this period's conversion against the previous one
        "changes_query": urlencode(
            [("step", s.event) for s in report.steps]
            + [("step_channel", s.channel) for s in report.steps]
        ),
    }
