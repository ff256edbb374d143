"""NPS, CSAT and CES counts from the daily rollup (``feedback.ScoreDay``) instead of the raw rows.

The rollup holds, per survey, UTC day and channel, what :func:`cxloop.metrics.selectors._counts`
would count from ``feedback_response``: n, promoters and detractors, CSAT's satisfied answers at
the survey's own top box, the sum and the sum of squares of the scores. So it answers exactly
(the same estimates, the same intervals) whenever the query needs nothing finer:

* the window starts and ends at UTC midnight (the dashboard's and the API's ``from``/``to``
  always do) or is open;
* filters by survey and channel only; a split by channel or survey, or none;
* periods by day, ISO week or month (the day column truncated in SQL, as the raw query
  truncates ``submitted_at``).

A touchpoint or trait filter, a segment (``customer_ids``), a CSAT top box other than each
survey's own, a touchpoint or trait split, and the response rate read the raw rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.db.models import F, Sum

from cxloop.analytics.periods import Granularity, PeriodStart
from cxloop.core.models import Workspace
from cxloop.feedback import selectors as feedback_selectors
from cxloop.metrics.definitions import MetricName
from cxloop.metrics.filters import ResponseFilters

SPLITS = (None, "channel", "survey")
_SUMS = {  # the raw query's (n, a, b) for each metric, as rollup columns
    MetricName.NPS: {"n": "n", "a": "promoters", "b": "detractors"},
    MetricName.CSAT: {"n": "n", "a": "satisfied"},
    MetricName.CES: {"n": "n", "a": "total", "b": "total_sq"},
}


def _midnight(value: datetime | None) -> bool:
    if value is None:
        return True
    if value.tzinfo is None:
        return False
    return value.astimezone(UTC).time() == time.min


def rollup_answers(metric: MetricName, filters: ResponseFilters, split: str | None) -> bool:
    """Whether the rollup gives this query's exact counts (see the module's docstring)."""
    return (
        metric in _SUMS
        and split in SPLITS
        and not filters.touchpoint
        and filters.trait is None
        and filters.customer_ids is None
        and (metric is not MetricName.CSAT or filters.csat_top_box is None)
        and _midnight(filters.start)
        and _midnight(filters.end)
    )


def rollup_counts(
    *,
    workspace: Workspace,
    metric: MetricName,
    filters: ResponseFilters,
    by: Granularity | None,
    split: str | None,
    period_key: str,
    group_key: str,
) -> list[dict]:
    """Aggregate rows shaped like the raw ``_counts``: ``n``, ``a`` (``b``) and, when grouped,
    ``period_key``/``group_key``; one ``GROUP BY`` (period, group) over the rollup."""
    rows = feedback_selectors.score_days(workspace=workspace, metric=metric.value)
    if filters.start is not None:
        rows = rows.filter(day__gte=filters.start.astimezone(UTC).date())
    if filters.end is not None:
        rows = rows.filter(day__lt=filters.end.astimezone(UTC).date())
    if filters.survey_id is not None:
        rows = rows.filter(survey_id=filters.survey_id)
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    columns = _SUMS[metric]
    sums = {key: Sum(column) for key, column in columns.items()}
    keys = []
    if by is not None:
        rows = rows.annotate(**{period_key: PeriodStart("day", by)})
        keys.append(period_key)
    if split is not None:
        rows = rows.annotate(**{group_key: F("survey_id" if split == "survey" else split)})
        keys.append(group_key)
    if not keys:
        total = rows.aggregate(**sums)
        return [{key: total[key] or 0 for key in columns}]
    return list(rows.values(*keys).annotate(**sums).order_by(*keys))
