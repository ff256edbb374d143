"""Which events go with converting in a funnel: the counts behind the correlation view.

A customer who entered the funnel (reached step 1, by the funnel's mode and exclusions) *did* an
event when they have one with that name at or after the start counted for them and no later
than the start plus the conversion window (any time after the start without a window). The
funnel's own step events are not candidates (they are the conversion itself). Each candidate
comes with how many converted (reached the last step) and how many dropped customers did it;
the statistics (odds ratios, Fisher's exact test, Holm) are the journeys app's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cxloop.analytics.walk import FunnelRun, _bounder, properties_of


@dataclass(slots=True)
class FunnelCorrelation:
    entered: int
    converted: int
    # event name → (converted customers who did it, dropped customers who did it)
    events: dict[str, tuple[int, int]] = field(default_factory=dict)


def correlation_counts(
    run: FunnelRun, rows: Iterable[tuple], *, window: timedelta | None, steps: set[str]
) -> FunnelCorrelation:
    """The reference count from a walked funnel and ``rows`` of ``(customer_id, occurred_at,
    name)`` (any order, times as the database returns them)."""
    n = run.steps
    converted = {c for c, d in run.depth.items() if d == n}
    found = FunnelCorrelation(entered=len(run.depth), converted=len(converted))
    if not run.depth:
        return found
    bound = _bounder(next(iter(run.times.values()))[0], window)
    limits = {c: (times[0], bound(times[0])) for c, times in run.times.items()}
    seen: dict[str, set[int]] = {}
    for customer, at, name in rows:
        if not name or name in steps:
            continue
        span = limits.get(customer)
        if span is None or at < span[0] or (span[1] is not None and at > span[1]):
            continue
        seen.setdefault(name, set()).add(customer)
    for name, people in seen.items():
        won = len(people & converted)
        found.events[name] = (won, len(people) - won)
    return found


# ------------------------------------------------------------------ event property values

MAX_PROPERTY_VALUES = 20  # a key with more distinct values on the entrants' events is skipped
CHANNEL_KEY = "channel"  # the event's own channel (a column, split on elsewhere): not a candidate

# (event name, property key, kind, value) → (converted customers, dropped customers); kind "s"
# text, "b" yes/no, "n" a number (whole numbers as int: 5 and 5.0 are one value)
PropertyCounts = dict[tuple[str, str, str, object], tuple[int, int]]


def property_value(value: object) -> tuple[str, object] | None:
    """``(kind, value)`` of a top-level property value that can be a candidate, else None:
    text (not empty), yes/no, or a number (an integral float as int); the kinds keep "5" and 5
    apart, as the engine's query does."""
    if isinstance(value, bool):
        return "b", value
    if isinstance(value, int | float):
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            return None
        return "n", int(number) if number.is_integer() else number
    if isinstance(value, str) and value != "":
        return "s", value
    return None


def property_counts(
    run: FunnelRun,
    rows: Iterable[tuple],
    *,
    window: timedelta | None,
    last_step: str,
    max_values: int = MAX_PROPERTY_VALUES,
) -> PropertyCounts:
    """The reference count of event property values that entrants' events carried between
    their start and the end of their window, from a walked funnel and ``rows`` of
    ``(customer_id, occurred_at, name, properties)``: top-level properties (not ``channel``) of
    events other than the last step's; keys with more than ``max_values`` distinct values are left out."""
    n = run.steps
    if not run.depth:
        return {}
    converted = {c for c, d in run.depth.items() if d == n}
    bound = _bounder(next(iter(run.times.values()))[0], window)
    limits = {c: (times[0], bound(times[0])) for c, times in run.times.items()}
    seen: dict[tuple[str, str], dict[tuple[str, object], set[int]]] = {}
    for customer, at, name, properties in rows:
        if not name or name == last_step:
            continue
        span = limits.get(customer)
        if span is None or at < span[0] or (span[1] is not None and at > span[1]):
            continue
        for key, raw in properties_of(properties).items():
            if key == CHANNEL_KEY:
                continue
            typed = property_value(raw)
            if typed is not None:
                seen.setdefault((name, key), {}).setdefault(typed, set()).add(customer)
    found: PropertyCounts = {}
    for (name, key), values in seen.items():
        if len(values) > max_values:
            continue
        for (kind, value), people in values.items():
            won = len(people & converted)
            found[(name, key, kind, value)] = (won, len(people) - won)
    return found


@dataclass(slots=True)
class FunnelWhy:
    """Everything "why they dropped" asks of the engine, from one funnel computation: each
    entrant's depth (for their traits), the event counts and, when asked, the property value
    counts."""

    steps: int
    depth: dict[int, int]  # entrant (customer, or session unit) → steps reached
    correlation: FunnelCorrelation
    properties: PropertyCounts | None = None


def why_in_parts(engine: Any, *, properties: bool, max_values: int, **question: Any) -> FunnelWhy:
    """:class:`FunnelWhy` from the engine's separate questions (each computes the funnel): for
    engines that cannot keep one result for several parts of a query."""
    run = engine.funnel(**question)
    return FunnelWhy(
        steps=run.steps,
        depth=dict(run.depth),
        correlation=engine.funnel_correlation(**question),
        properties=(
            engine.funnel_property_correlation(**question, max_values=max_values)
            if properties
            else None
        ),
    )


def property_row(row: Sequence) -> tuple[tuple[str, str, str, object], tuple[int, int]]:
    """One row of ``funnelsql.property_correlation_sql`` (event, key, kind, text, number, won,
    lost) as a :data:`PropertyCounts` item."""
    event, key, kind, text, number, won, lost = row
    value: object
    if kind == "b":
        value = text == "true"
    elif kind == "n":
        number = float(number)
        value = int(number) if number.is_integer() else number
    else:
        value = text
    return (str(event), str(key), str(kind), value), (int(won), int(lost))
