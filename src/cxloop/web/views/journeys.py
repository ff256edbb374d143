"""Journey pages: the list of journey maps, the map drawn with its metrics, the editor (funnels
are in cxloop.web.views.funnels)."""

from __future__ import annotations

import re
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cxloop.core.permissions import Capability
from cxloop.events.channels import CHANNELS
from cxloop.journeys import selectors as journey_selectors
from cxloop.journeys import services as journey_services
from cxloop.journeys.definitions import DefinitionError, show_value
from cxloop.web.charts.journeys import stage_chart
from cxloop.web.forms import MAX_TEXT, error_lines
from cxloop.web.forms.journeys import MAX_ROWS, ROW_COLUMNS, JourneyForm
from cxloop.web.workspace import active_workspace, capability_required

BLANK_ROWS = 3


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
    for view in stages:  # the template shows each stage's and touchpoint's median as text
        shown: Any = view
        shown.median = human_duration(view.metrics.get("median_seconds"))
        for tp in view.touchpoints:
            shown = tp
            shown.median = human_duration(tp.metrics.get("median_seconds"))
    context = {
        "journey": journey,
        "stages": stages,
        "total": (journey.metrics or {}).get("customers", 0),
        "chart": stage_chart(stages),
        "rated": any(tp.feedback for view in stages for tp in view.touchpoints),
    }
    return render(request, "journeys/journey_detail.html", context)


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
    form: dict[str, Any]
    if request.method == "POST":
        posted = JourneyForm(request.POST)
        shown = _trimmed(request.POST)  # what the editor shows back: no NUL, bounded lengths
        if posted.is_valid():
            definition, rows, row_errors = _definition_from_form(posted.cleaned_data)
            errors.extend(row_errors)
        else:  # show the rows back (trimmed), with what is wrong
            definition, rows, _ = _definition_from_form(shown)
            errors.extend(e[0].upper() + e[1:] for e in error_lines(posted, JourneyForm.labels))
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
            **{k: v for k, v in shown.items() if not k.startswith("row-")},
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
        "invalid": {f for f in ("name", "description", "stages") if _names(errors, f)},
        "channels": CHANNELS,
        "event_names": journey_selectors.event_names(workspace=workspace),
        "ops": "eq, neq, gt, lt, contains, exists",
    }
    status = 422 if errors else 200
    return render(request, "journeys/journey_form.html", context, status=status)


def _trimmed(post: QueryDict) -> dict[str, Any]:
    """A refused post cut to what the editor can show back: no NUL, bounded lengths."""

    def clean(value: object, limit: int) -> str:
        return str(value).replace("\x00", "")[:limit]

    data: dict[str, Any] = {
        name: clean(post.get(name, ""), 10 * MAX_TEXT) for name in ("name", "description", "stages")
    }
    for column in ROW_COLUMNS:
        values = post.getlist(f"row-{column}")[:MAX_ROWS]
        data[f"row-{column}"] = [clean(v, MAX_TEXT).strip() for v in values]
    return data


def _names(errors: list[str], field: str) -> bool:
    return any(e.casefold().startswith(field) for e in errors)


def _blank_row() -> dict:
    return {"stage": "", "touchpoint": "", "event": "", "channel": "", "conditions": "", "tp": -1}


def _definition_from_form(data: dict[str, Any]) -> tuple[dict, list[dict], list[str]]:
    """The definition the form describes: stages one per line (``Name: description``), one row
    per rule; rows with the same stage and touchpoint name are one touchpoint."""
    stages = []
    for line in data["stages"].splitlines():
        name, _, description = line.partition(":")
        if name.strip():
            stages.append({"name": name.strip(), "description": description.strip()})
    columns = ROW_COLUMNS
    values = {c: data[f"row-{c}"] for c in columns}
    count = max((len(v) for v in values.values()), default=0)
    rows: list[dict] = []
    errors: list[str] = []
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
        "name": data["name"],
        "description": data["description"],
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
