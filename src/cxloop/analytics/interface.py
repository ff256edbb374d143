"""The analytics engine interface: every behavioural question a page or the API asks.

Its implementations: ``analytics.engine.ClickHouseEngine`` (the engine's own store, embedded or a
server) and ``analytics.sqlengine.SqlEngine`` (the system of record, the reference). Which one a
process uses is ``analytics.selectors.current_engine``.
"""

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from cxloop.analytics.before import BeforeQuery, LastSteps
from cxloop.analytics.behaviour import BehaviourCounts, BehaviourVectors
from cxloop.analytics.correlation import (
    MAX_PROPERTY_VALUES,
    FunnelCorrelation,
    FunnelWhy,
    PropertyCounts,
)
from cxloop.analytics.journeywalk import JourneyResult, TouchpointRules
from cxloop.analytics.pathwalk import PathCounts
from cxloop.analytics.periods import Granularity
from cxloop.analytics.sessions import SessionPeriod, SessionRules
from cxloop.analytics.steps import ORDERED, EventTest, Exclusion, Step, StepCondition
from cxloop.analytics.trendwalk import CustomerGroups, TrendCounts
from cxloop.analytics.walk import FunnelRun, FunnelSummary


class AnalyticsEngine(Protocol):
    """The behavioural queries every page and API route asks, answered the same by each
    implementation (``tests/test_analytics_engine.py`` runs one suite on all of them)."""

    kind: str
    label: str

    def event_names(self, *, workspace_id: int, limit: int) -> list[tuple[str, int]]:
        """Event names (not '') with their counts, most frequent first, then by name."""
        ...

    def step_names(self, *, workspace_id: int, limit: int) -> list[str]:
        """Names of track/page/screen events (path steps), alphabetically."""
        ...

    def event_first_seen(self, *, workspace_id: int, names: Sequence[str]) -> dict[str, datetime]:
        """When each of ``names`` first happened in the workspace (aware UTC; names never seen
        are left out): how "new since" is told."""
        ...

    def funnel(
        self,
        *,
        workspace_id: int,
        steps: Sequence[Step],
        window: timedelta | None,
        only: set[int] | None = None,
        mode: str = ORDERED,
        exclusions: Sequence[Exclusion] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        sample: int | None = None,
    ) -> FunnelRun:
        """How far each customer gets through ``steps`` (``analytics.walk``'s rules), counting
        only events in [``since``, ``until``) when given (the same for the funnel's summary and
        correlation). ``sample``: only the units of ``analytics.sampling``'s sample of that rate
        (the same for the correlations)."""
        ...

    def funnel_summary(
        self,
        *,
        workspace_id: int,
        steps: Sequence[Step],
        window: timedelta | None,
        only: set[int] | None = None,
        latest: int = 20,
        mode: str = ORDERED,
        exclusions: Sequence[Exclusion] = (),
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> FunnelSummary:
        """The funnel's counts, step medians, counts by start channel and latest drop-offs."""
        ...

    def funnel_correlation(
        self,
        *,
        workspace_id: int,
        steps: Sequence[Step],
        window: timedelta | None,
        only: set[int] | None = None,
        mode: str = ORDERED,
        exclusions: Sequence[Exclusion] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        sample: int | None = None,
    ) -> FunnelCorrelation:
        """Per event name, the converted and dropped customers of the funnel who did it within
        their window (``analytics.correlation``'s rules), in one query."""
        ...

    def path_counts(
        self,
        *,
        workspace_id: int,
        start: str,
        end: str,
        max_steps: int,
        within: timedelta | None,
        by_channel: bool,
        since: datetime | None,
        until: datetime | None,
        customer_ids: Iterable[Any] | None,
        top: int,
    ) -> PathCounts:
        """The top paths from ``start`` to ``end`` (``analytics.pathwalk.path_between``'s
        rules) and how many customers started and completed one."""
        ...

    def journey_walk(
        self,
        *,
        workspace_id: int,
        stages: int,
        touchpoints: Sequence[TouchpointRules],
        since: datetime | None = None,
        until: datetime | None = None,
        metrics_only: bool = False,
    ) -> JourneyResult:
        """A journey map's metrics and each customer's furthest stage
        (``analytics.journeywalk``'s rules), from the events in [since, until) when given;
        ``metrics_only``: the metrics alone (``current`` may then be left empty)."""
        ...

    def customers_with_event(
        self,
        *,
        workspace_id: int,
        event: str,
        channel: str = "",
        since: datetime | None = None,
        min_count: int = 1,
        conditions: Sequence[StepCondition] = (),
        until: datetime | None = None,
        among: Sequence[int] | None = None,
    ) -> Any:
        """The customers with at least ``min_count`` events named ``event`` (on ``channel``,
        in [``since``, ``until``), meeting every property condition; only ``among`` when
        given, e.g. a page's customers): anything ``pk__in=``
        takes (a subquery or a list of ids)."""
        ...

    def customers_with_events(
        self, *, workspace_id: int, tests: Sequence[EventTest], among: Sequence[int] | None = None
    ) -> list[Any]:
        """For each test, :meth:`customers_with_event`'s answer (what ``pk__in=`` takes), all
        from one pass over the events where the engine allows."""
        ...

    def retention_counts(
        self, *, workspace_id: int, by: Granularity, first: date, limit: date
    ) -> dict[date, tuple[int, int]]:
        """Per period with activity in [first, limit): (customers active, of them active in
        the next period too)."""
        ...

    def cohort_counts(
        self, *, workspace_id: int, by: Granularity, first: date, limit: date
    ) -> tuple[dict[date, int], dict[tuple[date, date], int]]:
        """Cohorts (period of a customer's first event ever) starting in [first, limit): their
        sizes, and per (cohort, period in [first, limit)) how many of them were active."""
        ...

    def trend_counts(
        self,
        *,
        workspace_id: int,
        series: Sequence[Step],
        by: str,
        since: datetime,
        until: datetime,
        breakdown: str = "",
        top: int = 5,
        customer_groups: CustomerGroups | None = None,
    ) -> TrendCounts:
        """Events and unique customers per series, period and breakdown group, for events in
        [since, until) (``analytics.trendwalk``'s rules; ``customer_groups``: the groups of each
        customer for a breakdown by customer)."""
        ...

    def funnel_trend(
        self,
        *,
        workspace_id: int,
        steps: Sequence[Step],
        window: timedelta | None,
        by: str,
        since: datetime,
        until: datetime,
        as_of: datetime,
    ) -> dict[datetime, tuple[int, int]]:
        """Per period of entering step 1 in [since, until): (customers entered, converted by
        ``as_of`` within the window), ``analytics.trendwalk.funnel_trend``'s rules."""
        ...

    def session_trend(
        self, *, workspace_id: int, rules: SessionRules, by: str, since: datetime, until: datetime
    ) -> dict[datetime, SessionPeriod]:
        """Per period of a session's start in [since, until): sessions and their median and
        mean duration (``analytics.sessions``'s rules)."""
        ...

    def per_session(
        self, *, workspace_id: int, rules: SessionRules, only: Sequence[int] | None = None
    ) -> Any:
        """The funnel, correlation and path questions of ``workspace_id`` (of ``only``'s
        customers) with sessions as the units (``sessions.unit_of``)."""
        ...

    def funnel_property_correlation(
        self,
        *,
        workspace_id: int,
        steps: Sequence[Step],
        window: timedelta | None,
        only: set[int] | None = None,
        mode: str = ORDERED,
        exclusions: Sequence[Exclusion] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        max_values: int = MAX_PROPERTY_VALUES,
        sample: int | None = None,
    ) -> PropertyCounts:
        """Per (event, top-level property, value), the converted and dropped customers of the
        funnel whose events in their window carried it (``analytics.correlation``'s
        ``property_counts`` rules), in one query."""
        ...

    def funnel_why(
        self,
        *,
        workspace_id: int,
        steps: Sequence[Step],
        window: timedelta | None,
        only: set[int] | None = None,
        mode: str = ORDERED,
        exclusions: Sequence[Exclusion] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        sample: int | None = None,
        properties: bool = True,
        max_values: int = MAX_PROPERTY_VALUES,
    ) -> FunnelWhy:
        """Each entrant's depth, ``funnel_correlation``'s and (with ``properties``)
        ``funnel_property_correlation``'s counts, computing the funnel once where it can."""
        ...

    def last_steps_before(self, *, workspace_id: int, query: BeforeQuery) -> LastSteps:
        """What the group of ``query`` (churned, or who complained) did in their last steps, and
        everyone else in theirs (``analytics.before``'s rules)."""
        ...

    def behaviour_counts(
        self,
        *,
        workspace_id: int,
        order_event: str,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> BehaviourCounts:
        """Each customer's step events per channel and name, first and last time, first time of
        each track event and orders' revenue (``analytics.behaviour``'s rules), counting only
        events in ``since <= ts < until`` (an open side: unbounded): personas' features."""
        ...

    def behaviour_vectors(
        self,
        *,
        workspace_id: int,
        order_event: str,
        support_events: Sequence[str],
        return_events: Sequence[str],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> BehaviourVectors:
        """``behaviour_counts`` as arrays, a row per customer (``BehaviourVectors``): what
        personas cluster on, without a Python object per customer and name."""
        ...
