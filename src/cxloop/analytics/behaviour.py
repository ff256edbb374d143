"""Each customer's behaviour in aggregate, the numbers personas cluster on: step events per
channel with the first and last time, per event name, the first time of each track event, and
the revenue of their orders; over a range of time (``since`` inclusive, ``until`` exclusive)
when one is given. The Python reference over the database's events (the engine's SQL
is ``analytics.behavioursql``; ``analytics.sqlengine`` runs this).

A step event is a named track/page/screen event. Revenue is the orders' ``properties.revenue``:
a number, or text that reads as a finite number; anything else (true/false, objects, absent)
counts 0.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db.models import Count, Max, Min

from cxloop.analytics.pathwalk import _step_events
from cxloop.core.models import Workspace


@dataclass
class BehaviourCounts:
    """Per customer with at least one step event."""

    channels: dict[int, Counter[str]] = field(default_factory=dict)  # channel → step events
    first: dict[int, datetime] = field(default_factory=dict)  # first step event
    last: dict[int, datetime] = field(default_factory=dict)  # last step event
    names: dict[int, Counter[str]] = field(default_factory=dict)  # event name → step events
    first_track: dict[int, dict[str, datetime]] = field(default_factory=dict)  # track → first
    revenue: dict[int, float] = field(default_factory=dict)  # customers with an order only


def revenue_number(value: object) -> float:
    """One order's revenue: a finite number, or text that reads as one; else 0."""
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return 0.0
        return number if math.isfinite(number) else 0.0
    return 0.0


def behaviour_walk(
    *,
    workspace_id: int,
    order_event: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> BehaviourCounts:
    """:class:`BehaviourCounts` from three aggregate queries (no per-event rows but the
    orders' revenues), over the events in ``since <= occurred_at < until`` (an open side:
    unbounded)."""
    events = _step_events(Workspace(pk=workspace_id), since, until)
    found = BehaviourCounts()
    channels: dict[int, Counter[str]] = defaultdict(Counter)
    per_channel = events.values_list("customer_id", "channel").annotate(
        n=Count("pk"), first=Min("occurred_at"), last=Max("occurred_at")
    )
    for customer_id, channel, n, began, ended in per_channel.order_by():
        channels[customer_id][channel] += n
        found.first[customer_id] = min(began, found.first.get(customer_id, began))
        found.last[customer_id] = max(ended, found.last.get(customer_id, ended))
    found.channels = dict(channels)
    names: dict[int, Counter[str]] = defaultdict(Counter)
    first_track: dict[int, dict[str, datetime]] = defaultdict(dict)
    rows = events.values_list("customer_id", "name", "type").annotate(
        n=Count("pk"), at=Min("occurred_at")
    )
    for customer_id, name, kind, n, at in rows.order_by():
        if kind == "track":
            first_track[customer_id][name] = at
        names[customer_id][name] += n
    found.names, found.first_track = dict(names), dict(first_track)
    orders = events.filter(name=order_event).values_list("customer_id", "properties__revenue")
    for customer_id, amount in orders.order_by().iterator(chunk_size=5000):
        found.revenue[customer_id] = found.revenue.get(customer_id, 0.0) + revenue_number(amount)
    return found


# ------------------------------------------------------------------ as arrays

_MICROS = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class BehaviourVectors:
    """:class:`BehaviourCounts` as arrays, what clustering reads: row ``i`` is the customer
    ``customer_ids[i]`` (ascending); times are microseconds since the epoch (UTC). Channel counts
    and first track events are long tables (a row per customer and channel or event name, in
    row then code order), codes indexing ``channels`` and ``tracks`` (both sorted)."""

    customer_ids: np.ndarray  # int64
    first: np.ndarray  # int64 µs: first step event
    last: np.ndarray  # int64 µs: last step event
    orders: np.ndarray  # int64: step events named the order event
    support: np.ndarray  # int64: step events named one of the support events
    returns: np.ndarray  # int64: step events named one of the return events
    revenue: np.ndarray  # float64: the orders' revenue (0 without orders)
    channels: list[str]
    channel_row: np.ndarray  # int64
    channel_code: np.ndarray  # int64
    channel_n: np.ndarray  # int64: step events
    tracks: list[str]
    track_row: np.ndarray  # int64
    track_code: np.ndarray  # int64
    track_first: np.ndarray  # int64 µs: the customer's first track event of the name

    def __len__(self) -> int:
        return len(self.customer_ids)


def to_micros(at: datetime) -> int:
    return (at - _EPOCH) // _MICROS


def long_table(rows: np.ndarray, codes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
    """``rows``, ``codes``, ``values`` as int64, ordered by row then code (both engines alike)."""
    rows, codes, values = (np.asarray(a, dtype=np.int64) for a in (rows, codes, values))
    order = np.lexsort((codes, rows))
    return rows[order], codes[order], values[order]


def vectors_from_counts(
    found: BehaviourCounts,
    *,
    order_event: str,
    support_events: Sequence[str],
    return_events: Sequence[str],
) -> BehaviourVectors:
    """``found`` as :class:`BehaviourVectors` (the SQL engine's answer, from its walk)."""
    ids = sorted(found.channels)
    channels = sorted({c for by_channel in found.channels.values() for c in by_channel})
    tracks = sorted({n for firsts in found.first_track.values() for n in firsts})
    channel_code = {c: i for i, c in enumerate(channels)}
    track_code = {n: i for i, n in enumerate(tracks)}
    channel_rows: list[tuple[int, int, int]] = []
    track_rows: list[tuple[int, int, int]] = []
    for row, customer_id in enumerate(ids):
        for channel, n in found.channels[customer_id].items():
            channel_rows.append((row, channel_code[channel], n))
        for name, at in found.first_track.get(customer_id, {}).items():
            track_rows.append((row, track_code[name], to_micros(at)))
    c = np.array(channel_rows, dtype=np.int64).reshape(-1, 3)
    t = np.array(track_rows, dtype=np.int64).reshape(-1, 3)
    names = [found.names.get(i, Counter()) for i in ids]
    c_row, c_code, c_n = long_table(c[:, 0], c[:, 1], c[:, 2])
    t_row, t_code, t_first = long_table(t[:, 0], t[:, 1], t[:, 2])
    return BehaviourVectors(
        customer_ids=np.array(ids, dtype=np.int64),
        first=np.array([to_micros(found.first[i]) for i in ids], dtype=np.int64),
        last=np.array([to_micros(found.last[i]) for i in ids], dtype=np.int64),
        orders=np.array([n[order_event] for n in names], dtype=np.int64),
        support=np.array([sum(n[e] for e in set(support_events)) for n in names], dtype=np.int64),
        returns=np.array([sum(n[e] for e in set(return_events)) for n in names], dtype=np.int64),
        revenue=np.array([found.revenue.get(i, 0.0) for i in ids], dtype=np.float64),
        channels=channels,
        channel_row=c_row,
        channel_code=c_code,
        channel_n=c_n,
        tracks=tracks,
        track_row=t_row,
        track_code=t_code,
        track_first=t_first,
    )
