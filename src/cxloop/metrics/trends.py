"""Trends: events and unique customers per hour/day/week/month for one or more series (an event
with optional channel and property conditions), broken down by channel, a property or the
customer (a trait, saved segments, a journey stage: groups resolved by the caller), with
formulas between series; and funnel conversion per period with Wilson intervals.

One selector per question (:func:`trend_report`, :func:`conversion_trend`), used by the trends
page and ``/api/trends``. Counting happens in the analytics engine
(``analytics.selectors.trend_counts`` / ``funnel_trend``); this module fills the periods, applies
formulas and states the range and the as-of time the numbers are measured at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from cxloop.analytics import selectors as analytics_selectors
from cxloop.analytics.periods import DEFAULT_RANGE_DAYS, day_span
from cxloop.analytics.steps import Step
from cxloop.analytics.trendwalk import (
    CustomerGroups,
    TrendCounts,
    TrendUnit,
    breakdown_key,
    unit_floor,
    unit_next,
)
from cxloop.core.models import Workspace
from cxloop.metrics import definitions as d
from cxloop.metrics.definitions import Estimate

LETTERS = "ABCDE"
MAX_SERIES = len(LETTERS)
MAX_FORMULAS = 3
MAX_FORMULA_LENGTH = 200
MAX_TOP = 20  # breakdown values kept (the rest is "other"), page and API alike
MAX_PERIODS = 1_000  # e.g. 41 days by the hour: a chart and table still readable
DEFAULT_DAYS = DEFAULT_RANGE_DAYS
MEASURES = ("events", "customers")
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(2299, 12, 30)  # the engine's calendar
OTHER_LABEL = "other"
NONE_LABEL = "(none)"
# series that count sessions (``analytics.sessions``) instead of events: sessions started per
# period (customers: who started one), and their duration in seconds (median; mean beside it)
SESSIONS, SESSION_DURATION = "$sessions", "$session_duration"
SESSION_SERIES = {SESSIONS: "Sessions", SESSION_DURATION: "Session duration (s)"}


class TrendQueryError(ValueError):
    """Bad trend parameters (what and where)."""


# ---------------------------------------------------------------------------- range and as-of


@dataclass(frozen=True, slots=True)
class Range:
    """Days ``first``..``last`` (inclusive), measured as of ``as_of``: events in [since, until)."""

    first: date
    last: date
    as_of: datetime
    as_of_reason: str
    since: datetime
    until: datetime


def trend_range(
    *,
    workspace: Workspace,
    date_from: date | None = None,
    date_to: date | None = None,
    now: datetime | None = None,
) -> Range:
    """The range asked for, or the last 90 days of the workspace's data, up to its as-of time
    (now for live data, the latest event for imported history)."""
    as_of, reason = analytics_selectors.trend_as_of(workspace=workspace, now=now)
    last = date_to or as_of.astimezone(UTC).date()
    if not EARLIEST_DAY <= last <= LATEST_DAY:  # first: the default ``from`` is counted from it
        raise TrendQueryError(f"to: {last} is outside {EARLIEST_DAY}–{LATEST_DAY}")
    first = date_from or last - timedelta(days=DEFAULT_DAYS - 1)
    if not EARLIEST_DAY <= first <= LATEST_DAY:
        raise TrendQueryError(f"from: {first} is outside {EARLIEST_DAY}–{LATEST_DAY}")
    if first > last:
        raise TrendQueryError(f"from: {first} is after to: {last}")
    since, until = day_span(first, last, as_of)
    return Range(first, last, as_of, reason, since, until)


def periods_of(span: Range, unit: TrendUnit | str) -> list[datetime]:
    """Every period from the one holding ``since`` to the one holding the range's last moment."""
    periods: list[datetime] = []
    period = unit_floor(span.since, unit)
    while period < span.until:
        periods.append(period)
        if len(periods) > MAX_PERIODS:
            raise TrendQueryError(
                f"by: {len(periods)}+ {unit}s in this range (at most {MAX_PERIODS}); "
                "choose a longer period or a shorter range"
            )
        period = unit_next(period, unit)
    return periods


