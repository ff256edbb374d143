"""Trends in Python: events and unique customers per period, and funnel conversion per period of
entering step 1. The reference the engine's SQL (``trendsql.trend_sql``,
``trendsql.funnel_trend_sql``) is tested against; ``analytics.sqlengine`` runs it.

Rules shared by both:

* periods are UTC hours, days, ISO weeks (Monday) or months; a period is keyed by its start, an
  aware UTC datetime;
* a trend counts the events matching a series' step (name, channel, property conditions) with
  ``since <= time < until``; an event matching two series counts in each;
* a breakdown groups events by channel or by the text of one property (a JSON string's content,
  any other value's JSON, a whole number without its ``.0``, '' when absent or null); the ``top`` values with most events (every
  series together, an event once; ties by value) are kept, the rest fall into "other" (key
  ``None``), whose customers are counted distinct, not summed;
* a breakdown by customer (``trait:``, ``segment:``, ``segments:``, ``stage:``) is resolved by
  the caller into ``customer_groups``: the groups of each customer (a customer absent from it is
  in ''); an event counts once in each group of its customer (in the ranking too), and a
  customer once per group and period;
* funnel conversion: per period P, the customers with a step-1 event in P (``since`` <= time <
  ``until``) *entered*; of them, those for whom some such start completes every later step, each
  strictly after the previous one, within the window of the start and by ``as_of``, *converted*.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

import orjson

from cxloop.analytics.periods import Granularity, period_floor
from cxloop.analytics.steps import Step
from cxloop.analytics.walk import _masker, as_datetime, properties_of

OTHER = None  # the breakdown group of every value outside the top ones


class TrendUnit(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"  # ISO weeks, starting on Monday
    MONTH = "month"


def unit_floor(value: datetime, by: TrendUnit | str) -> datetime:
    """The start (aware UTC) of the hour, day, ISO week or month holding ``value``."""
    value = value.astimezone(UTC)
    if by == TrendUnit.HOUR:
        return value.replace(minute=0, second=0, microsecond=0)
    day = period_floor(value, Granularity(by))
    return datetime.combine(day, time(), tzinfo=UTC)


def unit_next(start: datetime, by: TrendUnit | str) -> datetime:
    """The start of the period after the one starting at ``start``."""
    if by == TrendUnit.HOUR:
        return start + timedelta(hours=1)
    if by == TrendUnit.DAY:
        return start + timedelta(days=1)
    if by == TrendUnit.WEEK:
        return start + timedelta(days=7)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month, day=1)


@dataclass(slots=True)
class TrendCounts:
    """``cells[(series index, period start, group)] = (events, unique customers)``; ``groups``:
    the kept breakdown values, most events first ('' alone without a breakdown), then ``OTHER``
    when some events fell outside them."""

    groups: list[str | None] = field(default_factory=list)
    cells: dict[tuple[int, datetime, str | None], tuple[int, int]] = field(default_factory=dict)


def property_text(properties: object, path: str) -> str:
    """The breakdown text of the property at dotted ``path`` (see the module's rules)."""
    value: object = properties_of(properties)
    for part in path.split("."):
        if not isinstance(value, dict):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))  # 100000.0 reads back as 100000 in ClickHouse's JSON too
    return orjson.dumps(value).decode()


CUSTOMER_BREAKDOWNS = ("trait", "segment", "segments", "stage")
CustomerGroups = Mapping[int, Sequence[str]]  # customer id -> the breakdown groups they are in


def breakdown_key(breakdown: str) -> tuple[str, str]:
    """('', '') for none, ('channel', ''), ('property', dotted path) or ('customer', what) for
    a breakdown by customer (trait:<name>, segment:<id>, segments:<id>,<id>, stage:<map id>),
    whose groups the caller resolves."""
    if not breakdown:
        return "", ""
    if breakdown == "channel":
        return "channel", ""
    kind, _, rest = breakdown.partition(":")
    if kind == "property" and rest.strip():
        return "property", rest.strip()
    if kind in CUSTOMER_BREAKDOWNS and rest.strip():
        return "customer", breakdown
    raise ValueError(
        "breakdown: expected channel, property:<name>, trait:<name>, segment:<id>, "
        f"segments:<id>,<id>… or stage:<journey map id>, got {breakdown!r}"
    )


