"""Reads through the analytics engine: every behavioural question other apps ask, and the
engine's status. Which engine answers is ``settings.CXLOOP_ANALYTICS`` (``current_engine``)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings

from cxloop.analytics import owner, sampling
from cxloop.analytics.before import BeforeQuery, LastSteps
from cxloop.analytics.behaviour import BehaviourCounts, BehaviourVectors
from cxloop.analytics.correlation import FunnelCorrelation, FunnelWhy, PropertyCounts
from cxloop.analytics.engine import ClickHouseEngine, id_list
from cxloop.analytics.interface import AnalyticsEngine
from cxloop.analytics.journeywalk import JourneyResult, TouchpointRules
from cxloop.analytics.pathwalk import PathCounts
from cxloop.analytics.periods import Granularity
from cxloop.analytics.sessions import (
    CUSTOMER,
    DEFAULT_PROPERTIES,
    SESSION,
    SessionPeriod,
    SessionRules,
    customer_of,
)
from cxloop.analytics.sqlengine import SqlEngine, event_rows
from cxloop.analytics.steps import ORDERED, EventTest, Exclusion, Step, StepCondition
from cxloop.analytics.transports import EngineError, EngineUnavailable, ServerTransport
from cxloop.analytics.trendwalk import CustomerGroups, TrendCounts
from cxloop.analytics.walk import FunnelRun, FunnelSummary
from cxloop.core.models import Workspace
from cxloop.events import selectors as event_selectors

__all__ = [
    "EngineError",
    "EngineUnavailable",
    "EventTest",
    "behaviour_counts",
    "behaviour_vectors",
    "cohort_counts",
    "current_engine",
    "customers_with_event",
    "customers_with_events",
    "database_answers",
    "engine_status",
    "event_first_seen",
    "event_names",
    "event_rows",
    "funnel_correlation",
    "funnel_property_correlation",
    "funnel_run",
    "funnel_summary",
    "funnel_trend",
    "funnel_why",
    "journey_walk",
    "last_steps_before",
    "path_counts",
    "retention_counts",
    "sample_rate",
    "session_rules",
    "session_trend",
    "step_names",
    "trend_as_of",
    "trend_counts",
]


@lru_cache(maxsize=4)
def _engine_for(setting: str, owner_here: bool) -> AnalyticsEngine:
    if setting == "sql":
        return SqlEngine()
    if setting.startswith(("clickhouse://", "clickhouses://", "http://", "https://")):
        return ClickHouseEngine(ServerTransport(setting), label="ClickHouse server")
    if setting != "embedded":
        raise EngineError(f"CXLOOP_ANALYTICS={setting!r}: use embedded, sql or a ClickHouse URL")
    if owner_here:
        return owner.embedded_engine()
    return ClickHouseEngine(owner.OwnerClient(), label="embedded (chdb, via its owner)")


_local = threading.local()


@contextmanager
def database_answers() -> Iterator[None]:
    """Within the block, this thread's analytics questions go to the database: for work done
    before the engine can hold its data, such as building the demo in one transaction (the
    engine copies events only once they are committed)."""
    previous = getattr(_local, "forced", None)
    _local.forced = "sql"
    try:
        yield
    finally:
        _local.forced = previous


def current_engine() -> AnalyticsEngine:
    """The engine this process (or, inside :func:`database_answers`, this thread) asks."""
    forced = getattr(_local, "forced", None)
    return _engine_for(forced or settings.CXLOOP_ANALYTICS, owner.is_owner())


def event_names(*, workspace: Workspace, limit: int = 500) -> list[tuple[str, int]]:
    """Event (and page/screen) names of a workspace with counts, most frequent first."""
    return current_engine().event_names(workspace_id=workspace.pk, limit=limit)


def event_first_seen(*, workspace: Workspace, names: Sequence[str]) -> dict[str, datetime]:
    """When each of ``names`` first happened in the workspace (names never seen left out)."""
    return current_engine().event_first_seen(workspace_id=workspace.pk, names=names)


def step_names(*, workspace: Workspace, limit: int = 200) -> list[str]:
    """Event names that can be path steps (track, page, screen), alphabetically."""
    return current_engine().step_names(workspace_id=workspace.pk, limit=limit)


def funnel_run(
    *,
    workspace: Workspace,
    steps: Sequence[Step],
    window: timedelta | None,
    only: set[int] | None = None,
    mode: str = ORDERED,
    exclusions: Sequence[Exclusion] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    sample: int | None = None,
    per: str = CUSTOMER,
) -> FunnelRun:
    """How far each customer of ``workspace`` (of ``only``, when given) gets through ``steps``
    (in ``mode``, without ``exclusions``: ``analytics.walk.funnel_walk``'s rules), counting only
    events in [``since``, ``until``) when given. ``per`` session: the run's keys are sessions
    (``sessions.unit_of``), each walked on its own."""
    engine, only = _counting(workspace, per, only)
    return engine.funnel(
        workspace_id=workspace.pk, steps=steps, window=window, only=only, mode=mode,
        exclusions=exclusions, since=since, until=until, sample=sample,
    )  # fmt: skip


def funnel_summary(
    *,
    workspace: Workspace,
    steps: Sequence[Step],
    window: timedelta | None,
    only: set[int] | None = None,
    latest: int = 20,
    mode: str = ORDERED,
    exclusions: Sequence[Exclusion] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    per: str = CUSTOMER,
) -> FunnelSummary:
    """A funnel's counts, step medians, counts by start channel and latest drop-offs, computed
    where the events are (no row per customer leaves the engine). ``per`` session: counts
    sessions; the latest drop-offs still name their customers."""
    engine, only = _counting(workspace, per, only)
    summary = engine.funnel_summary(
        workspace_id=workspace.pk, steps=steps, window=window, only=only, latest=latest,
        mode=mode, exclusions=exclusions, since=since, until=until,
    )  # fmt: skip
    if per == SESSION:
        summary.latest = {
            depth: [(at, customer_of(unit)) for at, unit in pairs]
            for depth, pairs in summary.latest.items()
        }
    return summary


def sample_rate(*, entered: int, size: int) -> int | None:
    """The sample rate (``analytics.sampling``) that keeps about ``size`` of ``entered`` units of
    a funnel, None when all of them fit."""
    return sampling.rate_for(entered, size)


def funnel_correlation(
    *,
    workspace: Workspace,
    steps: Sequence[Step],
    window: timedelta | None,
    only: set[int] | None = None,
    mode: str = ORDERED,
    exclusions: Sequence[Exclusion] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    sample: int | None = None,
    per: str = CUSTOMER,
) -> FunnelCorrelation:
    """Per event name, how many converted and dropped customers of the funnel did it between
    their start and the end of their window (``analytics.correlation``); sessions with
    ``per`` session."""
    engine, only = _counting(workspace, per, only)
    return engine.funnel_correlation(
        workspace_id=workspace.pk, steps=steps, window=window, only=only, mode=mode,
        exclusions=exclusions, since=since, until=until, sample=sample,
    )  # fmt: skip


def path_counts(
    *,
    workspace: Workspace,
    start: str,
    end: str,
    max_steps: int,
    within: timedelta | None,
    by_channel: bool,
    since: datetime | None,
    until: datetime | None,
    customer_ids: Iterable[Any] | None,
    top: int,
    per: str = CUSTOMER,
) -> PathCounts:
    """The ``top`` paths from ``start`` to ``end``, and how many customers (sessions, ``per``
    session: each walked on its own) started and completed one, computed where the events
    are."""
    engine: Any = current_engine()
    if per == SESSION:
        engine = _per_session(workspace, customer_ids)
        customer_ids = None
    return engine.path_counts(
        workspace_id=workspace.pk, start=start, end=end, max_steps=max_steps, within=within,
        by_channel=by_channel, since=since, until=until, customer_ids=customer_ids, top=top,
    )  # fmt: skip


def session_rules(*, workspace: Workspace) -> SessionRules:
    """The workspace's session settings (``core.Workspace.session_*``)."""
    name = workspace.session_property.strip()
    return SessionRules(
        timeout=timedelta(minutes=workspace.session_timeout_minutes),
        properties=(name,) if name else DEFAULT_PROPERTIES,
    )


def session_trend(
    *, workspace: Workspace, by: str, since: datetime, until: datetime
) -> dict[datetime, SessionPeriod]:
    """Per period of a session's start in [since, until): sessions, median and mean duration."""
    return current_engine().session_trend(
        workspace_id=workspace.pk, rules=session_rules(workspace=workspace), by=by, since=since,
        until=until,
    )  # fmt: skip


def _per_session(workspace: Workspace, customers: Iterable[Any] | None) -> Any:
    only = None if customers is None else sorted(set(id_list(customers)))
    return current_engine().per_session(
        workspace_id=workspace.pk, rules=session_rules(workspace=workspace), only=only
    )


def _counting(workspace: Workspace, per: str, only: set[int] | None) -> tuple[Any, Any]:
    """The engine to ask and its ``only``: per customer as given; per session, an engine whose
    units are the sessions of ``only``'s customers."""
    if per == CUSTOMER:
        return current_engine(), only
    if per != SESSION:
        raise ValueError(f"count per {per!r}: use customer or session")
    return _per_session(workspace, only), None


def journey_walk(
    *,
    workspace: Workspace,
    stages: int,
    touchpoints: Sequence[TouchpointRules],
    since: datetime | None = None,
    until: datetime | None = None,
    metrics_only: bool = False,
) -> JourneyResult:
    """A journey map's metrics and each customer's furthest stage, where the events are (only
    the events in [since, until) when given; only the metrics with ``metrics_only``)."""
    return current_engine().journey_walk(
        workspace_id=workspace.pk, stages=stages, touchpoints=touchpoints, since=since,
        until=until, metrics_only=metrics_only,
    )  # fmt: skip


def customers_with_event(
    *,
    workspace: Workspace,
    event: str,
    channel: str = "",
    since: datetime | None = None,
    min_count: int = 1,
    conditions: Sequence[StepCondition] = (),
    until: datetime | None = None,
    among: Sequence[int] | None = None,
) -> Any:
    """Who has at least ``min_count`` events named ``event`` (on ``channel``, in [``since``,
    ``until``), meeting every property condition), as something ``pk__in=`` takes: a subquery
    or a list, whichever engine answers."""
    return current_engine().customers_with_event(
        workspace_id=workspace.pk, event=event, channel=channel, since=since, min_count=min_count,
        conditions=conditions, until=until, among=among,
    )  # fmt: skip


def customers_with_events(
    *, workspace: Workspace, tests: Sequence[EventTest], among: Sequence[int] | None = None
) -> list[Any]:
    """:func:`customers_with_event` for each test (what ``pk__in=`` takes, in order), in one
    pass over the events on the ClickHouse engines: a segment's event conditions."""
    return current_engine().customers_with_events(
        workspace_id=workspace.pk, tests=tests, among=among
    )


def retention_counts(
    *, workspace: Workspace, by: Granularity, first: date, limit: date
) -> dict[date, tuple[int, int]]:
    return current_engine().retention_counts(
        workspace_id=workspace.pk, by=by, first=first, limit=limit
    )


def cohort_counts(
    *, workspace: Workspace, by: Granularity, first: date, limit: date
) -> tuple[dict[date, int], dict[tuple[date, date], int]]:
    return current_engine().cohort_counts(
        workspace_id=workspace.pk, by=by, first=first, limit=limit
    )


def trend_counts(
    *,
    workspace: Workspace,
    series: Sequence[Step],
    by: str,
    since: datetime,
    until: datetime,
    breakdown: str = "",
    top: int = 5,
    customer_groups: CustomerGroups | None = None,
) -> TrendCounts:
    """Events and unique customers per series, period and breakdown group, in [since, until);
    a breakdown by customer (``trait:``, ``segment:``, ``segments:``, ``stage:``) takes each
    customer's groups, resolved by the caller in the system of record."""
    return current_engine().trend_counts(
        workspace_id=workspace.pk, series=series, by=by, since=since, until=until,
        breakdown=breakdown, top=top, customer_groups=customer_groups,
    )  # fmt: skip


def funnel_trend(
    *,
    workspace: Workspace,
    steps: Sequence[Step],
    window: timedelta | None,
    by: str,
    since: datetime,
    until: datetime,
    as_of: datetime,
) -> dict[datetime, tuple[int, int]]:
    """Per period of entering step 1: (customers entered, of them converted by ``as_of``)."""
    return current_engine().funnel_trend(
        workspace_id=workspace.pk, steps=steps, window=window, by=by, since=since, until=until,
        as_of=as_of,
    )  # fmt: skip


def last_steps_before(*, workspace: Workspace, query: BeforeQuery) -> LastSteps:
    """What the churned (or complaining) customers of ``query`` did in their last steps, and
    everyone else in theirs: each distinct sequence with its customers, counted by the engine."""
    if query.customer_ids is not None:
        query = replace(query, customer_ids=tuple(sorted(set(id_list(query.customer_ids)))))
    return current_engine().last_steps_before(workspace_id=workspace.pk, query=query)


def behaviour_counts(
    *,
    workspace: Workspace,
    order_event: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> BehaviourCounts:
    """Each active customer's step events per channel and name, first and last time, first time
    of each track event and orders' revenue (``order_event``): what personas cluster on. Only
    events in ``since <= occurred_at < until`` count (an open side: unbounded)."""
    return current_engine().behaviour_counts(
        workspace_id=workspace.pk, order_event=order_event, since=since, until=until
    )


def behaviour_vectors(
    *,
    workspace: Workspace,
    order_event: str,
    support_events: Sequence[str],
    return_events: Sequence[str],
    since: datetime | None = None,
    until: datetime | None = None,
) -> BehaviourVectors:
    """``behaviour_counts`` as arrays, a row per customer, with the step events named
    ``order_event``, one of ``support_events`` or one of ``return_events`` counted per customer:
    personas' features, compact from the engine (no Python object per customer and name)."""
    return current_engine().behaviour_vectors(
        workspace_id=workspace.pk,
        order_event=order_event,
        support_events=tuple(support_events),
        return_events=tuple(return_events),
        since=since,
        until=until,
    )


LIVE_WITHIN = timedelta(days=2)  # a latest event this recent: live data, measured up to now


def trend_as_of(*, workspace: Workspace, now: datetime | None = None) -> tuple[datetime, str]:
    """The time an analysis is measured as of, and why: now for live data (an event in the last
    two days), the latest event for imported history, now when there is none."""
    now = now or datetime.now(UTC)
    latest = event_selectors.event_latest_at(workspace=workspace)
    if latest is None:
        return now, "now (no events yet)"
    if latest >= now - LIVE_WITHIN:
        return now, "now (live data)"
    return latest, "the latest event (imported history)"


@dataclass(frozen=True)
class EngineStatus:
    kind: str
    label: str
    reachable: bool
    problem: str
    backlog: int  # outbox entries not copied yet
    lag_seconds: float | None  # age of the oldest of them


def engine_status(*, now: datetime | None = None) -> EngineStatus:
    """Which engine answers, whether it answers, and how far it lags behind the database."""
    engine = current_engine()
    backlog, oldest = event_selectors.outbox_backlog()
    now = now or datetime.now(UTC)
    lag = (now - oldest).total_seconds() if oldest is not None else None
    reachable, problem = True, ""
    if isinstance(engine, ClickHouseEngine):
        try:
            engine.transport.query("SELECT 1")
        except (EngineUnavailable, EngineError) as exc:
            reachable, problem = False, str(exc)
    if engine.kind == "sql":
        backlog, lag = 0, None  # the database is the engine: nothing to copy
    return EngineStatus(engine.kind, engine.label, reachable, problem, backlog, lag)


def funnel_why(
    *,
    workspace: Workspace,
    steps: Sequence[Step],
    window: timedelta | None,
    only: set[int] | None = None,
    mode: str = ORDERED,
    exclusions: Sequence[Exclusion] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    sample: int | None = None,
    per: str = CUSTOMER,
) -> FunnelWhy:
    """Everything "why they dropped" needs of the engine (``correlation.FunnelWhy``): each
    entrant's depth, the event counts and, per customer, the event property value counts;
    the funnel computed once where the engine can. ``sample``: only ``analytics.sampling``'s
    sample of that rate."""
    engine, only = _counting(workspace, per, only)
    return engine.funnel_why(
        workspace_id=workspace.pk, steps=steps, window=window, only=only, mode=mode,
        exclusions=exclusions, since=since, until=until, sample=sample,
        properties=per == CUSTOMER,
    )  # fmt: skip


def funnel_property_correlation(
    *,
    workspace: Workspace,
    steps: Sequence[Step],
    window: timedelta | None,
    only: set[int] | None = None,
    mode: str = ORDERED,
    exclusions: Sequence[Exclusion] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    sample: int | None = None,
) -> PropertyCounts:
    """Per (event, top-level property, value), how many converted and dropped customers of the
    funnel did an event carrying it between their start and the end of their window
    (``analytics.correlation.property_counts``; keys with few distinct values only)."""
    return current_engine().funnel_property_correlation(
        workspace_id=workspace.pk, steps=steps, window=window, only=only, mode=mode,
        exclusions=exclusions, since=since, until=until, sample=sample,
    )  # fmt: skip