# ---------------------------------------------------------------------------- formulas

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z])|(.))")
Value = float | None
Formula = Callable[[dict[str, Value]], Value]


def formula_parse(text: str, letters: str) -> Formula:
    """A formula over series letters (``B / A``, ``(A + B) * 100 / C``): + - * /, parentheses,
    numbers. The result is None where a division is by zero or a series has no value."""
    if len(text) > MAX_FORMULA_LENGTH:
        raise TrendQueryError(f"formula: at most {MAX_FORMULA_LENGTH} characters")
    tokens: list[tuple[str, str]] = []
    for number, letter, other in _TOKEN.findall(text.strip()):
        if number:
            tokens.append(("num", number))
        elif letter:
            if letter.upper() not in letters:
                raise TrendQueryError(
                    f"formula {text!r}: no series {letter.upper()} (series: {', '.join(letters)})"
                )
            tokens.append(("ref", letter.upper()))
        elif other.strip():
            if other not in "+-*/()":
                raise TrendQueryError(f"formula {text!r}: unexpected {other!r}")
            tokens.append(("op", other))
    if not tokens:
        raise TrendQueryError("formula: empty (e.g. B / A)")
    position = 0

    def peek() -> str:
        return tokens[position][1] if position < len(tokens) else ""

    def take() -> tuple[str, str]:
        nonlocal position
        if position >= len(tokens):
            raise TrendQueryError(f"formula {text!r}: ends too early")
        position += 1
        return tokens[position - 1]

    def factor() -> Formula:
        kind, symbol = take()
        if kind == "num":
            number = float(symbol)
            return lambda values: number
        if kind == "ref":
            return lambda values: values.get(symbol)
        if symbol == "-":
            inner = factor()
            return lambda values: None if (v := inner(values)) is None else -v
        if symbol == "(":
            inner = expression()
            if peek() != ")":
                raise TrendQueryError(f"formula {text!r}: missing ')'")
            take()
            return inner
        raise TrendQueryError(f"formula {text!r}: unexpected {symbol!r}")

    def term() -> Formula:
        result = factor()
        while peek() in ("*", "/"):
            op, right, left = take()[1], factor(), result
            result = _combine(left, right, op)
        return result

    def expression() -> Formula:
        result = term()
        while peek() in ("+", "-"):
            op, right, left = take()[1], term(), result
            result = _combine(left, right, op)
        return result

    parsed = expression()
    if position != len(tokens):
        raise TrendQueryError(f"formula {text!r}: unexpected {tokens[position][1]!r}")
    return parsed


def _combine(left: Formula, right: Formula, op: str) -> Formula:
    def apply(values: dict[str, Value]) -> Value:
        a, b = left(values), right(values)
        if a is None or b is None:
            return None
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        return None if b == 0 else a / b

    return apply


# ---------------------------------------------------------------------------- trends


@dataclass(slots=True)
class TrendLine:
    """One series (letter ``key``) in one breakdown group ('' without a breakdown, None for
    the values outside the top ones): events and unique customers per period."""

    key: str
    label: str
    group: str | None
    events: list[int]
    customers: list[int]
    # a session duration series: seconds per period (None: no session started in it)
    median_seconds: list[float | None] | None = None
    mean_seconds: list[float | None] | None = None

    def values(self, measure: str) -> Sequence[float | None]:
        if self.median_seconds is not None:
            return self.median_seconds
        return self.customers if measure == "customers" else self.events


@dataclass(slots=True)
class FormulaLine:
    expression: str
    group: str | None
    values: list[float | None]


@dataclass(slots=True)
class TrendReport:
    unit: str
    measure: str
    span: Range
    breakdown: str
    periods: list[datetime] = field(default_factory=list)
    lines: list[TrendLine] = field(default_factory=list)
    formulas: list[FormulaLine] = field(default_factory=list)


def group_label(group: str | None) -> str:
    if group is None:
        return OTHER_LABEL
    return group or NONE_LABEL


