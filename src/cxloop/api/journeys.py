"""REST routes for journeys (mounted under /api/ by cxloop.api.rest): journey maps and funnels."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from cxloop.analytics.walk import MAX_WINDOW_SECONDS  # longer windows mean "no window"
from cxloop.api.access import request_workspace
from cxloop.api.errors import BODY_ERRORS, ERRORS
from cxloop.api.params import MAX_ID, ObjectIn, id_param
from cxloop.api.trends import RangeIn, RangeOut, range_out
from cxloop.core.permissions import Capability
from cxloop.journeys import selectors as journey_selectors
from cxloop.journeys import services as journey_services
from cxloop.journeys.correlation import MAX_CORRELATED
from cxloop.journeys.definitions import (
    MAX_STEPS,
    DefinitionError,
    parse_exclusions,
    parse_mode,
    parse_steps,
)
from cxloop.metrics import trends
from cxloop.segments import selectors as segment_selectors

router = Router(tags=["journeys"])


class RuleIn(ObjectIn):
    event: str = ""
    channel: str = ""
    conditions: list[dict[str, Any]] = []


class StageIn(ObjectIn):
    name: str = ""
    description: str = ""
    feedback: dict[str, Any] | None = Field(
        None,
        description='Optional: {"metric": "nps"|"csat"|"ces", "op": "gte"|"lte", "value": 0-10}; '
        "a customer whose latest score of that metric fails it is not placed at this stage.",
    )


class TouchpointIn(ObjectIn):
    stage: str = ""
    name: str = ""
    channel: str = ""
    rules: list[RuleIn] = []


class JourneyIn(ObjectIn):
    name: str = ""
    description: str = ""
    stages: list[StageIn | str] = []
    touchpoints: list[TouchpointIn] = []


class JourneyOut(Schema):
    id: int
    name: str
    description: str
    computed_at: datetime | None
    definition: dict
    metrics: dict


class JourneySummary(Schema):
    id: int
    name: str
    description: str
    computed_at: datetime | None
    customers: int


class ExclusionIn(RuleIn):
    after: int = Field(
        ..., ge=1, le=MAX_STEPS - 1, description="the step after which (and before the next)"
    )


class FunnelIn(RangeIn):
    steps: list[RuleIn | str]
    mode: Literal["ordered", "strict", "any"] = Field(
        "ordered",
        description="ordered: steps in order, anything in between; strict: nothing in between; "
        "any: any order (step k counts customers who did any k of the steps)",
    )
    exclusions: list[ExclusionIn] = Field(
        [], max_length=MAX_STEPS, description="events that must not happen between two steps"
    )
    window_seconds: float | None = Field(
        7 * 86400, gt=0, le=MAX_WINDOW_SECONDS, description="null: no window"
    )
    split_by: str = ""
    stage_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="only customers whose current stage is this one"
    )
    per: Literal["customer", "session"] = Field(
        "customer",
        description="count customers, or sessions (each a funnel of its own: it must complete "
        "within one session; the workspace's session settings)",
    )


class FunnelGroup(Schema):
    label: str
    counts: list[int]


class FunnelOut(Schema):
    steps: list[str]
    mode: str
    per: str
    exclusions: list[str]
    window_seconds: float | None
    counts: list[int]
    conversion: list[float | None]
    median_seconds: list[float | None]
    groups: list[FunnelGroup]
    range: RangeOut = Field(description="customers entering step 1 in it, as of its as_of")


def _journey(request: HttpRequest, journey_id: int, slug: str | None, need: Capability):
    journey = journey_selectors.journey_get(
        workspace=request_workspace(request, slug, need=need), journey_id=journey_id
    )
    if journey is None:
        raise HttpError(404, "no such journey in this workspace")
    return journey


def _out(journey) -> dict:
    return {
        "id": journey.pk,
        "name": journey.name,
        "description": journey.description,
        "computed_at": journey.computed_at,
        "definition": journey_selectors.journey_definition(journey=journey),
        "metrics": journey.metrics,
    }


def _invalid(exc: DefinitionError) -> Status:
    return Status(422, {"detail": "invalid journey definition", "errors": exc.errors})


@router.get(
    "/journeys", response={200: list[JourneySummary], **ERRORS}, summary="List journey maps"
)
def list_journeys(request: HttpRequest, workspace: str | None = None):
    return [
        {
            "id": j.pk,
            "name": j.name,
            "description": j.description,
            "computed_at": j.computed_at,
            "customers": (j.metrics or {}).get("customers", 0),
        }
        for j in journey_selectors.journey_list(
            workspace=request_workspace(request, workspace, need=Capability.READ_ANALYTICS)
        )
    ]


@router.post(
    "/journeys",
    response={201: JourneyOut, **BODY_ERRORS},
    summary="Create a journey map",
)
def create_journey(request: HttpRequest, payload: JourneyIn, workspace: str | None = None):
    """Stages in order, touchpoints naming their stage, rules (event, channel, conditions).

    The map is computed at once (metrics and every customer's current stage). Errors list every
    problem with its place, e.g. ``touchpoints[2].stage: unknown stage 'Purchse'``.
    """
    try:
        journey = journey_services.journey_create(
            workspace=request_workspace(request, workspace, need=Capability.EDIT_JOURNEYS),
            definition=payload.dict(),
        )
    except DefinitionError as exc:
        return _invalid(exc)
    return Status(201, _out(journey))


@router.get(
    "/journeys/{journey_id}",
    response={200: JourneyOut, **ERRORS},
    summary="A journey map with metrics",
)
def get_journey(request: HttpRequest, journey_id: int = id_param(), workspace: str | None = None):
    return _out(_journey(request, journey_id, workspace, Capability.READ_ANALYTICS))


@router.put(
    "/journeys/{journey_id}",
    response={200: JourneyOut, **BODY_ERRORS},
    summary="Replace a journey map",
)
def update_journey(
    request: HttpRequest,
    payload: JourneyIn,
    journey_id: int = id_param(),
    workspace: str | None = None,
):
    journey = _journey(request, journey_id, workspace, Capability.EDIT_JOURNEYS)
    try:
        journey_services.journey_update(journey=journey, definition=payload.dict())
    except DefinitionError as exc:
        return _invalid(exc)
    return Status(200, _out(journey))


@router.post(
    "/journeys/{journey_id}/recompute",
    response={200: JourneyOut, **ERRORS},
    summary="Recompute a journey map",
)
def recompute_journey(
    request: HttpRequest, journey_id: int = id_param(), workspace: str | None = None
):
    journey = _journey(request, journey_id, workspace, Capability.EDIT_JOURNEYS)
    journey_services.journey_recompute(journey=journey)
    return _out(journey)


@router.delete(
    "/journeys/{journey_id}", response={204: None, **ERRORS}, summary="Delete a journey map"
)
def delete_journey(
    request: HttpRequest, journey_id: int = id_param(), workspace: str | None = None
):
    journey_services.journey_delete(
        journey=_journey(request, journey_id, workspace, Capability.EDIT_JOURNEYS)
    )
    return Status(204, None)


@router.post("/funnels", response={200: FunnelOut, **BODY_ERRORS}, summary="Funnel analysis")
def run_funnel(request: HttpRequest, payload: FunnelIn, workspace: str | None = None):
    """Customers reaching each step in order, each within ``window_seconds`` of their first step.

    Steps are event names or ``{event, channel, conditions}``; ``split_by`` is ``channel``,
    ``trait:<name>``, ``stage:<journey id>`` or ``segments`` (the members of each saved segment,
    the first eight by name); ``stage_id`` keeps to customers now at that stage.
    """
    ws = request_workspace(request, workspace, need=Capability.READ_ANALYTICS)
    query = _funnel_query(ws, payload)
    if isinstance(query, Status):
        return query
    steps, window, only, mode, exclusions, span = query
    groups = (
        segment_selectors.segment_groups(workspace=ws)
        if payload.split_by == segment_selectors.SPLIT_SEGMENTS
        else None
    )
    try:
        report = journey_selectors.funnel(
            workspace=ws,
            steps=steps,
            window=window,
            split_by=payload.split_by,
            groups=groups,
            only=only,
            mode=mode,
            exclusions=exclusions,
            since=span.since,
            until=span.until,
            per=payload.per,
        )
    except ValueError as exc:
        return Status(422, {"detail": "invalid split", "errors": [str(exc)]})
    return Status(
        200,
        {
            "steps": [s.label() for s in report.steps],
            "mode": report.mode,
            "per": report.per,
            "exclusions": [x.label() for x in report.exclusions],
            "window_seconds": payload.window_seconds,
            "counts": report.counts,
            "conversion": report.conversion,
            "median_seconds": report.median_seconds,
            "groups": [{"label": label, "counts": counts} for label, counts in report.groups],
            "range": range_out(span),
        },
    )


def _funnel_query(ws, payload: FunnelIn) -> tuple | Status:
    """(steps, window, only, mode, exclusions, range) of a funnel body, or its 422."""
    raw = [s if isinstance(s, str) else s.dict() for s in payload.steps]
    try:
        steps = parse_steps(raw)
        mode = parse_mode(payload.mode, steps)
        exclusions = parse_exclusions([x.dict() for x in payload.exclusions], steps=len(steps))
    except DefinitionError as exc:
        return Status(422, {"detail": "invalid funnel steps", "errors": exc.errors})
    window = None if payload.window_seconds is None else timedelta(seconds=payload.window_seconds)
    only = None
    if payload.stage_id is not None:
        try:
            _, ids = journey_selectors.stage_member_ids(workspace=ws, stage_id=payload.stage_id)
        except journey_selectors.StageChoiceError as exc:
            return Status(422, {"detail": "invalid stage", "errors": [f"stage_id: {exc}"]})
        only = set(ids)
    try:
        span = trends.trend_range(
            workspace=ws, date_from=payload.date_from, date_to=payload.date_to
        )
    except trends.TrendQueryError as exc:
        return Status(422, {"detail": "invalid range", "errors": [str(exc)]})
    return steps, window, only, mode, exclusions, span


class CorrelationRow(Schema):
    kind: str = Field(description='"event", "trait" or "property"')
    label: str = Field(
        description='the event\'s name, "trait = value" or "event with property = value"'
    )
    event: str | None = Field(None, description="the event (event and property rows)")
    trait: str | None = Field(None, description="the trait's name (trait rows)")
    property: str | None = Field(None, description="the event property's name (property rows)")
    value: str | int | float | bool | None = Field(
        None, description="the trait's or property's value"
    )
    converted_with: int
    dropped_with: int
    converted_without: int
    dropped_without: int
    odds_ratio: float
    p_value: float
    p_holm: float


class CorrelationOut(Schema):
    entered: int
    converted: int
    tested: int = Field(
        description="candidates tested, events, trait and property values (the family Holm "
        "corrects over)"
    )
    events: list[CorrelationRow] = Field(
        description="the most telling candidates, events, trait and property values (see kind)"
    )
    sampled_from: int | None = Field(
        None,
        description="when set, the funnel had this many entrants and a repeatable random sample "
        "of them (entered) was correlated; null: every entrant was",
    )


@router.post(
    "/funnels/correlation",
    response={200: CorrelationOut, **BODY_ERRORS},
    summary="Events that go with converting or dropping in a funnel",
)
def funnel_correlation(
    request: HttpRequest,
    payload: FunnelIn,
    workspace: str | None = None,
    top: int = Query(20, ge=1, le=MAX_CORRELATED),
    everyone: bool = Query(
        False,
        description="correlate every entrant; by default a funnel of more than "
        f"{journey_selectors.CORRELATION_SAMPLE:,} entrants has a repeatable random sample of "
        "about that many correlated (sampled_from says so)",
    ),
):
    """For the customers who entered the funnel: each event they did between entering and the
    end of their window, with the 2×2 counts (did it or not × converted or not), the odds ratio
    (0.5 added to every cell when one is zero), Fisher's exact p and the Holm-adjusted p over
    every candidate tested; most telling first. Trait values are candidates too (kind
    "trait"): of a trait with at most 20 distinct values among the entrants, each value that at
    least 5 of them (and not all) hold. So are event property values (kind "property", per
    customer only): top-level properties (not channel) of the entrants' events in their window
    (not the last step's), of keys with at most 20 distinct values there, the 30 (event,
    property) pairs the most entrants carry, values held by at least 5 entrants and not all.
    ``split_by`` is ignored."""
    ws = request_workspace(request, workspace, need=Capability.READ_ANALYTICS)
    query = _funnel_query(ws, payload)
    if isinstance(query, Status):
        return query
    steps, window, only, mode, exclusions, span = query
    report = journey_selectors.funnel_correlation(
        workspace=ws, steps=steps, window=window, only=only, mode=mode, exclusions=exclusions,
        top=top, since=span.since, until=span.until, per=payload.per,
        sample_size=None if everyone else journey_selectors.CORRELATION_SAMPLE,
    )  # fmt: skip
    return Status(
        200,
        {
            "entered": report.entered,
            "sampled_from": report.sampled_from,
            "converted": report.converted,
            "tested": report.tested,
            "events": [
                {
                    "kind": r.kind,
                    "label": r.label,
                    "event": r.event if r.kind == "event" else (r.source or None),
                    "trait": r.trait if r.kind == "trait" else None,
                    "property": r.trait if r.kind == "property" else None,
                    "value": r.value,
                    "converted_with": r.converted_with,
                    "dropped_with": r.dropped_with,
                    "converted_without": r.converted_without,
                    "dropped_without": r.dropped_without,
                    "odds_ratio": r.odds_ratio,
                    "p_value": r.p_value,
                    "p_holm": r.p_holm,
                }
                for r in report.rows
            ],
        },
    )
