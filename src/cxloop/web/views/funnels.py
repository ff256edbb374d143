"""The funnel page: customers doing a chosen series of events in order, split and filtered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cxloop.core.permissions import Capability
from cxloop.events.channels import CHANNELS
from cxloop.journeys import selectors as journey_selectors
from cxloop.journeys.definitions import DefinitionError, parse_steps
from cxloop.segments import selectors as segment_selectors
from cxloop.web.charts.journeys import funnel_chart
from cxloop.web.forms import error_lines, raw
from cxloop.web.forms.journeys import STEP_SLOTS, UNITS, FunnelForm
from cxloop.web.views.journeys import human_duration
from cxloop.web.workspace import active_workspace, capability_required

if TYPE_CHECKING:
    from cxloop.journeys.models import Stage


@capability_required(Capability.READ_ANALYTICS)
def funnel(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    form = FunnelForm(request.GET)
    form.is_valid()
    data = form.cleaned_data
    names = data.get("step", [])
    channels = data.get("step_channel", [])
    chosen = [n for n in names if n]
    split = data.get("split", raw(form, "split"))
    trait = data.get("trait", "")
    stage, only, stage_error = _stage_filter(workspace, data.get("stage"), raw(form, "stage"))
    context = {
        "event_names": journey_selectors.event_names(workspace=workspace),
        "has_segments": segment_selectors.segment_list(workspace=workspace).exists(),
        "stage_splits": [
            (f"stage:{journey.pk}", f"Current stage in {journey.name}")
            for journey, _ in journey_selectors.stage_choices(workspace=workspace)
        ],
        "slots": _slots(names, channels),
        "window": data.get("window", raw(form, "window")),
        "unit": data.get("unit", "days"),
        "units": list(UNITS),
        "split": split,
        "trait": trait,
        "channels": CHANNELS,
        "stage_choices": journey_selectors.stage_choices(workspace=workspace),
        "stage_param": str(stage.pk) if stage else "",
        "stage": stage,
        "invalid": set(form.errors) | ({"stage"} if stage_error else set()),
        "errors": [],
        "report": None,
    }
    errors = error_lines(form, FunnelForm.labels)
    if stage_error:
        errors.append(stage_error)
    if chosen:
        steps_raw = [
            {"event": n, "channel": channels[i] if i < len(channels) else ""}
            for i, n in enumerate(names)
            if n
        ]
        try:
            steps = parse_steps(steps_raw)
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
        if not errors:
            try:
                report = journey_selectors.funnel(
                    workspace=workspace,
                    steps=steps,
                    window=data["window_delta"],
                    split_by=split_by,
                    groups=groups,
                    only=only,
                )
            except ValueError as exc:  # an unknown split (its message is shown as it is)
                errors.append(str(exc))
                context["errors"] = errors
                return render(request, "journeys/funnel.html", context, status=422)
            else:
                context.update(_funnel_context(workspace, report))
    context["errors"] = [e[0].upper() + e[1:] for e in errors]
    status = 422 if context["errors"] else 200
    return render(request, "journeys/funnel.html", context, status=status)


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


def _slots(names: list[str], channels: list[str]) -> list[dict]:
    count = max(STEP_SLOTS, len(names))
    return [
        {
            "number": i + 1,
            "event": names[i] if i < len(names) else "",
            "channel": channels[i] if i < len(channels) else "",
        }
        for i in range(count)
    ]


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
    }
