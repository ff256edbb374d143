"""Churn and retention from events: active customers per period, and monthly cohorts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Max, Min

from cxloop.analytics import selectors as analytics_selectors
from cxloop.core.models import Workspace
from cxloop.events import selectors as event_selectors
from cxloop.metrics import definitions as d
from cxloop.metrics.definitions import Estimate
from cxloop.metrics.filters import (
    Granularity,
)

if TYPE_CHECKING:
    pass
from cxloop.analytics.periods import period_floor, period_next


@dataclass(frozen=True, slots=True)
class RetentionRow:
    """Customers active in ``period``; of them, how many were active again in the next period."""

    period: date
    active: int
    retained: int
    churned: int
    retention: Estimate
    churn: Estimate


@dataclass(frozen=True, slots=True)
class Cohort:
    """Customers first seen in ``start``; ``rates[k]`` = % of them active k periods later."""

    start: date
    size: int
    rates: list[float] = field(default_factory=list)


def _window(
    start: datetime, end: datetime, by: Granularity, now: datetime | None
) -> tuple[date, date]:
    """Whole periods: from the one holding ``start`` up to the last one complete by end/now."""
    now = now or datetime.now(UTC)
    first = period_floor(start, by)
    limit = min(end, now).astimezone(UTC).date()
    return first, limit


def retention_by_period(
    *,
    workspace: Workspace,
    start: datetime,
    end: datetime,
    by: Granularity = Granularity.MONTH,
    now: datetime | None = None,
) -> list[RetentionRow]:
    """Churn and retention per period from events.

    A customer is *active* in a period when they have any event in it. Of those active in period
    P, the *churned* are not active in P+1, the *retained* are. A period is reported only once
    P+1 is over (before ``end`` and ``now``), so a month in progress never looks like churn.
    """
    by = Granularity(by)
    first, limit = _window(start, end, by, now)
    counts = analytics_selectors.retention_counts(
        workspace=workspace, by=by, first=first, limit=limit
    )
    result = []
    period = first
    while period_next(period_next(period, by), by) <= limit:
        active, retained = counts.get(period, (0, 0))
        churned = active - retained
        result.append(
            RetentionRow(
                period=period,
                active=active,
                retained=retained,
                churned=churned,
                retention=d.retention_rate(retained=retained, active=active),
                churn=d.churn_rate(churned=churned, active=active),
            )
        )
        period = period_next(period, by)
    return result


def cohort_retention(
    *,
    workspace: Workspace,
    start: datetime,
    end: datetime,
    by: Granularity = Granularity.MONTH,
    max_offset: int = 12,
    now: datetime | None = None,
) -> list[Cohort]:
    """Cohort retention: customers by the period of their first event ever, then the % of each
    cohort active 0, 1, 2, … periods later (0 is always 100%), for periods that are over."""
    by = Granularity(by)
    first, limit = _window(start, end, by, now)
    sizes, active = analytics_selectors.cohort_counts(
        workspace=workspace, by=by, first=first, limit=limit
    )
    cohorts = []
    for cohort in sorted(sizes):
        # cohort < limit first: the period after one near the calendar's end does not exist
        if not (first <= cohort < limit and period_next(cohort, by) <= limit):
            continue
        rates: list[float] = []
        period = cohort
        while period_next(period, by) <= limit and len(rates) <= max_offset:
            rates.append(100 * active.get((cohort, period), 0) / sizes[cohort])
            period = period_next(period, by)
        cohorts.append(Cohort(start=cohort, size=sizes[cohort], rates=rates))
    return cohorts


COHORT_HORIZON = 12  # months of cohorts the dashboard shows unless asked for another number
COHORT_HORIZON_MAX = 60


def horizon_start(end: datetime, months: int) -> datetime:
    """The first moment of the month ``months`` months before the month holding ``end``."""
    end = end.astimezone(UTC)
    index = end.year * 12 + end.month - 1 - months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def cohort_note(
    *,
    workspace: Workspace,
    start: datetime,
    end: datetime,
    by: Granularity = Granularity.MONTH,
    now: datetime | None = None,
) -> str:
    """Why a cohort table over [start, end) is empty, in words ('' when it has a cohort): no
    events yet, a range before the first event, or customers all first seen outside the range."""
    by = Granularity(by)
    first, limit = _window(start, end, by, now)
    span = event_selectors.workspace_events(workspace=workspace).aggregate(
        earliest=Min("occurred_at"), latest=Max("occurred_at")
    )
    earliest, latest = span["earliest"], span["latest"]
    if earliest is None:
        return "No events yet: cohorts appear once customers have been seen."
    if cohort_retention(workspace=workspace, start=start, end=end, by=by, now=now, max_offset=0):
        return ""
    last_day = limit - timedelta(days=1)
    shown = f"{first:%d %b %Y} – {last_day:%d %b %Y}"
    if earliest.astimezone(UTC).date() >= limit:
        return (
            f"No cohorts in {shown}: the first event is from {earliest:%d %b %Y}. "
            "Choose a later end date."
        )
    if latest.astimezone(UTC).date() < first:
        return (
            f"No cohorts in {shown}: the latest event is from {latest:%d %b %Y}, so every "
            "cohort is outside the chosen range. Choose an earlier end date or a longer horizon."
        )
    return (
        f"No customer was first seen in a complete {by.value} of {shown}: their cohorts start "
        "outside the chosen range. Choose a longer horizon or a later end date."
    )
