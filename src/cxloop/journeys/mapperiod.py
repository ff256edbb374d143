"""A journey map over a date range, and against the period before it.

Only the events in [since, until) are walked (``analytics.journeywalk``'s rules, through the
analytics engine): a stage's volume counts the customers with a matching event in the range,
conversion the share of them with a next-stage event after their first one *in the range*, and
the median time runs to that event. Per-touchpoint CSAT/NPS count the responses submitted in the
range. The stored map (``journey.metrics``, each customer's current stage) stays all-time.

The caller chooses the range (``metrics.trends.trend_range``: by default the last 90 days to
the as-of time) and the compared one (``metrics.funnelchange.change_periods``: as many days just
before); one selector (:func:`journey_map_period`) serves the page and the API.

Walking 90 days of events per view is slow at millions of events, so the journey job also keeps
the walk's metrics over the default range and the one before it (:func:`default_windows`,
``MapWindow``, written by ``services.journey_windows_store``). A period is read from there
when the map's definition is unchanged and the workspace's events are exactly as they were
when the job ran (no event stored since, no profile merged or unmerged since, and the range
holds the same events: equal ends, or none after the earlier end); otherwise it is walked live.
The page may also show a stored period the data has moved on from (``STALE_LABELLED``), saying
so (:class:`Stored`) while the job recomputes it. Touchpoint CSAT/NPS are always read live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cxloop.analytics import selectors as analytics_selectors
from cxloop.analytics.journeywalk import TouchpointRules
from cxloop.analytics.periods import day_span, default_days
from cxloop.core.models import Workspace
from cxloop.events import selectors as event_selectors
from cxloop.journeys import selectors
from cxloop.journeys._progress import definition_key, rewalk_top
from cxloop.journeys.models import JourneyMap, JourneyRewalk, MapWindow

NEVER, CURRENT, STALE_LABELLED = "never", "current", "stale-labelled"  # reading stored periods
NEW_EVENTS_READ = 10_000  # new events counted at most, for "N new events since"


@dataclass(frozen=True, slots=True)
class Stored:
    """Where a period read from the journey job's store stands against the data now."""

    computed_at: datetime
    new_events: int  # the workspace's events stored since (at least that many: see ``complete``)
    complete: bool  # False: more new events than counted
    rewalked: bool  # profiles merged or unmerged since

    @property
    def current(self) -> bool:
        return self.new_events == 0 and self.complete and not self.rewalked


@dataclass(frozen=True, slots=True)
class DataPosition:
    """What a stored period was computed from: the map's definition and the workspace's
    events (the highest event id anywhere, the highest re-walk entry, the latest event time)."""

    definition_key: str
    event_position: int
    rewalk_position: int
    latest_at: datetime | None


def data_position(*, journey: JourneyMap) -> DataPosition:
    """Where the map's definition and the workspace's events stand now."""
    workspace = journey.workspace
    return DataPosition(
        definition_key=definition_key(journey),
        event_position=event_selectors.event_max_id(),
        rewalk_position=rewalk_top(journey.workspace_id),
        latest_at=event_selectors.event_latest_at(workspace=workspace),
    )


def default_windows(
    *, workspace: Workspace, now: datetime | None = None
) -> list[tuple[datetime, datetime]]:
    """The map's default range (the last 90 days to the as-of time, as
    ``metrics.trends.trend_range``) and the as many days before it (as
    ``metrics.funnelchange.change_periods``), each as (since, until)."""
    as_of, _ = analytics_selectors.trend_as_of(workspace=workspace, now=now)
    first, last = default_days(as_of)
    days = timedelta(days=(last - first).days + 1)
    return [
        day_span(first, last, as_of),
        day_span(first - days, first - timedelta(days=1), as_of),
    ]


@dataclass(frozen=True, slots=True)
class PeriodMetrics:
    since: datetime
    until: datetime
    metrics: dict  # as ``journey.metrics``: customers, stages, touchpoints
    feedback: dict[int, dict]  # touchpoint id → responses, csat, nps
    stored: Stored | None = None  # read from the journey job's store (None: walked now)


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
    *, journey: JourneyMap, since: datetime, until: datetime, use_stored: str = CURRENT
) -> PeriodMetrics:
    """The map's metrics and touchpoint scores from the events and answers in [since, until):
    the stored ones when ``use_stored`` allows (see the module's docstring), else walked now."""
    found = None if use_stored == NEVER else _stored(journey, since, until, use_stored)
    metrics, stored = found if found is not None else (_walk(journey, since, until), None)
    feedback = selectors.touchpoint_feedback(journey=journey, since=since, until=until)
    return PeriodMetrics(since, until, metrics, feedback, stored)


def _stored(
    journey: JourneyMap, since: datetime, until: datetime, use_stored: str
) -> tuple[dict, Stored] | None:
    row = MapWindow.objects.filter(journey=journey, since=since).first()
    if row is None or row.definition_key != definition_key(journey):
        return None
    new_events, complete = event_selectors.events_count_after(
        workspace_id=journey.workspace_id, after_id=row.event_position, limit=NEW_EVENTS_READ
    )
    rewalked = JourneyRewalk.objects.filter(
        workspace_id=journey.workspace_id, pk__gt=row.rewalk_position
    ).exists()
    stored = Stored(row.computed_at, new_events, complete, rewalked)
    if stored.current:
        # the same events then and now: the ranges hold the same ones when no event lies
        # at or after the earlier end
        same = row.until == until or row.latest_at is None or row.latest_at < min(row.until, until)
        return (row.metrics, stored) if same else None
    if use_stored == STALE_LABELLED and row.until <= until:
        return row.metrics, stored
    return None


def stored_windows_current(*, journey: JourneyMap, now: datetime | None = None) -> bool:
    """Whether the map's stored default ranges are there and current (nothing to recompute)."""
    return all(
        _stored(journey, since, until, CURRENT) is not None
        for since, until in default_windows(workspace=journey.workspace, now=now)
    )


def _walk(journey: JourneyMap, since: datetime, until: datetime) -> dict:
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
    return metrics


def journey_map_period(
    *,
    journey: JourneyMap,
    since: datetime,
    until: datetime,
    previous: tuple[datetime, datetime] | None = None,
    use_stored: str = CURRENT,
) -> MapPeriod:
    """The map drawn from [since, until), each stage and touchpoint also carrying its metrics
    over ``previous`` (since, until) when given."""
    current = journey_period_metrics(
        journey=journey, since=since, until=until, use_stored=use_stored
    )
    before = (
        journey_period_metrics(
            journey=journey, since=previous[0], until=previous[1], use_stored=use_stored
        )
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
