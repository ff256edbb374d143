"""Segment pages: saved filters with a live count while editing, and their members (personas are
in cxloop.web.views.personas)."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import orjson
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cxloop.core.permissions import Capability
from cxloop.customers import selectors as customer_selectors
from cxloop.events.channels import CHANNELS
from cxloop.journeys import paths as path_analysis
from cxloop.segments import selectors as segment_selectors
from cxloop.segments import services as segment_services
from cxloop.segments import stages as segment_stages
from cxloop.segments.definition import (
    PREDICTIONS,
    SegmentDefinitionError,
    condition_kind,
    definition_validate,
    describe,
)
from cxloop.web.forms import error_lines
from cxloop.web.forms.segment_rows import (
    Posted,
    blank_row,
    definition_from_json,
    definition_from_post,
    definition_from_rows,
    draft_definition,
    next_index,
    read_post,
    rows_from_definition,
)
from cxloop.web.forms.segments import (
    KINDS,
    MAX_ROWS,
    MembersPageForm,
)
from cxloop.web.workspace import active_workspace, can, capability_required

MEMBERS_PER_PAGE = 25
PREVIEW_MEMBERS = 8
TRAIT_OPS = (
    ("eq", "is"),
    ("neq", "is not"),
    ("contains", "contains"),
    ("gt", "greater than"),
    ("gte", "at least"),
    ("lt", "less than"),
    ("lte", "at most"),
    ("exists", "is set"),
    ("missing", "is not set"),
)
SCORE_OPS = (
    ("lte", "at most"),
    ("gte", "at least"),
    ("eq", "is"),
    ("neq", "is not"),
    ("lt", "less than"),
    ("gt", "greater than"),
)
SCORE_CHOICES = (("nps", "NPS (0–10)"), ("csat", "CSAT"), ("ces", "CES (1–7)"))
PREDICTION_OPS = (("gte", "at least"), ("lte", "at most"), ("gt", "more than"), ("lt", "less than"))
_CONDITION_REF = re.compile(r"^condition (\d+)")


# ------------------------------------------------------------------------------ list


@capability_required(Capability.READ_ANALYTICS)
def segment_list(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    total = customer_selectors.customer_count(workspace=workspace)
    rows = []
    segments = list(segment_selectors.segment_list(workspace=workspace))
    # the counts kept every few minutes (a live count per segment takes ~0.1-0.5 s at 10M
    # events); a segment new or edited since is counted live
    kept = segment_selectors.segment_counts_kept(segments=segments)
    for segment in segments:
        counted_at, problem = None, ""
        if segment.pk in kept:
            count, counted_at = kept[segment.pk].members, kept[segment.pk].counted_at
        else:
            try:
                count = segment_selectors.segment_count(
                    workspace=workspace, definition=segment.definition, segment_id=segment.pk
                )
            except SegmentDefinitionError as exc:  # e.g. a journey stage that was since deleted
                count, problem = None, str(exc)
        rows.append(
            {
                "segment": segment,
                "count": count,
                "counted_at": counted_at,
                "share": (count / total * 100) if count is not None and total else 0,
                "summary": _safe_describe(segment.definition),
                "problem": problem,
            }
        )
    return render(
        request, "segments/list.html", {"rows": rows, "customer_total": total, "tab": "segments"}
    )


def _safe_describe(definition: dict) -> str:
    try:
        return describe(definition)
    except (KeyError, StopIteration, TypeError, AttributeError):
        return "(definition needs fixing)"


# ------------------------------------------------------------------------------ editor


@capability_required(Capability.EDIT_SEGMENTS)
def segment_new(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    if request.method == "POST":
        posted = read_post(request.POST)
        definition, errors = definition_from_post(posted)
        if not errors:
            try:
                segment = segment_services.segment_create(
                    workspace=workspace,
                    name=posted.data["name"],
                    description=posted.data["description"],
                    definition=definition,
                    created_by=request.user,
                )
            except SegmentDefinitionError as exc:
                errors = exc.errors
            else:
                return redirect("segment-detail", segment_id=segment.pk)
        return _editor(request, None, status=422, errors=errors, posted=posted)
    return _editor(request, None)


@capability_required(Capability.READ_ANALYTICS, write=Capability.EDIT_SEGMENTS)
def segment_detail(request: HttpRequest, segment_id: int) -> HttpResponse:
    workspace = active_workspace(request)
    segment = segment_selectors.segment_get(workspace=workspace, segment_id=segment_id)
    if segment is None:
        raise Http404("No such segment in this workspace.")
    if request.method == "POST":
        posted = read_post(request.POST)
        definition, errors = definition_from_post(posted)
        if not errors:
            try:
                segment_services.segment_update(
                    segment=segment,
                    name=posted.data["name"],
                    description=posted.data["description"],
                    definition=definition,
                )
            except SegmentDefinitionError as exc:
                errors = exc.errors
            else:
                return redirect("segment-detail", segment_id=segment.pk)
        return _editor(request, segment, status=422, errors=errors, posted=posted)
    return _editor(request, segment)


@capability_required(Capability.EDIT_SEGMENTS)
@require_POST
def segment_delete(request: HttpRequest, segment_id: int) -> HttpResponse:
    workspace = active_workspace(request)
    segment = segment_selectors.segment_get(workspace=workspace, segment_id=segment_id)
    if segment is None:
        raise Http404("No such segment in this workspace.")
    segment_services.segment_delete(segment=segment)
    return redirect("segment-list")


@capability_required(Capability.READ_ANALYTICS)  # stores nothing: counts a draft definition
@require_POST
def segment_preview(request: HttpRequest) -> HttpResponse:
    """The live count and first members for the conditions being edited (htmx fragment)."""
    workspace = active_workspace(request)
    posted = read_post(request.POST)
    definition, errors = definition_from_post(posted)
    positions = None
    if not errors and posted.data["mode"] != "json":  # rows not filled in yet wait quietly
        definition, positions = draft_definition(posted.data["match"], posted.rows)
    context = _preview(workspace, definition, errors, positions)
    context["waiting"] = len(posted.rows) - len(positions) if positions is not None else 0
    if posted.data["mode"] != "json":  # refresh the message under every row
        rows = posted.rows
        _attach_errors(rows, context.get("row_errors", {}))
        context["oob_rows"] = rows
    if posted.data["mode"] != "json" and definition is not None:
        context["json_text"] = _json(definition)  # keeps the JSON editor in step with the rows
        context["oob_json"] = True
    return render(request, "segments/_preview.html", context)


@capability_required(Capability.READ_ANALYTICS)  # stores nothing: redraws the editor's rows
@require_POST
def segment_builder(request: HttpRequest) -> HttpResponse:
    """Re-render the condition rows after adding or removing one, and the preview with them."""
    workspace = active_workspace(request)
    posted = read_post(request.POST)
    rows, match = posted.rows, posted.data["match"]
    notes: list[str] = []
    if posted.data["from_json"] and not posted.errors:  # switching back from the JSON editor
        parsed, problems = definition_from_json(posted.data["definition"])
        if problems:
            notes = problems
        elif not isinstance(parsed, dict) or len(parsed) != 1 or not set(parsed) <= {"all", "any"}:
            notes = ['definition: must be an object like {"all": [...]} or {"any": [...]}']
        else:
            try:
                rows, match, mode = rows_from_definition(parsed)
            except (KeyError, TypeError, AttributeError, StopIteration):
                notes, mode = ["definition: fix the JSON before switching to the builder"], "json"
            if mode == "json":
                notes = notes or ["nested groups can only be edited as JSON"]
                rows = posted.rows
    if (kind := posted.data["add"]) and len(rows) < MAX_ROWS:
        rows.append(blank_row(kind, next_index(rows)))
    if (remove := posted.data["remove"]) is not None:
        rows = [row for row in rows if row["index"] != remove]
    definition, _ = definition_from_rows(match, rows)
    draft, positions = draft_definition(match, rows)
    preview = _preview(workspace, draft, posted.errors, positions)
    preview["waiting"] = len(rows) - len(positions)
    _attach_errors(rows, preview.get("row_errors", {}))
    context = {
        **_choices(workspace),
        "rows": rows,
        "match": match,
        **preview,
        "notes": notes,
        "json_text": _json(definition),
        "oob_json": True,
        "oob": True,
    }
    return render(request, "segments/_builder.html", context)


def _attach_errors(rows: list[dict], row_errors: dict[int, list[str]]) -> None:
    for position, row in enumerate(rows, start=1):
        row["errors"] = row_errors.get(position, [])


def _json(definition: object) -> str:
    """The definition as indented JSON, cleaned ("60" → 60) when it is valid."""
    with contextlib.suppress(SegmentDefinitionError):
        definition = definition_validate(definition)
    return orjson.dumps(definition, option=orjson.OPT_INDENT_2).decode()


def _editor(
    request: HttpRequest,
    segment,
    *,
    status: int = 200,
    errors: list[str] | None = None,
    posted: Posted | None = None,
) -> HttpResponse:
    workspace = active_workspace(request)
    if posted is not None:
        rows, match, mode = posted.rows, posted.data["match"], posted.data["mode"]
        name, description = posted.data["name"], posted.data["description"]
        json_text = posted.data["definition"]
    elif segment is not None:
        rows, match, mode = rows_from_definition(segment.definition)
        name, description = segment.name, segment.description
        json_text = _json(segment.definition)
    else:
        rows, match, mode = [], "all", "builder"
        name = description = ""
        json_text = '{\n  "all": []\n}'
        prefill = _prefill(request.GET.get("definition", ""))
        if prefill is not None:  # a link from another page ("segment of these people")
            rows, match, mode = rows_from_definition(prefill)
            json_text = _json(prefill)
    definition, row_errors = definition_from_post(posted) if posted is not None else (None, [])
    if definition is None and segment is not None:
        definition = segment.definition
    if definition is None:
        definition, _ = definition_from_rows(match, rows)
    context = {
        **_choices(workspace),
        "segment": segment,
        "rows": rows,
        "match": match,
        "mode": mode,
        "name": name,
        "description": description,
        "json_text": json_text,
        "save_errors": errors or [],  # (name and description problems mark their fields)
        "invalid": {
            f for f in ("name", "description") if any(e.startswith(f"{f}:") for e in errors or [])
        },
        "tab": "segments",
    }
    if segment is not None and posted is None:  # the saved segment's page: one evaluation
        context.update(_saved_segment(request, workspace, segment))
    else:  # name/description problems belong to the form; the preview still counts the rest
        context.update(_preview(workspace, definition, _condition_errors(errors) or row_errors))
    _attach_errors(rows, context.get("row_errors", {}))
    return render(request, "segments/editor.html", context, status=status)


def _saved_segment(request: HttpRequest, workspace, segment) -> dict:
    """The preview and the members of a saved segment, from one evaluation of its definition
    (its event conditions are one engine pass; at 10M events each pass takes ~0.3 s); when
    nobody was added by hand, the members are the matches, counted once."""
    as_of = segment_selectors.segment_as_of(workspace=workspace)
    try:
        matches, members = segment_selectors.segment_matches_and_members(
            workspace=workspace, definition=segment.definition, segment_id=segment.pk, now=as_of
        )
    except SegmentDefinitionError:  # the preview says what is wrong
        return {**_preview(workspace, segment.definition, []), "members": None}
    found: dict[str, Any] = {}
    count = sample = None
    if can(request, Capability.READ_CUSTOMERS):
        found = _members(request, members)
        page = found["members"]
        page.object_list = list(page.object_list)  # read once: the preview's sample too
        if members is matches:
            count = page.paginator.count
            sample = page.object_list[:PREVIEW_MEMBERS] if page.number == 1 else None
    context = _preview(
        workspace, segment.definition, [], matches=matches, as_of=as_of, count=count, sample=sample
    )
    return {**context, **found}


def _prefill(text: str) -> dict | None:
    """A flat definition given in the new-segment link, or None (anything else is ignored)."""
    parsed, problems = definition_from_json(text) if text else (None, [])
    if problems or not isinstance(parsed, dict) or len(parsed) != 1:
        return None
    items = parsed.get("all", parsed.get("any"))
    if not isinstance(items, list) or not all(
        isinstance(item, dict) and condition_kind(item) for item in items
    ):
        return None
    try:
        rows_from_definition(parsed)
    except (KeyError, TypeError, AttributeError, StopIteration):
        return None
    return parsed


def _condition_errors(errors: list[str] | None) -> list[str]:
    return [e for e in errors or [] if not e.startswith(("name:", "description:"))]


def _members(request: HttpRequest, customers) -> dict:
    """A page of a saved segment's members."""
    form = MembersPageForm(request.GET)
    number = form.cleaned_data.get("page") if form.is_valid() else None
    page = Paginator(customers, MEMBERS_PER_PAGE).get_page(number)
    return {"members": page, "members_errors": error_lines(form)}


