"""Sessions: a customer's events cut into visits, the Python reference of ``analytics.sessionsql``.

Rules (both engines):

* a customer's events (every type) are taken in order of time, then event id (the engine's
  order for ties);
* the *session id* of an event is the text of the first of the rule's properties that is
  present and not empty (``sessionId``, then ``session_id`` by default; a JSON string's content,
  any other value's JSON, as a trend breakdown reads a property);
* the first event opens session 1; each later event opens a new session when it has a session
  id and the latest earlier event of the customer that has one had a different one (a tracker's
  session id decides, whatever the gap); otherwise when more than the timeout passed since the
  previous event (a gap of exactly the timeout stays in the session);
* sessions are cut from all of a customer's events; a range then keeps the events in it (a
  funnel or path per session) or the sessions whose first event is in it (session trends);
* a session's *duration* is its last event's time minus its first's (0 for one event);
* a session is a unit :func:`unit_of` ``(customer, n)`` = ``customer · 2**20 + n``, so the
  funnel and path questions run unchanged with sessions in place of customers (a customer's
  sessions beyond 2**20 - 1 would overflow into the next customer's: not a real history).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cxloop.analytics.trendwalk import property_text, unit_floor
from cxloop.analytics.walk import as_datetime

DEFAULT_TIMEOUT = timedelta(minutes=30)
DEFAULT_PROPERTIES = ("sessionId", "session_id")
UNIT_BITS = 20
CUSTOMER, SESSION = "customer", "session"  # what a funnel or path counts
COUNT_PER = (CUSTOMER, SESSION)


@dataclass(frozen=True, slots=True)
class SessionRules:
    timeout: timedelta = DEFAULT_TIMEOUT
    properties: tuple[str, ...] = DEFAULT_PROPERTIES


def unit_of(customer: int, session: int) -> int:
    return (int(customer) << UNIT_BITS) + session


def customer_of(unit: int) -> int:
    return int(unit) >> UNIT_BITS


def session_id(properties: object, names: Sequence[str]) -> str:
    for name in names:
        text = property_text(properties, name)
        if text:
            return text
    return ""


def session_numbers(rows: Iterable[tuple], *, rules: SessionRules) -> Iterator[tuple[int, tuple]]:
    """``(session number, row)`` for rows ``(customer_id, occurred_at, properties, ...)``
    sorted by customer, time and event id; numbers start at 1 per customer."""
    customer: object = None
    number, last_at, last_sid = 0, None, ""
    for row in rows:
        at = as_datetime(row[1])
        sid = session_id(row[2], rules.properties)
        if row[0] != customer:
            customer, number, last_sid = row[0], 1, ""
        elif sid and last_sid:
            number += sid != last_sid
        elif last_at is not None and at - last_at > rules.timeout:
            number += 1
        last_at = at
        if sid:
            last_sid = sid
        yield number, row


@dataclass(frozen=True, slots=True)
class SessionPeriod:
    sessions: int
    customers: int  # customers who started one
    median_seconds: float
    mean_seconds: float


def session_trend(
    rows: Iterable[tuple],
    *,
    rules: SessionRules,
    by: str,
    since: datetime,
    until: datetime,
) -> dict[datetime, SessionPeriod]:
    """Per period of a session's first event in [since, until): how many sessions started, by
    how many customers, and the median and mean of their durations in seconds. ``rows`` as
    :func:`session_numbers`."""
    spans: dict[tuple[object, int], list[datetime]] = {}
    for number, row in session_numbers(rows, rules=rules):
        at = as_datetime(row[1])
        span = spans.get((row[0], number))
        if span is None:
            spans[(row[0], number)] = [at, at]
        else:
            span[1] = at
    durations: dict[datetime, list[float]] = defaultdict(list)
    people: dict[datetime, set[object]] = defaultdict(set)
    for (customer, _), (first, last) in spans.items():
        if since <= first < until:
            durations[unit_floor(first, by)].append((last - first).total_seconds())
            people[unit_floor(first, by)].add(customer)
    return {
        period: SessionPeriod(
            sessions=len(found),
            customers=len(people[period]),
            median_seconds=statistics.median(found),
            mean_seconds=statistics.fmean(found),
        )
        for period, found in durations.items()
    }
