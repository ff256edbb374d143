"""Journey pages: the list of journey maps, the map drawn with its metrics, the editor, funnels."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cxloop.core.permissions import Capability
from cxloop.events.channels import CHANNELS
from cxloop.journeys import selectors as journey_selectors
from cxloop.journeys import services as journey_services
from cxloop.journeys.definitions import DefinitionError, RuleSpec, parse_steps, show_value
from cxloop.segments import selectors as segment_selectors
from cxloop.web.workspace import active_workspace, capability_required

if TYPE_CHECKING:
    from cxloop.journeys.models import Stage

UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
STEP_SLOTS = 5
BLANK_ROWS = 3
_FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif"
_PALETTE = ("#2f4fd0", "#0f6b3f", "#8f4a00", "#6a35c4", "#08666e", "#9b2967", "#a83a0c", "#475467")


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
    journey = _journey_or_404(request, journey_id)
    stages = journey_selectors.journey_map(journey=journey)
    for view in stages:
        view.median = human_duration(view.metrics.get("median_seconds"))
        for tp in view.touchpoints:
            tp.median = human_duration(tp.metrics.get("median_seconds"))
    context = {
        "journey": journey,
        "stages": stages,
        "total": (journey.metrics or {}).get("customers", 0),
        "chart": _stage_chart(stages),
        "rated": any(tp.feedback for view in stages for tp in view.touchpoints),
    }
    return render(request, "journeys/journey_detail.html", context)


def _stage_chart(stages) -> dict | None:
    """Customers reaching each stage and, of them, those converting to the next one."""
    if not any(view.metrics.get("customers") for view in stages):
        return None
    names = [view.stage.name for view in stages]
    reached = [view.metrics.get("customers", 0) for view in stages]
    converted = [view.metrics.get("converted") or 0 for view in stages]
    figure = go.Figure(
        [
            go.Bar(name="Reached the stage", x=names, y=reached, marker_color="#c7d2fe"),
            go.Bar(
                name="Went on to the next stage", x=names[:-1], y=converted[:-1],
                marker_color="#2f4fd0",
            ),
        ]
    )  # fmt: skip
    figure.update_layout(barmode="overlay", yaxis_title="Customers")
    return _layout(figure)


def _layout(figure: go.Figure, height: int = 320) -> dict:
    figure.update_layout(
        height=height,
        margin={"l": 56, "r": 16, "t": 16, "b": 40},
        font={"family": _FONT, "size": 13, "color": "#344054"},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        legend={"orientation": "h", "y": 1.12, "x": 0},
        yaxis={"gridcolor": "#e4e7ec", "zeroline": False},
    )
    return figure.to_plotly_json()


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
    workspace = active_workspace(request)
    errors: list[str] = []
    if request.method == "POST":
        definition, rows, row_errors = _definition_from_form(request.POST)
        errors.extend(row_errors)
        if not errors:
            try:
                if journey is None:
                    journey = journey_services.journey_create(
                        workspace=workspace, definition=definition
                    )
                else:
                    journey_services.journey_update(journey=journey, definition=definition)
                return redirect("journey-detail", journey_id=journey.pk)
            except DefinitionError as exc:
                errors.extend(_row_errors(exc.errors, rows))
        form = {
            "name": request.POST.get("name", ""),
            "description": request.POST.get("description", ""),
            "stages": request.POST.get("stages", ""),
            "rows": rows,
        }
    elif journey is not None:
        form = _form_from_definition(journey_selectors.journey_definition(journey=journey))
    else:
        form = {"name": "", "description": "", "stages": "", "rows": []}
    form["rows"] = form["rows"] + [_blank_row() for _ in range(BLANK_ROWS)]
    context = {
        "journey": journey,
        "form": form,
        "errors": errors,
        "channels": CHANNELS,
        "event_names": journey_selectors.event_names(workspace=workspace),
        "ops": "eq, neq, gt, lt, contains, exists",
    }
    status = 422 if errors else 200
    return render(request, "journeys/journey_form.html", context, status=status)


def _blank_row() -> dict:
    return {"stage": "", "touchpoint": "", "event": "", "channel": "", "conditions": "", "tp": -1}


def _definition_from_form(data) -> tuple[dict, list[dict], list[str]]:
    """The definition the form describes: stages one per line (``Name: description``), one row
    per rule; rows with the same stage and touchpoint name are one touchpoint."""
    stages = []
    for line in data.get("stages", "").splitlines():
        name, _, description = line.partition(":")
        if name.strip():
            stages.append({"name": name.strip(), "description": description.strip()})
    columns = ("stage", "touchpoint", "event", "channel", "conditions")
    values = {c: data.getlist(f"row-{c}") for c in columns}
    count = max((len(v) for v in values.values()), default=0)
    rows, errors = [], []
    touchpoints: list[dict] = []
    index_of: dict[tuple[str, str], int] = {}
    for r in range(count):
        row = {c: (values[c][r] if r < len(values[c]) else "").strip() for c in columns}
        if not any(row.values()):
            continue
        row["number"] = len(rows) + 1
        rows.append(row)
        conditions, problem = _parse_conditions(row["conditions"])
        if problem:
            errors.append(f"Row {row['number']}, conditions: {problem}")
        key = (row["stage"].casefold(), row["touchpoint"].casefold())
        if key not in index_of:
            index_of[key] = len(touchpoints)
            touchpoints.append(
                {"stage": row["stage"], "name": row["touchpoint"], "channel": "", "rules": []}
            )
        tp = touchpoints[index_of[key]]
        tp.setdefault("channels", set()).add(row["channel"])
        row["tp"], row["rule"] = index_of[key], len(tp["rules"])
        tp["rules"].append(
            {"event": row["event"], "channel": row["channel"], "conditions": conditions}
        )
    for tp in touchpoints:  # shown on the map when all its rules name the same channel
        channels = tp.pop("channels")
        tp["channel"] = channels.pop() if len(channels) == 1 else ""
    definition = {
        "name": data.get("name", ""),
        "description": data.get("description", ""),
        "stages": stages,
        "touchpoints": touchpoints,
    }
    return definition, rows, errors


_CONDITION = re.compile(r"^\s*([\w.\-]+)\s+(eq|neq|gt|lt|contains|exists)\b\s*(.*?)\s*$")


def _parse_conditions(text: str) -> tuple[list[dict], str | None]:
    """``late eq true; revenue gt 100`` → condition objects (values typed: bool, number, text)."""
    conditions = []
    for part in filter(None, (p.strip() for p in re.split(r"[;\n]", text))):
        match = _CONDITION.match(part)
        if not match:
            return [], (
                f"cannot read {part!r}: write 'property op value' with op one of "
                "eq, neq, gt, lt, contains, exists (e.g. 'sentiment eq positive')"
            )
        prop, op, raw = match.groups()
        conditions.append({"property": prop, "op": op, "value": _typed(raw.strip("\"'"))})
    return conditions, None


def _typed(raw: str) -> object:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    try:
        return int(raw)
    except ValueError:
        try:
            return float(raw)
        except ValueError:
            return raw


def _row_errors(errors: list[str], rows: list[dict]) -> list[str]:
    """Say "Row 3" instead of "touchpoints[1].rules[0]" for errors about form rows."""

    def row_of(tp: int, rule: int | None) -> str:
        for row in rows:
            if row["tp"] == tp and (rule is None or row["rule"] == rule):
                return f"Row {row['number']}"
        return f"Touchpoint {tp + 1}"

    def replace(match: re.Match) -> str:
        rule = int(match[2]) if match[2] is not None else None
        return row_of(int(match[1]), rule) + (", " if match[3] else "")

    result = []
    for error in errors:
        error = re.sub(r"touchpoints\[(\d+)\](?:\.rules\[(\d+)\])?(\.)?", replace, error)
        error = re.sub(r"stages\[(\d+)\]", lambda m: f"Stage line {int(m[1]) + 1}", error)
        result.append(error[0].upper() + error[1:] if error else error)
    return result


def _form_from_definition(definition: dict) -> dict:
    rows = []
    for tp in definition["touchpoints"]:
        for rule in tp["rules"]:
            conditions = "; ".join(
                f"{c['property']} {c['op']}"
                + ("" if c["op"] == "exists" else f" {show_value(c['value'])}")
                for c in rule["conditions"]
            )
            rows.append(
                {
                    "stage": tp["stage"],
                    "touchpoint": tp["name"],
                    "event": rule["event"],
                    "channel": rule["channel"],
                    "conditions": conditions,
                }
            )
    stages = "\n".join(
        s["name"] + (f": {s['description']}" if s["description"] else "")
        for s in definition["stages"]
    )
    return {
        "name": definition["name"],
        "description": definition["description"],
        "stages": stages,
        "rows": rows,
    }


# ------------------------------------------------------------------ funnels


@capability_required(Capability.READ_ANALYTICS)
def funnel(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    names = [n.strip() for n in request.GET.getlist("step")]
    chosen = [n for n in names if n]
    window_value = request.GET.get("window", "7")
    unit = request.GET.get("unit", "days")
    split = request.GET.get("split", "")
    trait = request.GET.get("trait", "").strip()
    channels = request.GET.getlist("step_channel")
    stage_param = request.GET.get("stage", "")
    stage, only, stage_error = _stage_filter(workspace, stage_param)
    context = {
        "event_names": journey_selectors.event_names(workspace=workspace),
        "has_segments": segment_selectors.segment_list(workspace=workspace).exists(),
        "stage_splits": [
            (f"stage:{journey.pk}", f"Current stage in {journey.name}")
            for journey, _ in journey_selectors.stage_choices(workspace=workspace)
        ],
        "slots": _slots(names, channels),
        "window": window_value,
        "unit": unit,
        "units": list(UNITS),
        "split": split,
        "trait": trait,
        "channels": CHANNELS,
        "stage_choices": journey_selectors.stage_choices(workspace=workspace),
        "stage_param": str(stage.pk) if stage else "",
        "stage": stage,
        "errors": [],
        "report": None,
    }
    if chosen:
        steps_raw = [
            {"event": n.strip(), "channel": (channels[i] if i < len(channels) else "").strip()}
            for i, n in enumerate(names)
            if n.strip()
        ]
        errors = [stage_error] if stage_error else []
        try:
            steps = parse_steps(steps_raw)
        except DefinitionError as exc:
            errors.extend(exc.errors)
        window = _window(window_value, unit, errors)
        split_by = f"trait:{trait}" if split == "trait" else split
        groups = (
            segment_selectors.segment_groups(workspace=workspace)
            if split == segment_selectors.SPLIT_SEGMENTS
            else None
        )
        if split == "trait" and not trait:
            errors.append("Split by trait: name the trait (e.g. city or loyalty_tier)")
        if errors:
            context["errors"] = [e[0].upper() + e[1:] for e in errors]
        else:
            try:
                report = journey_selectors.funnel(
                    workspace=workspace,
                    steps=steps,
                    window=window,
                    split_by=split_by,
                    groups=groups,
                    only=only,
                )
            except ValueError as exc:  # an unknown split
                context["errors"] = [str(exc)]
            else:
                context.update(_funnel_context(workspace, report))
    status = 422 if context["errors"] else 200
    return render(request, "journeys/funnel.html", context, status=status)


def _stage_filter(workspace, param: str) -> tuple[Stage | None, set[int] | None, str]:
    """(the chosen stage or None, its customers' ids or None, an error or "")."""
    if not param:
        return None, None, ""
    try:
        stage, ids = journey_selectors.stage_member_ids(
            workspace=workspace, stage_id=int(param) if param.isdigit() else -1
        )
    except journey_selectors.StageChoiceError:
        return None, None, f"stage: no stage {param} in this workspace"
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


def _window(value: str, unit: str, errors: list[str]) -> timedelta | None:
    if unit not in UNITS:
        errors.append(f"window unit {unit!r}: use minutes, hours or days")
        return None
    try:
        amount = float(value)
    except ValueError:
        errors.append(f"conversion window {value!r}: give a number")
        return None
    if not 0 < amount <= 3650 * 86400 / UNITS[unit]:
        errors.append("conversion window: give a positive number up to 10 years")
        return None
    return timedelta(seconds=amount * UNITS[unit])


def _step_label(step: RuleSpec) -> str:
    return step.label()


def _funnel_context(workspace, report) -> dict:
    labels = [f"{k + 1}. {_step_label(s)}" for k, s in enumerate(report.steps)]
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
    first = report.counts[0] if report.counts else 0
    if report.groups:
        figure = go.Figure(
            [
                go.Bar(
                    name=f"{label} ({counts[0]:,})",
                    x=labels,
                    y=[100 * n / counts[0] if counts[0] else 0 for n in counts],
                    marker_color=_PALETTE[i % len(_PALETTE)],
                    hovertemplate="%{y:.1f}% of step 1<extra>" + label + "</extra>",
                )
                for i, (label, counts) in enumerate(report.groups)
            ]
        )
        figure.update_layout(
            barmode="group", yaxis_title="% of step 1", yaxis_range=[0, 100], showlegend=True
        )
    else:
        figure = go.Figure(
            go.Funnel(
                y=labels,
                x=report.counts,
                textinfo="value+percent initial",
                marker={"color": "#2f4fd0"},
                connector={"fillcolor": "#eef2ff"},
            )
        )
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
        "first": first,
        "groups": groups,
        "step_labels": labels,
        "chart": _layout(figure, height=360 if report.groups else 300 + 24 * len(labels)),
        "dropoffs": journey_selectors.funnel_dropoffs(workspace=workspace, report=report),
    }