def trend_counts(
    rows: Iterable[tuple],
    *,
    series: Sequence[Step],
    by: TrendUnit | str,
    breakdown: str = "",
    top: int = 5,
    customer_groups: CustomerGroups | None = None,
) -> TrendCounts:
    """Count ``rows`` of ``(customer_id, occurred_at, name, channel, properties)`` (already
    limited to the range) per series, period and group (``customer_groups``: see the module's
    rules)."""
    kind, path = breakdown_key(breakdown)
    if kind == "customer" and customer_groups is None:
        raise ValueError(f"breakdown: {breakdown!r} needs each customer's groups")
    groups_of: CustomerGroups = customer_groups or {}
    unplaced: Sequence[str] = ("",)
    masks = _masker(series)
    events: dict[tuple[int, datetime, str], int] = defaultdict(int)
    people: dict[tuple[int, datetime, str], set[int]] = defaultdict(set)
    ranking: dict[str, int] = defaultdict(int)
    for customer, at, name, channel, properties in rows:
        mask = masks(name, channel, properties)
        if not mask:
            continue
        if kind == "customer":
            groups = groups_of.get(customer) or unplaced
        elif kind:
            groups = (channel if kind == "channel" else property_text(properties, path),)
        else:
            groups = unplaced
        period = unit_floor(as_datetime(at), by)
        for group in groups:
            ranking[group] += 1
            for k in range(len(series)):
                if mask & (1 << k):
                    events[(k, period, group)] += 1
                    people[(k, period, group)].add(customer)
    ordered = sorted(ranking, key=lambda g: (-ranking[g], g))
    kept = set(ordered[:top]) if kind else set(ordered)
    result = TrendCounts(groups=[g for g in ordered if g in kept])
    other: dict[tuple[int, datetime], set[int]] = defaultdict(set)
    other_events: dict[tuple[int, datetime], int] = defaultdict(int)
    for key, n in events.items():
        k, period, group = key
        if group in kept:
            result.cells[key] = (n, len(people[key]))
        else:
            other_events[(k, period)] += n
            other[(k, period)] |= people[key]
    if other_events:
        result.groups.append(OTHER)
    for (k, period), n in other_events.items():
        result.cells[(k, period, OTHER)] = (n, len(other[(k, period)]))
    return result


def funnel_trend(
    rows: Iterable[tuple],
    *,
    steps: Sequence[Step],
    window: timedelta | None,
    by: TrendUnit | str,
    since: datetime,
    until: datetime,
    as_of: datetime,
) -> dict[datetime, tuple[int, int]]:
    """Per period of entering step 1: (customers entered, of them converted). ``rows`` as for
    :func:`trend_counts`, any order, any time (this function applies the bounds)."""
    masks = _masker(steps)
    by_customer: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for customer, at, name, channel, properties in rows:
        mask = masks(name, channel, properties)
        moment = as_datetime(at)
        if mask and since <= moment <= as_of:
            by_customer[customer].append((moment, mask))
    entered: dict[datetime, set[int]] = defaultdict(set)
    converted: dict[datetime, set[int]] = defaultdict(set)
    n = len(steps)
    for customer, found in by_customer.items():
        found.sort(key=lambda e: e[0])
        for start, mask in found:
            if not mask & 1 or start >= until:
                continue
            period = unit_floor(start, by)
            entered[period].add(customer)
            if customer in converted[period]:
                continue
            limit = start + window if window is not None else None
            prev, reached = start, 1
            for at, other in found:
                if reached == n:
                    break
                if limit is not None and at > limit:
                    break
                if at > prev and other & (1 << reached):
                    prev, reached = at, reached + 1
            if reached == n:
                converted[period].add(customer)
    return {
        period: (len(people), len(converted.get(period, ()))) for period, people in entered.items()
    }