def _preview(
    workspace,
    definition: dict | None,
    errors: list[str],
    positions: list[int] | None = None,
    *,
    matches: Any = None,
    as_of: Any = None,
    count: int | None = None,
    sample: list | None = None,
) -> dict:
    """The live count of ``definition``; ``positions`` (from :func:`draft_definition`) numbers
    its conditions as the editor's rows, some of which were left out as not filled in yet.
    ``matches``: who matches it, when the caller evaluated it already (with ``as_of``), and
    ``count`` and ``sample`` when it read them already."""
    total = customer_selectors.customer_count(workspace=workspace)
    as_of = as_of or segment_selectors.segment_as_of(workspace=workspace)
    context = {
        "customer_total": total,
        "errors": errors,
        "count": None,
        "sample": [],
        "as_of": as_of,
    }
    if errors or definition is None:
        context["row_errors"] = _row_errors(errors)
        return context
    try:
        customers = matches
        if customers is None:
            customers = segment_selectors.segment_customers(
                workspace=workspace, definition=definition, now=as_of
            )
        count = customers.count() if count is None else count
    except SegmentDefinitionError as exc:
        renumbered = [_renumber(error, positions) for error in exc.errors]
        context["errors"] = renumbered
        context["row_errors"] = _row_errors(renumbered)
        return context
    context.update(
        count=count,
        share=(count / total * 100) if total else 0,
        sample=list(customers[:PREVIEW_MEMBERS]) if sample is None else sample,
        summary=describe(definition),
        row_errors={},
    )
    return context


def _renumber(error: str, positions: list[int] | None) -> str:
    """``condition N ...`` of a draft definition, with N its row's number in the editor."""
    found = _CONDITION_REF.match(error)
    if not positions or not found or int(found.group(1)) > len(positions):
        return error
    return f"condition {positions[int(found.group(1)) - 1]}{error[found.end() :]}"


def _row_errors(errors: list[str]) -> dict[int, list[str]]:
    """Errors keyed by 1-based condition number, for messages under each row."""
    by_row: dict[int, list[str]] = {}
    for error in errors:
        if found := _CONDITION_REF.match(error):
            by_row.setdefault(int(found.group(1)), []).append(error.split(": ", 1)[-1])
    return by_row


def _choices(workspace) -> dict:
    return {
        "kinds": KINDS,
        "trait_ops": TRAIT_OPS,
        "score_ops": SCORE_OPS,
        "scores": SCORE_CHOICES,
        "predictions": [(key, words) for key, (_, _, words) in PREDICTIONS.items()],
        "prediction_ops": PREDICTION_OPS,
        "channels": CHANNELS,
        "event_names": path_analysis.step_names(workspace=workspace),
        "journeys": segment_stages.stage_options(workspace=workspace),
    }