def trend_report(
    *,
    workspace: Workspace,
    series: Sequence[Step],
    labels: Sequence[str] = (),
    unit: TrendUnit | str = TrendUnit.DAY,
    measure: str = "events",
    date_from: date | None = None,
    date_to: date | None = None,
    breakdown: str = "",
    top: int = 5,
    formulas: Sequence[str] = (),
    now: datetime | None = None,
    customer_groups: CustomerGroups | None = None,
    unplaced: str = "",
) -> TrendReport:
    """Events and unique customers per period for each series (and breakdown group), with
    ``formulas`` over the series letters in ``measure`` (events or customers).

    A breakdown by customer (``trait:``, ``segment:``, ``segments:``, ``stage:``) needs
    ``customer_groups``, each customer's groups as resolved in the system of record (see
    ``segments.selectors.trend_split_report``, the page's and the API's one way in); the
    customers in none are shown as ``unplaced`` (default "(none)")."""
    if not series:
        raise TrendQueryError("series: pick at least one event")
    if len(series) > MAX_SERIES:
        raise TrendQueryError(f"series: at most {MAX_SERIES} ({len(series)} given)")
    if len(formulas) > MAX_FORMULAS:
        raise TrendQueryError(f"formulas: at most {MAX_FORMULAS} ({len(formulas)} given)")
    if measure not in MEASURES:
        raise TrendQueryError(f"measure: expected events or customers, got {measure!r}")
    if not 1 <= top <= MAX_TOP:
        raise TrendQueryError(f"top: between 1 and {MAX_TOP}")
    try:
        unit = TrendUnit(unit)
        kind, _ = breakdown_key(breakdown)
    except ValueError as exc:
        raise TrendQueryError(str(exc) if "breakdown" in str(exc) else f"by: {exc}") from exc
    if kind == "customer" and customer_groups is None:
        raise TrendQueryError(f"breakdown: {breakdown!r} needs each customer's groups")
    letters = LETTERS[: len(series)]
    _check_session_series(series, letters, breakdown)
    parsed = [(text.strip(), formula_parse(text, letters)) for text in formulas if text.strip()]
    span = trend_range(workspace=workspace, date_from=date_from, date_to=date_to, now=now)
    report = TrendReport(unit=unit.value, measure=measure, span=span, breakdown=breakdown)
    report.periods = periods_of(span, unit)
    counted = [k for k, step in enumerate(series) if step.event not in SESSION_SERIES]
    found = TrendCounts()
    if counted:
        found = analytics_selectors.trend_counts(
            workspace=workspace, series=[series[k] for k in counted], by=unit.value,
            since=span.since, until=span.until, breakdown=breakdown, top=top,
            customer_groups=customer_groups,
        )  # fmt: skip
    sessions: dict = {}
    if len(counted) < len(series):
        sessions = analytics_selectors.session_trend(
            workspace=workspace, by=unit.value, since=span.since, until=span.until
        )
    groups = found.groups or [""]
    for group in groups:
        shown = unplaced if group == "" and unplaced else group
        for k, step in enumerate(series):
            label = labels[k] if k < len(labels) and labels[k] else None
            if step.event in SESSION_SERIES:
                report.lines.append(_session_line(step.event, letters[k], label, sessions, report))
                continue
            cells = [found.cells.get((counted.index(k), p, group), (0, 0)) for p in report.periods]
            report.lines.append(
                TrendLine(
                    key=letters[k],
                    label=label or step.event,
                    group=shown if breakdown else "",
                    events=[c[0] for c in cells],
                    customers=[c[1] for c in cells],
                )
            )
        for expression, formula in parsed:
            of_group = {
                line.key: line.values(measure)
                for line in report.lines
                if line.group == (shown if breakdown else "")
            }
            report.formulas.append(
                FormulaLine(
                    expression=expression,
                    group=shown if breakdown else "",
                    values=[
                        formula(
                            {
                                key: None if v[i] is None else float(v[i])  # type: ignore[arg-type]
                                for key, v in of_group.items()
                            }
                        )
                        for i in range(len(report.periods))
                    ],
                )
            )
    return report


def _check_session_series(series: Sequence[Step], letters: str, breakdown: str) -> None:
    for letter, step in zip(letters, series, strict=True):
        if step.event not in SESSION_SERIES:
            continue
        if step.channel or step.conditions:
            raise TrendQueryError(f"series {letter}: sessions take no channel or conditions")
        if breakdown:
            raise TrendQueryError(f"breakdown: series {letter} (sessions) cannot be broken down")


