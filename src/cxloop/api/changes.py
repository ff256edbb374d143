"""REST routes for "what changed" in a funnel's conversion and in NPS (mounted under /api/ by
cxloop.api.rest; an event's volume is ``/api/trends/changes`` in cxloop.api.trends). Each calls
the selector its page calls."""

from __future__ import annotations

from datetime import date, timedelta

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from cxloop.analytics.walk import MAX_WINDOW_SECONDS
from cxloop.api.access import request_workspace
from cxloop.api.errors import BODY_ERRORS
from cxloop.api.trends import RangeIn, RangeOut, SeriesIn, _rules, range_out
from cxloop.core.permissions import Capability
from cxloop.journeys.definitions import MAX_STEPS
from cxloop.metrics import changes, funnelchange, npschange, trends
from cxloop.segments import selectors as segment_selectors

router = Router(tags=["trends"])


class CompareIn(RangeIn):
    compare_from: date | None = Field(
        None, ge=trends.EARLIEST_DAY, le=trends.LATEST_DAY,
        description="the compared range's first day (default: as many days just before)",
    )  # fmt: skip
    compare_to: date | None = Field(None, ge=trends.EARLIEST_DAY, le=trends.LATEST_DAY)
    trait: str = Field("", max_length=64, description="a customer trait to split by, e.g. tier")
    alpha: float = Field(changes.ALPHA, gt=0, lt=1, description="significance level")


class FunnelChangeIn(CompareIn):
    steps: list[SeriesIn | str] = Field(..., min_length=2, max_length=MAX_STEPS)
    window_seconds: float | None = Field(
        7 * 86400, gt=0, le=MAX_WINDOW_SECONDS, description="null: no window"
    )


class NpsChangeIn(CompareIn):
    survey_id: int | None = Field(None, ge=1, description="null: every survey")
    segments: bool = Field(True, description="also split by saved segments")


class PeriodsOut(Schema):
    range: RangeOut
    compare_from: date
    compare_to: date
    chosen: bool


class FunnelGroupOut(Schema):
    dimension: str
    label: str
    before_entered: int
    before_converted: int
    after_entered: int
    after_converted: int
    before_rate: float | None
    after_rate: float | None
    others_rate: float | None
    contribution: float
    rate_effect: float | None
    mix_effect: float | None
    p_value: float | None
    p_adjusted: float | None
    significant: bool
    new_since: date | None


class FunnelChangeOut(Schema):
    label: str
    periods: PeriodsOut
    before_entered: int
    before_converted: int
    after_entered: int
    after_converted: int
    before_rate: float | None
    after_rate: float | None
    change: float | None
    p_value: float | None
    test: str
    significant: bool
    tested: int
    groups: list[FunnelGroupOut]
    sentences: list[str]


class ScoreOut(Schema):
    value: float | None
    low: float | None
    high: float | None
    n: int


class NpsGroupOut(Schema):
    dimension: str
    label: str
    before: ScoreOut
    after: ScoreOut
    contribution: float | None
    score_effect: float | None
    mix_effect: float | None
    p_value: float | None
    p_adjusted: float | None
    significant: bool


class NpsChangeOut(Schema):
    label: str
    periods: PeriodsOut
    before: ScoreOut
    after: ScoreOut
    difference: float | None
    low: float | None
    high: float | None
    p_value: float | None
    significant: bool
    tested: int
    groups: list[NpsGroupOut]
    sentences: list[str]


def _periods(periods: funnelchange.Periods) -> dict:
    return {
        "range": range_out(periods.current),
        "compare_from": periods.previous.first,
        "compare_to": periods.previous.last,
        "chosen": periods.chosen,
    }


def _fields(
    found: object, schema: type[Schema], skip: frozenset[str] | set[str] = frozenset()
) -> dict:
    """The attributes of ``found`` that ``schema`` lists (those in ``skip`` filled by hand)."""
    return {name: getattr(found, name) for name in schema.model_fields if name not in skip}


def _score(estimate) -> dict:
    return {"value": estimate.value, "low": estimate.low, "high": estimate.high, "n": estimate.n}


@router.post(
    "/trends/changes/funnel",
    response={200: FunnelChangeOut, **BODY_ERRORS},
    summary="What changed in a funnel's conversion",
)
def run_funnel_change(request: HttpRequest, payload: FunnelChangeIn, workspace: str | None = None):
    """Conversion from the first step to the last (customers entering in the range, default the
    last 28 days to the as-of time) against the compared range (default: as many days just
    before): a two-proportion test, then groups by channel, by ``trait`` and by event presence
    (customers who did an event between entering and the end of their window), each with its
    contribution in points and a Holm-adjusted p-value; the result in plain sentences."""
    ws = request_workspace(request, workspace, need=Capability.READ_ANALYTICS)
    steps, _, errors = _rules(payload.steps, "steps")
    if errors:
        return Status(422, {"detail": "invalid funnel steps", "errors": errors})
    window = None if payload.window_seconds is None else timedelta(seconds=payload.window_seconds)
    try:
        found = funnelchange.funnel_change(
            workspace=ws, steps=steps, window=window, trait=payload.trait,
            date_from=payload.date_from, date_to=payload.date_to,
            compare_from=payload.compare_from, compare_to=payload.compare_to, alpha=payload.alpha,
        )  # fmt: skip
    except trends.TrendQueryError as exc:
        return Status(422, {"detail": "invalid change query", "errors": [str(exc)]})
    out = _fields(found, FunnelChangeOut, skip={"periods", "groups"})
    out["periods"] = _periods(found.periods)
    out["groups"] = [_fields(g, FunnelGroupOut) for g in found.groups]
    return Status(200, out)


@router.post(
    "/trends/changes/nps",
    response={200: NpsChangeOut, **BODY_ERRORS},
    summary="What changed in NPS",
)
def run_nps_change(request: HttpRequest, payload: NpsChangeIn, workspace: str | None = None):
    """NPS (of ``survey_id``, or every survey) in the range against the compared range: the
    difference with its 95 % interval and adjusted-Wald test, then groups by channel, by
    ``trait`` and by saved segment, each with its contribution in points and a Holm-adjusted
    p-value; the result in plain sentences."""
    ws = request_workspace(request, workspace, need=Capability.READ_ANALYTICS)
    segments = segment_selectors.segment_groups(workspace=ws) if payload.segments else None
    try:
        found = npschange.nps_change(
            workspace=ws, survey_id=payload.survey_id, trait=payload.trait, segments=segments,
            date_from=payload.date_from, date_to=payload.date_to,
            compare_from=payload.compare_from, compare_to=payload.compare_to, alpha=payload.alpha,
        )  # fmt: skip
    except trends.TrendQueryError as exc:
        return Status(422, {"detail": "invalid change query", "errors": [str(exc)]})
    out = _fields(found, NpsChangeOut, skip={"periods", "groups", "before", "after"})
    out.update(periods=_periods(found.periods), before=_score(found.before))
    out["after"] = _score(found.after)
    out["groups"] = []
    for group in found.groups:
        row = _fields(group, NpsGroupOut, skip={"before", "after"})
        row.update(before=_score(group.before), after=_score(group.after))
        out["groups"].append(row)
    return Status(200, out)
