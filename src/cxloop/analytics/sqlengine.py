"""The analytics engine interface answered from the system of record (SQLite or PostgreSQL).

The reference implementation: plain queries over the ``events`` table and the walk in
``analytics.walk``. ``CXLOOP_ANALYTICS=sql`` runs it (small installs, the tests of other apps);
``tests/test_analytics_engine.py`` checks the ClickHouse engine against it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Min, Q, QuerySet, Value

from cxloop.analytics import journeywalk, pathwalk, sampling, trendwalk
from cxloop.analytics.before import BeforeQuery, LastSteps, last_steps_walk
from cxloop.analytics.behaviour import (
    BehaviourCounts,
    BehaviourVectors,
    behaviour_walk,
    vectors_from_counts,
)
from cxloop.analytics.correlation import (
    MAX_PROPERTY_VALUES,
    FunnelCorrelation,
    FunnelWhy,
    PropertyCounts,
    correlation_counts,
    property_counts,
    why_in_parts,
)
from cxloop.analytics.journeywalk import JourneyResult, TouchpointRules
from cxloop.analytics.pathwalk import PathCounts
from cxloop.analytics.periods import Granularity, PeriodStart, period_floor, period_next
from cxloop.analytics.sqlsessions import SqlSessions
from cxloop.analytics.steps import ORDERED, STRICT, EventTest, Exclusion, Step, StepCondition
from cxloop.analytics.trendwalk import CustomerGroups, TrendCounts
from cxloop.analytics.walk import (
    FunnelRun,
    FunnelSummary,
    funnel_summary,
    funnel_walk,
    properties_of,
)
from cxloop.core.db import ids_in
from cxloop.core.models import Workspace
from cxloop.events import selectors as event_selectors

FETCH = 20_000


def _events(workspace_id: int):
    return event_selectors.workspace_events(workspace=Workspace(pk=workspace_id))


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def event_rows(
    *,
    workspace_id: int,
    names: Sequence[str],
    properties: bool = False,
    every_step: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[tuple]:
    """Stream ``(customer_id, occurred_at, name, channel, properties)`` of events with these names
    (and, with ``every_step``, every named track/page/screen event: a strict funnel's moments),
    in [``since``, ``until``) when given.

    Plain cursor rows (no model instances, no value conversion): ``occurred_at`` is a datetime on
    PostgreSQL and Django's naive-UTC text on SQLite; ``properties`` is '' unless asked for.
    """
    columns = ["customer_id", "occurred_at", "name", "channel"]
    named = Q(name__in=sorted(set(names)))
    if every_step:
        named |= Q(type__in=pathwalk.STEP_TYPES) & ~Q(name="")
    events = _bounded(_events(workspace_id).filter(named), since, until)
    if properties:
        events = events.values_list(*columns, "properties")
    else:
        events = events.annotate(no_properties=Value("")).values_list(*columns, "no_properties")
    sql, params = events.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(FETCH):
            yield from rows


def _bounded(events: QuerySet, since: datetime | None, until: datetime | None) -> QuerySet:
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    return events


def _activity(workspace_id: int, by: Granularity, first: date, limit: date) -> dict[date, set[int]]:
    rows = (
        _events(workspace_id)
        .filter(
            occurred_at__gte=datetime.combine(first, datetime.min.time(), tzinfo=UTC),
            occurred_at__lt=datetime.combine(limit, datetime.min.time(), tzinfo=UTC),
        )
        .annotate(_period=PeriodStart("occurred_at", by))
        .values_list("_period", "customer_id")
        .distinct()
    )
    active: dict[date, set[int]] = defaultdict(set)
    for period, customer_id in rows:
        active[period].add(customer_id)
    return active


class SqlEngine(SqlSessions):
    kind = "sql"
    label = "system of record"

    def event_names(self, *, workspace_id: int, limit: int) -> list[tuple[str, int]]:
        rows = (
            _events(workspace_id)
            .exclude(name="")
            .values("name")
            .annotate(n=Count("pk"))
            .order_by("-n", "name")[:limit]
        )
        return [(row["name"], row["n"]) for row in rows]

    def event_first_seen(self, *, workspace_id: int, names: Sequence[str]) -> dict[str, datetime]:
        if not names:
            return {}
        rows = (
            _events(workspace_id)
            .filter(name__in=sorted(set(names)))
            .values("name")
            .annotate(first=Min("occurred_at"))
        )
        return {row["name"]: _utc(row["first"]) for row in rows}

    def step_names(self, *, workspace_id: int, limit: int) -> list[str]:
        rows = (
            _events(workspace_id)
            .filter(type__in=pathwalk.STEP_TYPES)
            .exclude(name="")
            .values_list("name", flat=True)
            .distinct()
            .order_by("name")
        )
        return list(rows[:limit])

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
        matched = [*steps, *(x.step for x in exclusions)]
        needs_properties = any(step.conditions for step in matched)
        rows: Iterator[tuple] = event_rows(
            workspace_id=workspace_id,
            names=[s.event for s in matched],
            properties=needs_properties,
            every_step=mode == STRICT,
            since=since,
            until=until,
        )
        if only is not None:
            rows = (row for row in rows if row[0] in only)
        if sample is not None:
            rows = (row for row in rows if sampling.in_sample(row[0], sample))
        return funnel_walk(rows, steps=steps, window=window, mode=mode, exclusions=exclusions)

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
        run = self.funnel(
            workspace_id=workspace_id, steps=steps, window=window, only=only, mode=mode,
            exclusions=exclusions, since=since, until=until,
        )  # fmt: skip
        return funnel_summary(run, latest=latest)

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
        run = self.funnel(
            workspace_id=workspace_id, steps=steps, window=window, only=only, mode=mode,
            exclusions=exclusions, since=since, until=until, sample=sample,
        )  # fmt: skip
        sql, params = (
            _bounded(_events(workspace_id), since, until)
            .exclude(name="")
            .values_list("customer_id", "occurred_at", "name")
            .query.sql_with_params()
        )

        def rows() -> Iterator[tuple]:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                while batch := cursor.fetchmany(FETCH):
                    yield from batch

        return correlation_counts(run, rows(), window=window, steps={step.event for step in steps})

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
        return pathwalk.path_counts(
            workspace_id=workspace_id, start=start, end=end, max_steps=max_steps, within=within,
            by_channel=by_channel, since=since, until=until, customer_ids=customer_ids, top=top,
        )  # fmt: skip

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
        names = {rule.event for tp in touchpoints for rule in tp.rules}
        needs_properties = any(rule.conditions for tp in touchpoints for rule in tp.rules)
        rows = event_rows(
            workspace_id=workspace_id, names=sorted(names), properties=needs_properties,
            since=since, until=until,
        )  # fmt: skip
        return journeywalk.journey_walk(rows, stages=stages, touchpoints=touchpoints)

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
        # IN (subquery) rather than a correlated EXISTS: one pass over the workspace's events
        # whatever the number of customers (SQLite otherwise rescans per customer)
        events = _bounded(_events(workspace_id).filter(name=event), since, until)
        if among is not None:
            events = events.filter(customer_id__in=list(among))
        if channel:
            events = events.filter(channel=channel)
        if conditions:  # the conditions' own test (``Condition.test``) on each event
            matches: dict[int, int] = defaultdict(int)
            for customer, properties in events.values_list("customer_id", "properties").iterator(
                chunk_size=FETCH
            ):
                props = properties_of(properties)
                if all(c.test(props) for c in conditions):
                    matches[customer] += 1
            return ids_in([c for c, n in matches.items() if n >= max(min_count, 1)])
        if min_count <= 1:
            return events.values("customer_id")
        return (
            events.values("customer_id").annotate(n=Count("pk")).filter(n__gte=min_count)
        ).values("customer_id")

    def customers_with_events(
        self, *, workspace_id: int, tests: Sequence[EventTest], among: Sequence[int] | None = None
    ) -> list[Any]:
        answers = []
        for t in tests:
            answer = self.customers_with_event(
                workspace_id=workspace_id, event=t.event, channel=t.channel, since=t.since,
                until=t.until, min_count=t.min_count, conditions=t.conditions, among=among,
            )  # fmt: skip
            answers.append(answer)
        return answers

    def retention_counts(
        self, *, workspace_id: int, by: Granularity, first: date, limit: date
    ) -> dict[date, tuple[int, int]]:
        active = _activity(workspace_id, by, first, limit)
        return {
            period: (len(people), len(people & active.get(period_next(period, by), set())))
            for period, people in sorted(active.items())
        }

    def cohort_counts(
        self, *, workspace_id: int, by: Granularity, first: date, limit: date
    ) -> tuple[dict[date, int], dict[tuple[date, date], int]]:
        active = _activity(workspace_id, by, first, limit)
        firsts = (
            _events(workspace_id)
            .values("customer_id")
            .annotate(first=Min("occurred_at"))
            .values_list("customer_id", "first")
        )
        members: dict[date, set[int]] = defaultdict(set)
        for customer_id, first_at in firsts:
            if isinstance(first_at, str):  # SQLite's aggregate comes back as text
                first_at = datetime.fromisoformat(first_at).replace(tzinfo=UTC)
            cohort = period_floor(first_at, by)
            if first <= cohort < limit:
                members[cohort].add(customer_id)
        sizes = {cohort: len(people) for cohort, people in members.items()}
        counts = {
            (cohort, period): len(people & members[cohort])
            for cohort in members
            for period, people in active.items()
            if people & members[cohort]
        }
        return sizes, counts

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
        kind, _ = trendwalk.breakdown_key(breakdown)
        properties = kind == "property" or any(s.conditions for s in series)
        rows = _range_rows(workspace_id, [s.event for s in series], since, until, properties)
        return trendwalk.trend_counts(
            rows, series=series, by=by, breakdown=breakdown, top=top,
            customer_groups=customer_groups,
        )  # fmt: skip

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
        properties = any(s.conditions for s in steps)
        rows = _range_rows(
            workspace_id, [s.event for s in steps], since, as_of + timedelta(microseconds=1),
            properties,
        )  # fmt: skip
        return trendwalk.funnel_trend(
            rows, steps=steps, window=window, by=by, since=since, until=until, as_of=as_of
        )

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
        run = self.funnel(
            workspace_id=workspace_id, steps=steps, window=window, only=only, mode=mode,
            exclusions=exclusions, since=since, until=until, sample=sample,
        )  # fmt: skip
        sql, params = (
            _bounded(_events(workspace_id), since, until)
            .exclude(name="")
            .exclude(name=steps[-1].event)
            .values_list("customer_id", "occurred_at", "name", "properties")
            .query.sql_with_params()
        )

        def rows() -> Iterator[tuple]:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                while batch := cursor.fetchmany(FETCH):
                    yield from batch

        return property_counts(
            run, rows(), window=window, last_step=steps[-1].event, max_values=max_values
        )

    def funnel_why(
        self, *, properties: bool = True, max_values: int = MAX_PROPERTY_VALUES, **question: Any
    ) -> FunnelWhy:
        return why_in_parts(self, properties=properties, max_values=max_values, **question)

    def last_steps_before(self, *, workspace_id: int, query: BeforeQuery) -> LastSteps:
        return last_steps_walk(workspace_id=workspace_id, query=query)

    def behaviour_counts(
        self,
        *,
        workspace_id: int,
        order_event: str,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> BehaviourCounts:
        return behaviour_walk(
            workspace_id=workspace_id, order_event=order_event, since=since, until=until
        )

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
        found = behaviour_walk(
            workspace_id=workspace_id, order_event=order_event, since=since, until=until
        )
        return vectors_from_counts(
            found,
            order_event=order_event,
            support_events=support_events,
            return_events=return_events,
        )


def _range_rows(
    workspace_id: int, names: Sequence[str], since: datetime, until: datetime, properties: bool
) -> Iterator[tuple]:
    """``event_rows`` limited to ``since <= occurred_at < until``."""
    columns = ["customer_id", "occurred_at", "name", "channel"]
    events = _events(workspace_id).filter(
        name__in=sorted(set(names)), occurred_at__gte=since, occurred_at__lt=until
    )
    if properties:
        events = events.values_list(*columns, "properties")
    else:
        events = events.annotate(no_properties=Value("")).values_list(*columns, "no_properties")
    sql, params = events.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(FETCH):
            yield from rows
