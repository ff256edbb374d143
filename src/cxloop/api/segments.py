"""REST routes for segments and personas (mounted under /api/ by cxloop.api.rest).

Signed-in users only (session cookie); the workspace is the ``workspace`` query parameter (slug)
or the user's first workspace. Invalid definitions answer 422 with every problem in ``errors``.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from cxloop.api.access import request_workspace
from cxloop.api.errors import BODY_ERRORS, ERRORS
from cxloop.api.params import ObjectIn, id_param, limit_param, offset_param
from cxloop.api.paths import DATE_FROM, DATE_TO, range_of_query
from cxloop.api.trends import RangeOut, range_out
from cxloop.core.permissions import Capability
from cxloop.segments import selectors as segment_selectors
from cxloop.segments import services as segment_services
from cxloop.segments.definition import SegmentDefinitionError, definition_validate, describe
from cxloop.segments.personas import MAX_K, MIN_K, PersonaError

router = Router(tags=["segments"])


class SegmentIn(ObjectIn):
    name: str
    description: str = ""
    definition: dict


class SegmentPatch(ObjectIn):
    name: str | None = None
    description: str | None = None
    definition: dict | None = None


class DefinitionIn(ObjectIn):
    definition: dict


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    definition: dict
    summary: str
    count: int
    created_at: datetime
    updated_at: datetime


class CountOut(Schema):
    count: int
    summary: str


class MemberOut(Schema):
    id: int
    display_name: str
    traits: dict
    last_seen_at: datetime | None


class MemberPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[MemberOut]


class PersonaOut(Schema):
    name: str
    size: int
    share: float
    explanation: list[str]
    journey: list[str]
    journey_share: float
    means: dict[str, float]
    zscores: dict[str, float]
    sample_customer_ids: list[int]
    stages: list[dict]


class PersonasOut(Schema):
    k: int
    customers: int
    fitted_on: int | None = Field(
        None,
        description="Past 20,000 customers: the size of the repeatable random sample the "
        "groups were found on (everyone is assigned to the nearest); null when all were used",
    )
    range: RangeOut
    averages: dict[str, float]
    personas: list[PersonaOut]


def _out(segment) -> dict:
    return {
        "id": segment.pk,
        "name": segment.name,
        "description": segment.description,
        "definition": segment.definition,
        "summary": describe(segment.definition),
        "count": segment_selectors.segment_count(
            workspace=segment.workspace, definition=segment.definition, segment_id=segment.pk
        ),
        "created_at": segment.created_at,
        "updated_at": segment.updated_at,
    }


def _invalid(exc: SegmentDefinitionError) -> Status:
    return Status(422, {"detail": str(exc), "errors": exc.errors})


def _get(request: HttpRequest, segment_id: int, workspace: str | None, need: Capability):
    segment = segment_selectors.segment_get(
        workspace=request_workspace(request, workspace, need=need), segment_id=segment_id
    )
    if segment is None:
        raise HttpError(404, "no such segment in this workspace")
    return segment


@router.get(
    "/segments",
    response={200: list[SegmentOut], **ERRORS},
    summary="List segments with live counts",
)
def list_segments(request: HttpRequest, workspace: str | None = None):
    ws = request_workspace(request, workspace, need=Capability.READ_ANALYTICS)
    return [_out(s) for s in segment_selectors.segment_list(workspace=ws)]


@router.post("/segments", response={201: SegmentOut, **BODY_ERRORS}, summary="Create a segment")
def create_segment(request: HttpRequest, payload: SegmentIn, workspace: str | None = None):
    """Save a filter. ``definition``: ``{"all"|"any": [conditions or groups]}`` (see docs)."""
    try:
        segment = segment_services.segment_create(
            workspace=request_workspace(request, workspace, need=Capability.EDIT_SEGMENTS),
            name=payload.name,
            description=payload.description,
            definition=payload.definition,
            created_by=request.user,
        )
    except SegmentDefinitionError as exc:
        return _invalid(exc)
    return Status(201, _out(segment))


@router.post(
    "/segments/preview",
    response={200: CountOut, **BODY_ERRORS},
    summary="Count the customers a definition matches, without saving it",
)
def preview_segment(request: HttpRequest, payload: DefinitionIn, workspace: str | None = None):
    try:
        count = segment_selectors.segment_count(
            workspace=request_workspace(request, workspace, need=Capability.READ_ANALYTICS),
            definition=payload.definition,
        )
    except SegmentDefinitionError as exc:
        return _invalid(exc)
    return Status(
        200, {"count": count, "summary": describe(definition_validate(payload.definition))}
    )


@router.get("/segments/{segment_id}", response={200: SegmentOut, **ERRORS}, summary="One segment")
def get_segment(request: HttpRequest, segment_id: int = id_param(), workspace: str | None = None):
    return _out(_get(request, segment_id, workspace, Capability.READ_ANALYTICS))


@router.patch(
    "/segments/{segment_id}",
    response={200: SegmentOut, **BODY_ERRORS},
    summary="Change a segment's name, description or definition",
)
def update_segment(
    request: HttpRequest,
    payload: SegmentPatch,
    segment_id: int = id_param(),
    workspace: str | None = None,
):
    segment = _get(request, segment_id, workspace, Capability.EDIT_SEGMENTS)
    try:
        segment = segment_services.segment_update(
            segment=segment,
            name=payload.name,
            description=payload.description,
            definition=payload.definition,
        )
    except SegmentDefinitionError as exc:
        return _invalid(exc)
    return Status(200, _out(segment))


@router.delete("/segments/{segment_id}", response={204: None, **ERRORS}, summary="Delete a segment")
def delete_segment(
    request: HttpRequest, segment_id: int = id_param(), workspace: str | None = None
):
    segment_services.segment_delete(
        segment=_get(request, segment_id, workspace, Capability.EDIT_SEGMENTS)
    )
    return Status(204, None)


@router.get(
    "/segments/{segment_id}/customers",
    response={200: MemberPage, **ERRORS},
    summary="The segment's members",
)
def segment_members(
    request: HttpRequest,
    segment_id: int = id_param(),
    workspace: str | None = None,
    limit: int = limit_param(100),
    offset: int = offset_param(),
):
    segment = _get(request, segment_id, workspace, Capability.READ_CUSTOMERS)
    try:
        customers = segment_selectors.segment_customers(
            workspace=segment.workspace, definition=segment.definition, segment_id=segment.pk
        )
        count = customers.count()
    except SegmentDefinitionError as exc:
        raise HttpError(422, str(exc)) from exc
    return {
        "count": count,
        "limit": limit,
        "offset": offset,
        "items": list(customers[offset : offset + limit]),
    }


@router.get(
    "/personas",
    response={200: PersonasOut, **ERRORS},
    summary="Behavioural personas (k-means)",
)
def list_personas(
    request: HttpRequest,
    k: int = Query(5, ge=MIN_K, le=MAX_K, description=f"Number of personas, {MIN_K}–{MAX_K}"),
    date_from: str = DATE_FROM,
    date_to: str = DATE_TO,
    workspace: str | None = None,
):
    """Customers active in the range clustered on their events in it: recency (up to the
    range's end), frequency, spend, support and channel mix."""
    ws = request_workspace(request, workspace, need=Capability.READ_ANALYTICS)
    span = range_of_query(ws, date_from, date_to)
    try:
        result = segment_selectors.personas_compute(workspace=ws, k=k, span=span)
    except PersonaError as exc:
        raise HttpError(422, str(exc)) from exc
    return {
        "k": result.k,
        "customers": result.customers,
        "fitted_on": result.fitted_on,
        "range": range_out(span),
        "averages": result.averages,
        "personas": [
            {
                "name": p.name,
                "size": p.size,
                "share": p.share,
                "explanation": p.explanation,
                "journey": list(p.journey),
                "journey_share": p.journey_share,
                "means": p.means,
                "zscores": p.zscores,
                "sample_customer_ids": p.customer_ids[:10],
                "stages": [
                    {"journey": journey, "stage": stage, "share": share}
                    for journey, stage, share in p.stages
                ],
            }
            for p in result.personas
        ],
    }