def _session_line(
    kind: str, key: str, label: str | None, found: dict, report: TrendReport
) -> TrendLine:
    """A session series: sessions started (customers: who started one) per period; for the
    duration, the median and mean seconds too (a one-event session lasts 0 s)."""
    cells = [found.get(period) for period in report.periods]
    line = TrendLine(
        key=key,
        label=label or SESSION_SERIES[kind],
        group="",
        events=[c.sessions if c else 0 for c in cells],
        customers=[c.customers if c else 0 for c in cells],
    )
    if kind == SESSION_DURATION:
        line.median_seconds = [c.median_seconds if c else None for c in cells]
        line.mean_seconds = [c.mean_seconds if c else None for c in cells]
    return line


def trend_table(report: TrendReport) -> tuple[list[str], list[list[object]]]:
    """The report as a table: a row per period; a column per series (in the report's measure)
    and per formula, named with their group when broken down."""

    def name(base: str, group: str | None) -> str:
        return f"{base} · {group_label(group)}" if report.breakdown else base

    header = ["period"]
    columns: list[Sequence[object]] = []
    for group in dict.fromkeys(line.group for line in report.lines):
        for line in report.lines:
            if line.group == group:
                header.append(name(f"{line.key}: {line.label}", group))
                columns.append(line.values(report.measure))
                if line.mean_seconds is not None:
                    header[-1] += " (median)"
                    header.append(f"{line.key}: {line.label} (mean)")
                    columns.append(line.mean_seconds)
        for formula in report.formulas:
            if formula.group == group:
                header.append(name(formula.expression, group))
                columns.append([None if v is None else round(v, 6) for v in formula.values])
    rows = [
        [period_text(period, report.unit), *(column[i] for column in columns)]
        for i, period in enumerate(report.periods)
    ]
    return header, rows


def period_text(period: datetime, unit: str) -> str:
    if unit == TrendUnit.HOUR:
        return period.strftime("%Y-%m-%d %H:00")
    if unit == TrendUnit.MONTH:
        return period.strftime("%Y-%m")
    return period.date().isoformat()


# ---------------------------------------------------------------------------- funnel conversion


@dataclass(frozen=True, slots=True)
class ConversionPoint:
    """Customers entering step 1 in ``period``; of them, those completing the last step within
    the window; ``rate`` with its Wilson 95 % interval. ``complete``: the window of every start
    in the period has ended by the as-of time (otherwise the rate can still rise)."""

    period: datetime
    entered: int
    converted: int
    rate: Estimate
    complete: bool


@dataclass(slots=True)
class ConversionTrend:
    unit: str
    span: Range
    window: timedelta | None
    points: list[ConversionPoint] = field(default_factory=list)


def conversion_trend(
    *,
    workspace: Workspace,
    steps: Sequence[Step],
    window: timedelta | None,
    unit: TrendUnit | str = TrendUnit.WEEK,
    date_from: date | None = None,
    date_to: date | None = None,
    now: datetime | None = None,
) -> ConversionTrend:
    """Funnel conversion per period of entering step 1, each point with its Wilson interval."""
    if len(steps) < 2:
        raise TrendQueryError("steps: a funnel needs at least 2 steps")
    try:
        unit = TrendUnit(unit)
    except ValueError as exc:
        raise TrendQueryError(f"by: {exc}") from exc
    span = trend_range(workspace=workspace, date_from=date_from, date_to=date_to, now=now)
    result = ConversionTrend(unit=unit.value, span=span, window=window)
    found = analytics_selectors.funnel_trend(
        workspace=workspace, steps=steps, window=window, by=unit.value, since=span.since,
        until=span.until, as_of=span.as_of,
    )  # fmt: skip
    for period in periods_of(span, unit):
        entered, converted = found.get(period, (0, 0))
        ends = min(unit_next(period, unit), span.until)
        complete = window is not None and ends + window <= span.as_of
        result.points.append(
            ConversionPoint(
                period=period,
                entered=entered,
                converted=converted,
                rate=d.proportion(hits=converted, n=entered),
                complete=complete,
            )
        )
    return result
