"""REST routes for trends (mounted under /api/ by cxloop.api.rest): events and unique customers
over time, and funnel conversion per period."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from cxloop.analytics.walk import MAX_WINDOW_SECONDS
from cxloop.api.access import request_workspace
from cxloop.api.errors import BODY_ERRORS
from cxloop.api.params import ObjectIn
from cxloop.core.permissions import Capability
from cxloop.journeys.definitions import MAX_STEPS, DefinitionError, parse_rule
from cxloop.metrics import changes, trends
from cxloop.segments import trendsplit

router = Router(tags=["trends"])
Unit = Literal["hour", "day", "week", "month"]


class SeriesIn(ObjectIn):
    event: str = ""
    channel: str = ""
    conditions: list[dict[str, Any]] = []
    label: str = Field("", max_length=200)


class RangeIn(ObjectIn):
    date_from: date | None = Field(
        None, ge=trends.EARLIEST_DAY, le=trends.LATEST_DAY, description="default: 90 days to `to`"
    )
    date_to: date | None = Field(
        None, ge=trends.EARLIEST_DAY, le=trends.LATEST_DAY, description="default: the as-of day"
    )


class TrendIn(RangeIn):
    series: list[SeriesIn | str] = Field(..., min_length=1, max_length=trends.MAX_SERIES)
    by: Unit = "day"
    measure: Literal["events", "customers"] = "events"
    breakdown: str = Field(
        "",
        max_length=200,
        description="'', channel, property:<name>, trait:<name>, segment:<id> (members against "
        "the rest), segments:<id>,<id>… (a group per segment) or stage:<journey map id>",
    )
    top: int = Field(5, ge=1, le=trends.MAX_TOP, description="breakdown values kept")
    formulas: list[str] = Field(
        [], max_length=trends.MAX_FORMULAS, description="over series letters, e.g. B / A"
    )


class ConversionIn(RangeIn):
    steps: list[SeriesIn | str] = Field(..., min_length=2, max_length=MAX_STEPS)
    window_seconds: float | None = Field(
        7 * 86400, gt=0, le=MAX_WINDOW_SECONDS, description="null: no window"
    )
    by: Unit = "week"


class ChangeIn(RangeIn):
    event: SeriesIn | str
    alpha: float = Field(changes.ALPHA, gt=0, lt=1, description="significance level")


class LineOut(Schema):
    series: str
    label: str
    group: str | None
    events: list[int]
    customers: list[int]
    median_seconds: list[float | None] | None = Field(
        None, description="series $session_duration: median seconds per period"
    )
    mean_seconds: list[float | None] | None = Field(
        None, description="series $session_duration: mean seconds per period"
    )


class FormulaOut(Schema):
    formula: str
    group: str | None
    values: list[float | None]


class RangeOut(Schema):
    date_from: date
    date_to: date
    as_of: str
    as_of_reason: str


class TrendOut(Schema):
    by: str
    measure: str
    range: RangeOut
    periods: list[str]
    lines: list[LineOut]
    formulas: list[FormulaOut]


class PointOut(Schema):
    period: str
    entered: int
    converted: int
    rate: float | None
    low: float | None
    high: float | None
    complete: bool


class ConversionOut(Schema):
    by: str
    window_seconds: float | None
    range: RangeOut
    points: list[PointOut]


def _rules(raw: list, where: str) -> tuple[list, list[str], list[str]]:
    rules, labels, errors = [], [], []
    for index, item in enumerate(raw):
        data = {"event": item} if isinstance(item, str) else item.dict()
        labels.append(data.pop("label", "") or "")
        try:
            rules.append(parse_rule(data, f"{where}[{index}]"))
        except DefinitionError as exc:
            errors.extend(exc.errors)
    return rules, labels, errors


def range_out(span: trends.Range) -> dict:
    return {
        "date_from": span.first,
        "date_to": span.last,
        "as_of": span.as_of.isoformat(),
        "as_of_reason": span.as_of_reason,
    }


@router.post("/trends", response={200: TrendOut, **BODY_ERRORS}, summary="Trends over time")
def run_trend(request: HttpRequest, payload: TrendIn, workspace: str | None = None):
    """Events and unique customers per period for each series (an event name or
    ``{event, channel, conditions, label}``; series are lettered A, B, …), broken down by
    ``channel``, ``property:<name>``, a customer ``trait:<name>`` or the current
    ``stage:<journey map id>`` (the ``top`` values, the rest as group null = other), or saved
    segments: ``segment:<id>`` (members against "not in <name>") or ``segments:<id>,<id>…``
    (a group per segment, a customer in several counted in each); customers without a value are
    in "" (shown as "(none)"). Each group counts its events and its unique customers, with
    ``formulas`` between series in ``measure`` (a division by zero gives null).

    Session series (``analytics.sessions``, the workspace's session settings): ``$sessions``
    counts the sessions started per period (``customers``: who started one);
    ``$session_duration`` also gives their ``median_seconds`` and ``mean_seconds`` (a one-event
    session lasts 0 s; null where none started), and formulas read it as the median. Neither
    takes a channel, conditions or a breakdown."""
    ws = request_workspace(request, workspace, need=Capability.READ_ANALYTICS)
    series, labels, errors = _rules(payload.series, "series")
    if errors:
        return Status(422, {"detail": "invalid series", "errors": errors})
    try:
        report = trendsplit.trend_split_report(
            workspace=ws, series=series, labels=labels, unit=payload.by, measure=payload.measure,
            date_from=payload.date_from, date_to=payload.date_to, breakdown=payload.breakdown,
            top=payload.top, formulas=payload.formulas,
        )  # fmt: skip
    except trends.TrendQueryError as exc:
        return Status(422, {"detail": "invalid trend", "errors": [str(exc)]})
    return Status(
        200,
        {
            "by": report.unit,
            "measure": report.measure,
            "range": range_out(report.span),
            "periods": [trends.period_text(p, report.unit) for p in report.periods],
            "lines": [
                {
                    "series": line.key,
                    "label": line.label,
                    "group": line.group,
                    "events": line.events,
                    "customers": line.customers,
                    "median_seconds": line.median_seconds,
                    "mean_seconds": line.mean_seconds,
                }
                for line in report.lines
            ],
            "formulas": [
                {"formula": f.expression, "group": f.group, "values": f.values}
                for f in report.formulas
            ],
        },
    )


@router.post(
    "/trends/conversion",
    response={200: ConversionOut, **BODY_ERRORS},
    summary="Funnel conversion per period",
)
def run_conversion_trend(request: HttpRequest, payload: ConversionIn, workspace: str | None = None):
    """Per period: customers entering step 1 in it, of them those completing the last step within
    ``window_seconds`` of that start by the as-of time, and the rate (%) with its Wilson 95 %
    interval; ``complete`` is false while some start's window is still open."""
    ws = request_workspace(request, workspace, need=Capability.READ_ANALYTICS)
    steps, _, errors = _rules(payload.steps, "steps")
    if errors:
        return Status(422, {"detail": "invalid funnel steps", "errors": errors})
    window = None if payload.window_seconds is None else timedelta(seconds=payload.window_seconds)
    try:
        found = trends.conversion_trend(
            workspace=ws, steps=steps, window=window, unit=payload.by,
            date_from=payload.date_from, date_to=payload.date_to,
        )  # fmt: skip
    except trends.TrendQueryError as exc:
        return Status(422, {"detail": "invalid conversion trend", "errors": [str(exc)]})
    return Status(
        200,
        {
            "by": found.unit,
            "window_seconds": payload.window_seconds,
            "range": range_out(found.span),
            "points": [
                {
                    "period": trends.period_text(p.period, found.unit),
                    "entered": p.entered,
                    "converted": p.converted,
                    "rate": p.rate.value,
                    "low": p.rate.low,
                    "high": p.rate.high,
                    "complete": p.complete,
                }
                for p in found.points
            ],
        },
    )


class ChannelChangeOut(Schema):
    channel: str
    before: int
    after: int
    change_pct: float | None
    contribution: float
    p_value: float
    p_adjusted: float
    significant: bool


class ChangeOut(Schema):
    label: str
    range: RangeOut
    previous_from: date
    previous_to: date
    length_ratio: float
    before: int
    after: int
    change_pct: float | None
    p_value: float
    significant: bool
    channels: list[ChannelChangeOut]
    sentences: list[str]


@router.post(
    "/trends/changes",
    response={200: ChangeOut, **BODY_ERRORS},
    summary="What changed in an event's volume",
)
def run_volume_change(request: HttpRequest, payload: ChangeIn, workspace: str | None = None):
    """The count of ``event`` in the range (default: the last 28 days to the as-of time) against
    the previous period as many days long: an exact binomial test of the two counts (weighted by
    the periods' lengths), then per channel the same test with Holm-adjusted p-values and each
    channel's contribution to the change, and the result in plain sentences."""
    ws = request_workspace(request, workspace, need=Capability.READ_ANALYTICS)
    steps, labels, errors = _rules([payload.event], "event")
    if errors:
        return Status(422, {"detail": "invalid event", "errors": errors})
    try:
        found = changes.volume_change(
            workspace=ws, step=steps[0], label=labels[0] or steps[0].label(), date_from=payload.date_from,
            date_to=payload.date_to, alpha=payload.alpha,
        )  # fmt: skip
    except trends.TrendQueryError as exc:
        return Status(422, {"detail": "invalid change query", "errors": [str(exc)]})
    return Status(
        200,
        {
            "label": found.label,
            "range": range_out(found.span),
            "previous_from": found.previous_first,
            "previous_to": found.previous_last,
            "length_ratio": found.ratio,
            "before": found.before,
            "after": found.after,
            "change_pct": found.change_pct,
            "p_value": found.p_value,
            "significant": found.significant,
            "channels": [
                {
                    "channel": c.channel,
                    "before": c.before,
                    "after": c.after,
                    "change_pct": c.change_pct,
                    "contribution": c.contribution,
                    "p_value": c.p_value,
                    "p_adjusted": c.p_adjusted,
                    "significant": c.significant,
                }
                for c in found.channels
            ],
            "sentences": found.sentences,
        },
    )
