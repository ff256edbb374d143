"""Churn and retention from events: active customers per period, and monthly cohorts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from cxloop.analytics import selectors as analytics_selectors
from cxloop.core.models import Workspace
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
