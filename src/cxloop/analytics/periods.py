"""Periods in SQL and in Python: the day, ISO week (Monday) or month holding a timestamp."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from django.db import NotSupportedError
from django.db.models import DateField, Func


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
