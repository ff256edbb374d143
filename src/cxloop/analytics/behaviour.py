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
from dataclasses import dataclass, field
from datetime import datetime

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
