"""REST route for a journey map over a date range (mounted under /api/ by cxloop.api.rest):
the same selector as the map's page (``journeys.mapperiod``)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.errors import HttpError

from cxloop.api.access import request_workspace
from cxloop.api.errors import ERRORS
from cxloop.api.params import id_param
from cxloop.api.paths import DATE_FROM, DATE_TO, range_of_query
from cxloop.api.trends import RangeOut, range_out
from cxloop.core.permissions import Capability
from cxloop.journeys import mapperiod
from cxloop.journeys import selectors as journey_selectors
from cxloop.metrics import trends
from cxloop.metrics.funnelchange import change_periods

router = Router(tags=["journeys"])


class MapTouchpointOut(Schema):
    id: int
    name: str
    channel: str
    customers: int
    events: int
    converted: int | None
    conversion: float | None
    median_seconds: float | None
    responses: int
    csat: float | None
    nps: float | None


class MapStageOut(Schema):
    name: str
    customers: int
    events: int
    converted: int | None
    conversion: float | None
    median_seconds: float | None
    touchpoints: list[MapTouchpointOut]


class MapPeriodOut(Schema):
    range: RangeOut
    customers: int
    stages: list[MapStageOut]


class JourneyMapOut(Schema):
    id: int
    name: str
    current: MapPeriodOut
    previous: MapPeriodOut | None


_EMPTY = {"customers": 0, "events": 0, "converted": None, "conversion": None}


def _period(span: trends.Range, views, period: mapperiod.PeriodMetrics) -> dict:
    stages = period.metrics.get("stages", [])
    touchpoints = period.metrics.get("touchpoints", {})
    out = []
    for view in views:
        m = stages[view.stage.position] if view.stage.position < len(stages) else {}
        points = []
        for tp in view.touchpoints:
            tm = touchpoints.get(str(tp.touchpoint.pk), {})
            fb = period.feedback.get(tp.touchpoint.pk, {})
            points.append(
                {
                    "id": tp.touchpoint.pk, "name": tp.touchpoint.name,
                    "channel": tp.touchpoint.channel, **_EMPTY, "median_seconds": None, **tm,
                    "responses": fb.get("responses", 0), "csat": fb.get("csat"),
                    "nps": fb.get("nps"),
                }
            )  # fmt: skip
        out.append(
            {"name": view.stage.name, **_EMPTY, "median_seconds": None, **m, "touchpoints": points}
        )
    return {
        "range": range_out(span),
        "customers": int(period.metrics.get("customers") or 0),
        "stages": out,
    }


@router.get(
    "/journeys/{journey_id}/map",
    response={200: JourneyMapOut, **ERRORS},
    summary="A journey map's metrics over a date range",
)
def journey_map_range(
    request: HttpRequest,
    journey_id: int = id_param(),
    date_from: str = DATE_FROM,
    date_to: str = DATE_TO,
    compare: bool = Query(False, description="also the as many days just before the range"),
    workspace: str | None = None,
):
    """Each stage's and touchpoint's customers, events, conversion to the next stage and median
    time to it (seconds), counted from the events in the range only, and CSAT/NPS of the answers
    submitted in it; with ``compare``, the same for the period before."""
    ws = request_workspace(request, workspace, need=Capability.READ_ANALYTICS)
    journey = journey_selectors.journey_get(workspace=ws, journey_id=journey_id)
    if journey is None:
        raise HttpError(404, "no such journey in this workspace")
    span = range_of_query(ws, date_from, date_to)
    previous = None
    if compare:
        try:
            previous = change_periods(workspace=ws, date_from=span.first, date_to=span.last)
        except trends.TrendQueryError as exc:
            raise HttpError(422, f"compare: {exc}") from exc
    found = mapperiod.journey_map_period(
        journey=journey, since=span.since, until=span.until,
        previous=(previous.previous.since, previous.previous.until) if previous else None,
    )  # fmt: skip
    return {
        "id": journey.pk,
        "name": journey.name,
        "current": _period(span, found.stages, found.current),
        "previous": (
            _period(previous.previous, found.stages, found.previous)
            if previous is not None and found.previous is not None
            else None
        ),
    }
