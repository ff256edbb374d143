"""A journey map over a date range, and against the period before it.

Only the events in [since, until) are walked (``analytics.journeywalk``'s rules, through the
analytics engine): a stage's volume counts the customers with a matching event in the range,
conversion the share of them with a next-stage event after their first one *in the range*, and
the median time runs to that event. Per-touchpoint CSAT/NPS count the responses submitted in the
range. The stored map (``journey.metrics``, each customer's current stage) stays all-time.

The caller chooses the range (``metrics.trends.trend_range``: by default the last 90 days to
the as-of time) and the compared one (``metrics.funnelchange.change_periods``: as many days just
before); one selector (:func:`journey_map_period`) serves the page and the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cxloop.analytics import selectors as analytics_selectors
from cxloop.analytics.journeywalk import TouchpointRules
from cxloop.journeys import selectors
from cxloop.journeys.models import JourneyMap


@dataclass(frozen=True, slots=True)
class PeriodMetrics:
    since: datetime
    until: datetime
    metrics: dict  # as ``journey.metrics``: customers, stages, touchpoints
    feedback: dict[int, dict]  # touchpoint id → responses, csat, nps


@dataclass(slots=True)
class MapPeriod:
    current: PeriodMetrics
    previous: PeriodMetrics | None
    stages: list[selectors.StageView]  # the current period's, each with ``previous`` filled

    @property
    def customers(self) -> int:
        return int(self.current.metrics.get("customers") or 0)

    @property
    def previous_customers(self) -> int | None:
        if self.previous is None:
            return None
        return int(self.previous.metrics.get("customers") or 0)


def journey_period_metrics(
    *, journey: JourneyMap, since: datetime, until: datetime
) -> PeriodMetrics:
    """The map's metrics and touchpoint scores from the events and answers in [since, until)."""
    touchpoints = [
        TouchpointRules(key=str(tp.pk), stage=tp.stage.position, rules=tuple(rules))
        for tp, rules in selectors.journey_rules(journey=journey)
    ]
    stages = journey.stages.count()
    if stages and touchpoints:
        metrics = analytics_selectors.journey_walk(
            workspace=journey.workspace, stages=stages, touchpoints=touchpoints,
            since=since, until=until, metrics_only=True,
        ).metrics  # fmt: skip
    else:
        metrics = {"customers": 0, "stages": [], "touchpoints": {}}
    feedback = selectors.touchpoint_feedback(journey=journey, since=since, until=until)
    return PeriodMetrics(since, until, metrics, feedback)


def journey_map_period(
    *,
    journey: JourneyMap,
    since: datetime,
    until: datetime,
    previous: tuple[datetime, datetime] | None = None,
) -> MapPeriod:
    """The map drawn from [since, until), each stage and touchpoint also carrying its metrics
    over ``previous`` (since, until) when given."""
    current = journey_period_metrics(journey=journey, since=since, until=until)
    before = (
        journey_period_metrics(journey=journey, since=previous[0], until=previous[1])
        if previous is not None
        else None
    )
    stages = selectors.journey_map(
        journey=journey, metrics=current.metrics, feedback=current.feedback
    )
    if before is not None:
        old_stages = before.metrics.get("stages", [])
        old_touchpoints = before.metrics.get("touchpoints", {})
        for view in stages:
            position = view.stage.position
            view.previous = old_stages[position] if position < len(old_stages) else {}
            for tp in view.touchpoints:
                tp.previous = old_touchpoints.get(str(tp.touchpoint.pk), {})
                tp.previous_feedback = before.feedback.get(tp.touchpoint.pk, {})
    return MapPeriod(current=current, previous=before, stages=stages)
