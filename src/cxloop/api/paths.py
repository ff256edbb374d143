"""REST routes for path analysis (mounted under /api/ by cxloop.api.rest)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.errors import HttpError

from cxloop.api.access import request_workspace
from cxloop.api.errors import ERRORS
from cxloop.api.params import MAX_ID
from cxloop.api.trends import RangeOut, range_out
from cxloop.core.models import Workspace
from cxloop.core.permissions import Capability
from cxloop.journeys import paths as path_analysis
from cxloop.metrics import trends
from cxloop.segments import selectors as segment_selectors

router = Router(tags=["paths"])
MAX_DAYS = path_analysis.MAX_DAYS  # one bound for the page and the API
MAX_TOP = path_analysis.MAX_TOP  # one bound for the page and the API
STEPS = path_analysis.MAX_STEPS


def _top() -> Any:
    return Query(10, ge=1, le=MAX_TOP, description=f"Paths to list, 1–{MAX_TOP}")


def _segment() -> Any:
    return Query(None, ge=1, le=MAX_ID, description="Only this segment's members (segment id)")


# as text, read by :func:`range_of_query` (a typed date would take "0" as 1970-01-01)
DATE_FROM = Query("", description="First day, YYYY-MM-DD (default: 90 days before `date_to`)")
DATE_TO = Query("", description="Last day, inclusive, YYYY-MM-DD (default: the as-of day)")


def range_of_query(ws: Workspace, date_from: str, date_to: str) -> trends.Range:
    """The range asked for (default: the last 90 days up to the as-of time), or a 422."""
    days: list[date | None] = []
    for name, text in (("date_from", date_from), ("date_to", date_to)):
        try:
            days.append(date.fromisoformat(text) if text else None)
        except ValueError as exc:
            raise HttpError(422, f"{name}: {text[:40]!r} is not a day (YYYY-MM-DD)") from exc
    try:
        return trends.trend_range(workspace=ws, date_from=days[0], date_to=days[1])
    except trends.TrendQueryError as exc:
        raise HttpError(422, str(exc)) from exc


class PathOut(Schema):
    steps: list[str]
    customers: int
    share: float


class PathReportOut(Schema):
    per: str = "customer"
    start: str
    end: str
    max_steps: int
    started: int
    completed: int
    conversion: float
    other_paths: int
    paths: list[PathOut]
    range: RangeOut


class Tally(Schema):
    step: str
    customers: int


class LiftOut(Schema):
    event: str
    customers: int
    share: float
    base_customers: int
    base_share: float
    lift: float | None  # null: nobody else did it
    p_value: float
    p_holm: float


class BeforeReportOut(Schema):
    kind: str
    steps: int
    customers: int
    paths: list[PathOut]
    last_step: list[Tally]
    anywhere: list[Tally]
    lifts: list[LiftOut]  # against everyone else's last steps
    others: int
    range: RangeOut


def _members(workspace: Workspace, segment: int | None):
    if segment is None:
        return None
    try:
        return segment_selectors.segment_member_ids(workspace=workspace, segment_id=segment)
    except segment_selectors.SegmentChoiceError as exc:
        raise HttpError(404 if exc.missing else 422, f"segment: {exc}") from exc


def _paths(paths: list) -> list[dict]:
    return [{"steps": list(p.steps), "customers": p.customers, "share": p.share} for p in paths]


@router.get(
    "/paths",
    response={200: PathReportOut, **ERRORS},
    summary="Most common paths between two events",
)
def paths_between(
    request: HttpRequest,
    start: str = "",
    end: str = "",
    max_steps: int = Query(6, ge=2, le=STEPS, description=f"2–{STEPS}"),
    within_days: int | None = Query(None, ge=1, le=MAX_DAYS, description=f"1–{MAX_DAYS}"),
    by_channel: bool = False,
    top: int = _top(),
    segment: int | None = _segment(),
    date_from: str = DATE_FROM,
    date_to: str = DATE_TO,
    per: Literal["customer", "session"] = Query(
        "customer", description="count customers, or sessions (paths within one session)"
    ),
    workspace: str | None = None,
):
    """Per customer (or per session, with ``per=session``: the workspace's session settings):
    the collapsed steps from ``start`` to the next ``end`` (either may be empty), over the
    events in the range; ``customers`` in the result then counts sessions."""
    ws = request_workspace(request, workspace, need=Capability.READ_ANALYTICS)
    span = range_of_query(ws, date_from, date_to)
    try:
        report = path_analysis.paths_between(
            workspace=ws,
            start=start,
            end=end,
            max_steps=max_steps,
            within=timedelta(days=within_days) if within_days else None,
            by_channel=by_channel,
            top=top,
            since=span.since,
            until=span.until,
            customer_ids=_members(ws, segment),
            per=per,
        )
    except path_analysis.PathQueryError as exc:
        raise HttpError(422, str(exc)) from exc
    return {
        "per": report.per,
        "start": report.start,
        "end": report.end,
        "max_steps": report.max_steps,
        "started": report.started,
        "completed": report.completed,
        "conversion": report.conversion,
        "other_paths": report.other_paths,
        "paths": _paths(report.paths),
        "range": range_out(span),
    }


@router.get(
    "/paths/before",
    response={200: BeforeReportOut, **ERRORS},
    summary="What customers did just before they churned or complained",
)
def paths_before(
    request: HttpRequest,
    kind: str = Query("churn", description="churn or complaint"),
    steps: int = Query(3, ge=1, le=STEPS, description=f"1–{STEPS}"),
    inactive_days: int = Query(90, ge=1, le=MAX_DAYS, description=f"1–{MAX_DAYS}"),
    complaint_events: str = ",".join(path_analysis.DEFAULT_COMPLAINT_EVENTS),
    topics: str = "",
    by_channel: bool = False,
    top: int = _top(),
    segment: int | None = _segment(),
    date_from: str = DATE_FROM,
    date_to: str = DATE_TO,
    workspace: str | None = None,
):
    """``kind=churn``: inactive for ``inactive_days`` as of the as-of time; ``kind=complaint``:
    one of the comma-separated ``complaint_events`` or an event whose ``properties.topic`` is in
    ``topics``, in the range."""
    ws = request_workspace(request, workspace, need=Capability.READ_ANALYTICS)
    span = range_of_query(ws, date_from, date_to)
    members = _members(ws, segment)
    try:
        if kind == "churn":
            report = path_analysis.paths_before_churn(
                workspace=ws,
                inactive_days=inactive_days,
                steps=steps,
                by_channel=by_channel,
                top=top,
                now=span.as_of,
                customer_ids=members,
            )
        elif kind == "complaint":
            report = path_analysis.paths_before_complaint(
                workspace=ws,
                steps=steps,
                complaint_events=[e for e in complaint_events.split(",") if e.strip()],
                complaint_topics=[t for t in topics.split(",") if t.strip()],
                by_channel=by_channel,
                top=top,
                since=span.since,
                until=span.until,
                customer_ids=members,
            )
        else:
            raise HttpError(422, "kind must be churn or complaint")
    except path_analysis.PathQueryError as exc:
        raise HttpError(422, str(exc)) from exc
    return {
        "kind": report.kind,
        "steps": report.steps,
        "customers": report.customers,
        "paths": _paths(report.paths),
        "last_step": [{"step": s, "customers": n} for s, n in report.last_step],
        "anywhere": [{"step": s, "customers": n} for s, n in report.anywhere],
        "lifts": [asdict(r) for r in report.lifts],
        "others": report.others,
        "range": range_out(span),
    }
