"""Sessions answered from the system of record: the Python walk of ``analytics.sessions`` over
every event of a workspace, in the order (customer, time, id). The reference the engine's
``analytics.sessionsql`` is tested against; ``SqlEngine`` mixes :class:`SqlSessions` in."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from cxloop.analytics import sampling
from cxloop.analytics.correlation import (
    MAX_PROPERTY_VALUES,
    FunnelCorrelation,
    FunnelWhy,
    correlation_counts,
    why_in_parts,
)
from cxloop.analytics.pathwalk import STEP_TYPES, PathCounts, match_label, path_between, step_label
from cxloop.analytics.sessions import (
    SessionPeriod,
    SessionRules,
    session_numbers,
    session_trend,
    unit_of,
)
from cxloop.analytics.steps import ORDERED, STRICT, Exclusion, Step
from cxloop.analytics.walk import FunnelRun, FunnelSummary, as_datetime, funnel_summary, funnel_walk
from cxloop.core.models import Workspace
from cxloop.events import selectors as event_selectors

FETCH = 20_000


def _ordered_rows(workspace_id: int, only: Sequence[int] | None) -> Iterator[tuple]:
    """``(customer_id, occurred_at, properties, id, type, name, channel)`` of every event,
    ordered by customer, time and id (plain cursor rows)."""
    events = event_selectors.workspace_events(workspace=Workspace(pk=workspace_id))
    if only is not None:
        events = events.filter(customer_id__in=list(only))
    sql, params = (
        events.order_by("customer_id", "occurred_at", "pk")
        .values_list("customer_id", "occurred_at", "properties", "pk", "type", "name", "channel")
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(FETCH):
            yield from rows


def session_rows(
    *, workspace_id: int, rules: SessionRules, only: Sequence[int] | None = None
) -> Iterator[tuple]:
    """``(unit, occurred_at, type, name, channel, properties)`` of every event, in order."""
    for number, row in session_numbers(_ordered_rows(workspace_id, only), rules=rules):
        customer, at, properties, _, kind, name, channel = row
        yield unit_of(customer, number), at, kind, name, channel, properties


def _in_range(at: Any, since: datetime | None, until: datetime | None) -> bool:
    if since is None and until is None:
        return True
    moment = as_datetime(at)
    return (since is None or moment >= since) and (until is None or moment < until)


class SqlSessions:
    """The session questions of ``sqlengine.SqlEngine``."""

    def session_trend(
        self, *, workspace_id: int, rules: SessionRules, by: str, since: datetime, until: datetime
    ) -> dict[datetime, SessionPeriod]:
        return session_trend(
            _ordered_rows(workspace_id, None), rules=rules, by=by, since=since, until=until
        )

    def per_session(
        self, *, workspace_id: int, rules: SessionRules, only: Sequence[int] | None = None
    ) -> SessionSqlEngine:
        return SessionSqlEngine(workspace_id=workspace_id, rules=rules, only=only)


class SessionSqlEngine:
    """Funnels and paths with sessions as the units (``sessions.unit_of``); ``only`` and
    ``customer_ids`` passed to a question name units."""

    kind = "sql"
    label = "system of record, per session"

    def __init__(
        self, *, workspace_id: int, rules: SessionRules, only: Sequence[int] | None
    ) -> None:
        self.workspace_id, self.rules, self.only = workspace_id, rules, only

    def _rows(self, workspace_id: int) -> Iterator[tuple]:
        if workspace_id != self.workspace_id:
            raise ValueError("a session view answers for its own workspace only")
        return session_rows(workspace_id=workspace_id, rules=self.rules, only=self.only)

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
        names = {s.event for s in steps} | {x.step.event for x in exclusions}
        strict = mode == STRICT
        rows = (
            (unit, at, name, channel, properties)
            for unit, at, kind, name, channel, properties in self._rows(workspace_id)
            if (name in names or (strict and kind in STEP_TYPES and name))
            and (only is None or unit in only)
            and sampling.in_sample(unit, sample)
            and _in_range(at, since, until)
        )
        return funnel_walk(rows, steps=steps, window=window, mode=mode, exclusions=exclusions)

    def funnel_summary(self, *, latest: int = 20, **question: Any) -> FunnelSummary:
        return funnel_summary(self.funnel(**question), latest=latest)

    def funnel_why(
        self, *, properties: bool = False, max_values: int = MAX_PROPERTY_VALUES, **question: Any
    ) -> FunnelWhy:
        if properties:
            raise ValueError("event property values are correlated per customer, not per session")
        return why_in_parts(self, properties=False, max_values=max_values, **question)

    def funnel_correlation(
        self,
        *,
        workspace_id: int,
        steps: Sequence[Step],
        window: timedelta | None,
        since: datetime | None = None,
        until: datetime | None = None,
        **question: Any,
    ) -> FunnelCorrelation:
        run = self.funnel(
            workspace_id=workspace_id, steps=steps, window=window, since=since, until=until,
            **question,
        )  # fmt: skip
        rows = (
            (unit, at, name)
            for unit, at, _, name, _, _ in self._rows(workspace_id)
            if name and _in_range(at, since, until)
        )
        return correlation_counts(run, rows, window=window, steps={step.event for step in steps})

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
        anchor = (start or end).split(" · ")[0]
        wanted = {int(u) for u in customer_ids} if customer_ids is not None else None
        steps: dict[int, list[tuple[str, Any]]] = defaultdict(list)
        anchored: set[int] = set()
        for unit, at, kind, name, channel, _ in self._rows(workspace_id):
            if name == anchor:
                anchored.add(unit)
            if kind not in STEP_TYPES or not name or not _in_range(at, since, until):
                continue
            if wanted is None or unit in wanted:
                label = step_label(name, channel, by_channel=by_channel)
                if by_channel:
                    label = match_label(label, start, end)
                steps[unit].append((label, as_datetime(at)))
        result = PathCounts()
        found: Counter[tuple[str, ...]] = Counter()
        for unit, walked in steps.items():
            if unit not in anchored:
                continue
            started, path = path_between(
                walked, start=start, end=end, max_steps=max_steps, within=within
            )
            result.started += started
            if path is not None:
                found[path] += 1
        result.completed = sum(found.values())
        result.top = sorted(found.items(), key=lambda item: (-item[1], item[0]))[:top]
        return result
