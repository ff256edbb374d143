"""REST routes for metrics (mounted under /api/ by cxloop.api.rest).

``GET /api/metrics`` answers any metric (NPS, CSAT, CES, response rate) with its 95% interval,
by day/week/month and/or split by channel, touchpoint, survey or a customer trait, filtered like
the dashboard. Bad parameters answer 422 with ``detail`` starting with the parameter's name.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from cxloop.api.access import may, request_workspace
from cxloop.api.errors import ERRORS
from cxloop.api.params import limit_param
from cxloop.core import pii
from cxloop.core.models import Workspace
from cxloop.core.permissions import Capability
from cxloop.metrics import selectors as metric_selectors
from cxloop.metrics.definitions import HOLM, Comparison, Estimate, MetricName, comparisons_tested
from cxloop.metrics.filters import FilterError, Granularity, MetricQuery, parse_query

router = Router(tags=["metrics"])


class EstimateOut(Schema):
    value: float | None
    se: float | None
    low: float | None
    high: float | None
    moe: float | None
    n: int
    too_few: bool
    method: str


class RowOut(EstimateOut):
    period: date | None
    group: str | None
    label: str | None


class MetricsOut(Schema):
    metric: str
    by: str | None
    split: str | None
    date_from: date
    date_to: date
    total: EstimateOut
    rows: list[RowOut]


class ComparisonOut(Schema):
    difference: float | None
    se: float | None
    z: float | None
    p_value: float | None
    p_adjusted: float | None = Field(
        None, description="p after Holm's correction, where one table tests many groups"
    )
    significant: bool
    verdict: str
    test: str = Field("", description="pooled z, fisher exact, adjusted-wald z or welch t")


class HeadlineOut(Schema):
    metric: str
    current: EstimateOut
    previous: EstimateOut | None
    change: ComparisonOut | None


class GroupOut(Schema):
    group: str | None
    label: str | None
    estimate: EstimateOut
    rest: EstimateOut
    change: ComparisonOut


class GroupsOut(Schema):
    metric: str
    split: str
    date_from: date
    date_to: date
    adjustment: str
    comparisons: int
    groups: list[GroupOut]


class SummaryOut(Schema):
    date_from: date
    date_to: date
    headlines: list[HeadlineOut]


class RetentionRowOut(Schema):
    period: date
    active: int
    retained: int
    churned: int
    retention: EstimateOut
    churn: EstimateOut


class CohortOut(Schema):
    start: date
    size: int
    rates: list[float]


class RetentionOut(Schema):
    by: str
    periods: list[RetentionRowOut]
    cohorts: list[CohortOut]
    cohort_note: str = ""  # why there is no cohort in the range, in words ('' when there is)


class CommentOut(Schema):
    id: int
    submitted_at: str
    comment: str
    survey: str
    customer_id: int | None
    customer_name: str
    channel: str
    touchpoint: str
    nps_score: int | None
    csat_score: int | None
    ces_score: int | None


class MetricParams(Schema):
    """Filters shared by every metrics route (all optional)."""

    date_from: str = Query("", alias="from", description="First day, YYYY-MM-DD, 1900-01-01 to 2200-12-31 (default: 90 days before `to`)")  # fmt: skip
    date_to: str = Query("", alias="to", description="Last day, inclusive, YYYY-MM-DD, 1900-01-01 to 2200-12-31 (default: today, UTC)")  # fmt: skip
    survey: str = Query("", description="Survey id")
    channel: str = Query("", description="Only responses about this channel")
    touchpoint: str = Query("", description="Only responses about this touchpoint")
    trait: str = Query("", description="Customer trait filter, key=value (e.g. plan=pro)")
    top_box: str = Query("", description="CSAT: lowest satisfied answer (default: the survey's)")
    workspace: str = Query("", description="Workspace slug (default: your first)")


def _query(workspace: Workspace, params: MetricParams, **extra: str) -> MetricQuery:
    raw = {
        "from": params.date_from,
        "to": params.date_to,
        "survey": params.survey,
        "channel": params.channel,
        "touchpoint": params.touchpoint,
        "trait": params.trait,
        "top_box": params.top_box,
        **extra,
    }
    try:
        query = parse_query(raw)
        metric_selectors.metric_query_check(workspace=workspace, query=query)
    except FilterError as error:
        raise HttpError(422, str(error)) from None
    return query


def _estimate(estimate: Estimate) -> dict:
    return estimate.as_dict()


def _comparison(change: Comparison | None) -> dict | None:
    return change.as_dict() if change is not None else None


@router.get("/metrics", response={200: MetricsOut, **ERRORS}, summary="Metric with 95% intervals")
def metrics_query(
    request: HttpRequest,
    params: Query[MetricParams],
    metric: str = Query("nps", description="nps, csat, ces or response_rate"),
    by: str = Query("week", description="day, week, month, or none for one total"),
    split: str = Query("", description="channel, touchpoint, survey, or trait:<key>"),
):
    """One metric per period and/or group, each with n, SE, 95% interval and a too-few flag.

    NPS in points; CSAT and response rate in %; CES the mean on 1–7. Periods are UTC days, ISO
    weeks (Monday) or months, named by their first day.
    """
    workspace = request_workspace(request, params.workspace, need=Capability.READ_ANALYTICS)
    query = _query(workspace, params, metric=metric, by=by, split=split)
    rows = metric_selectors.metric_rows(
        workspace=workspace,
        metric=query.metric,
        filters=query.filters,
        by=query.by,
        split=query.split,
    )
    total = metric_selectors.metric_rows(
        workspace=workspace, metric=query.metric, filters=query.filters
    )[0].estimate
    return {
        "metric": query.metric.value,
        "by": query.by.value if query.by else None,
        "split": query.split,
        "date_from": query.date_from,
        "date_to": query.date_to,
        "total": _estimate(total),
        "rows": [
            {"period": r.period, "group": r.group, "label": r.label, **_estimate(r.estimate)}
            for r in rows
        ],
    }


@router.get(
    "/metrics/summary",
    response={200: SummaryOut, **ERRORS},
    summary="Headline metrics vs the period before",
)
def metrics_summary(request: HttpRequest, params: Query[MetricParams]):
    """NPS, CSAT, CES and response rate for the window and for the equally long window before it,
    with a two-sided test of the change ("significant at 95%" or not; ``test`` names it)."""
    workspace = request_workspace(request, params.workspace, need=Capability.READ_ANALYTICS)
    query = _query(workspace, params)
    headlines = []
    for metric in MetricName:
        headline = metric_selectors.metric_headline(
            workspace=workspace, metric=metric, filters=query.filters
        )
        headlines.append(
            {
                "metric": metric.value,
                "current": _estimate(headline.current),
                "previous": _estimate(headline.previous) if headline.previous else None,
                "change": _comparison(headline.change),
            }
        )
    return {"date_from": query.date_from, "date_to": query.date_to, "headlines": headlines}


@router.get(
    "/metrics/retention",
    response={200: RetentionOut, **ERRORS},
    summary="Churn, retention, cohorts",
)
def metrics_retention(
    request: HttpRequest,
    params: Query[MetricParams],
    by: str = Query("month", description="week or month"),
    horizon: int = Query(
        metric_selectors.COHORT_HORIZON,
        ge=1,
        le=metric_selectors.COHORT_HORIZON_MAX,
        description="cohort periods after the first one to report",
    ),
):
    """From events: per period, customers active, retained (active again in the next period) and
    churned (not), with rates and 95% intervals; and the cohort retention table (cohort = period
    of a customer's first event; rates[k] = % of the cohort active k periods later)."""
    workspace = request_workspace(request, params.workspace, need=Capability.READ_ANALYTICS)
    query = _query(workspace, params)
    if by not in (Granularity.WEEK, Granularity.MONTH):
        raise HttpError(422, f"by: expected week or month, got {by!r}")
    granularity = Granularity(by)
    start, end = query.filters.start, query.filters.end
    if start is None or end is None:  # parse_query always sets both (from/to have defaults)
        raise HttpError(422, "from, to: a date window is needed")
    periods = metric_selectors.retention_by_period(
        workspace=workspace, start=start, end=end, by=granularity
    )
    cohorts = metric_selectors.cohort_retention(
        workspace=workspace, start=start, end=end, by=granularity, max_offset=horizon
    )
    note = (
        ""
        if cohorts
        else metric_selectors.cohort_note(workspace=workspace, start=start, end=end, by=granularity)
    )
    return {
        "by": granularity.value,
        "periods": [
            {
                "period": row.period,
                "active": row.active,
                "retained": row.retained,
                "churned": row.churned,
                "retention": _estimate(row.retention),
                "churn": _estimate(row.churn),
            }
            for row in periods
        ],
        "cohorts": [{"start": c.start, "size": c.size, "rates": c.rates} for c in cohorts],
        "cohort_note": note,
    }


@router.get(
    "/metrics/comments", response={200: list[CommentOut], **ERRORS}, summary="Latest comments"
)
def metrics_comments(
    request: HttpRequest, params: Query[MetricParams], limit: int = limit_param(50)
):
    """Completed responses with a comment, newest first, filtered like the metrics."""
    workspace = request_workspace(request, params.workspace, need=Capability.READ_FEEDBACK)
    query = _query(workspace, params)
    comments = metric_selectors.comments_list(
        workspace=workspace, filters=query.filters, limit=limit
    )
    redact = not may(request, workspace, Capability.READ_PII)
    return [
        {
            **asdict(c),
            "comment": pii.redact_text(c.comment) if redact else c.comment,
            "submitted_at": c.submitted_at.isoformat(),
        }
        for c in comments
    ]


@router.get(
    "/metrics/groups", response={200: GroupsOut, **ERRORS}, summary="Each group against the rest"
)
def metrics_groups(
    request: HttpRequest,
    params: Query[MetricParams],
    metric: str = Query("nps", description="nps, csat, ces or response_rate"),
    split: str = Query("channel", description="channel, touchpoint, survey, or trait:<key>"),
):
    """The dashboard's breakdown: each group of ``split`` tested against all the other groups
    together, largest first. The table tests every group, so ``p_adjusted`` is Holm-corrected
    for ``comparisons`` tests and ``significant`` reads it; ``p_value`` is the test alone."""
    workspace = request_workspace(request, params.workspace, need=Capability.READ_ANALYTICS)
    query = _query(workspace, params, metric=metric, by="none", split=split or "channel")
    chosen = query.split or "channel"
    groups = metric_selectors.metric_groups_vs_rest(
        workspace=workspace, metric=query.metric, filters=query.filters, split=chosen
    )
    return {
        "metric": query.metric.value,
        "split": chosen,
        "date_from": query.date_from,
        "date_to": query.date_to,
        "adjustment": HOLM,
        "comparisons": comparisons_tested([g.change for g in groups]),
        "groups": [
            {
                "group": g.row.group,
                "label": g.row.label,
                "estimate": _estimate(g.row.estimate),
                "rest": _estimate(g.rest),
                "change": _comparison(g.change),
            }
            for g in groups
        ],
    }
