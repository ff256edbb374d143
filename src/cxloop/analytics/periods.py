"""Periods in SQL and in Python: the day, ISO week (Monday) or month holding a timestamp."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from django.db import NotSupportedError
from django.db.models import DateField, Func

DEFAULT_RANGE_DAYS = 90  # an analysis's range when none is chosen: the last 90 days


def day_span(first: date, last: date, as_of: datetime) -> tuple[datetime, datetime]:
    """Days ``first``..``last`` measured as of ``as_of``: the events in [since, until) (never
    past the as-of time)."""
    since = datetime.combine(first, time(), tzinfo=UTC)
    until = min(
        datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC),
        as_of + timedelta(microseconds=1),
    )
    return since, max(until, since)


def default_days(as_of: datetime) -> tuple[date, date]:
    """The default range's first and last day: the last 90 days up to the as-of time."""
    last = as_of.astimezone(UTC).date()
    return last - timedelta(days=DEFAULT_RANGE_DAYS - 1), last


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, starting on Monday
    MONTH = "month"


class PeriodStart(Func):
    """The first day (a date, UTC) of the day, ISO week (Monday) or month holding a timestamp."""

    output_field = DateField()

    def __init__(self, expression, granularity: Granularity | str) -> None:
        super().__init__(expression)
        self.granularity = Granularity(granularity)

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        modifiers = {
            Granularity.DAY: "",
            # back 6 days, then forward to the next Monday (or stay): the Monday on or before
            Granularity.WEEK: ", '-6 days', 'weekday 1'",
            Granularity.MONTH: ", 'start of month'",
        }[self.granularity]
        return f"date({sql}{modifiers})", params

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        unit = self.granularity.value  # fixed vocabulary, never user text
        return f"CAST(date_trunc('{unit}', {sql} AT TIME ZONE 'UTC') AS date)", params

    def as_sql(self, compiler, connection, **extra):
        raise NotSupportedError(f"PeriodStart has no SQL for {connection.vendor}")


def period_floor(value: date | datetime, by: Granularity | str) -> date:
    """The start of the period holding ``value`` (the Python twin of :class:`PeriodStart`)."""
    day = value.astimezone(UTC).date() if isinstance(value, datetime) else value
    if by == Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    if by == Granularity.MONTH:
        return day.replace(day=1)
    return day


def period_next(start: date, by: Granularity | str) -> date:
    """The start of the period after the one starting on ``start``."""
    if by == Granularity.DAY:
        return start + timedelta(days=1)
    if by == Granularity.WEEK:
        return start + timedelta(days=7)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return date(year, month, 1)
