"""Reads for events: a customer's timeline, workspace-wide counts, and the base queries other
apps compose (filters, subqueries) instead of importing the ``Event`` model."""

from __future__ import annotations

import math
from datetime import datetime

from django.db.models import Count, Max, QuerySet

from cxloop.core.models import Workspace
from cxloop.events.models import Event, EventType


def workspace_events(*, workspace: Workspace) -> QuerySet[Event]:
    """Every event of ``workspace``, unordered: a base query other apps keep filtering,
    aggregating or using as a subquery (``values("customer_id")``, ``OuterRef``)."""
    return Event.objects.filter(workspace=workspace)


def customer_timeline(
    *, customer_id: int, channel: str = "", event_type: str = "", name: str = ""
) -> QuerySet[Event]:
    """Every interaction of one (live) customer, newest first, optionally filtered."""
    events = Event.objects.filter(customer_id=customer_id)
    if channel:
        events = events.filter(channel=channel)
    if event_type:
        events = events.filter(type=event_type)
    if name:
        events = events.filter(name=name)
    return events.order_by("-occurred_at", "-pk")


def customer_timeline_facets(*, customer_id: int) -> dict[str, list[tuple[str, int]]]:
    """Channels, event types and event names a customer has, with counts (for filter menus)."""
    events = Event.objects.filter(customer_id=customer_id)
    return {
        field: [
            (row[field], row["n"])
            for row in events.values(field).annotate(n=Count("pk")).order_by("-n", field)
        ]
        for field in ("channel", "type", "name")
    }


def event_count(*, workspace: Workspace) -> int:
    return Event.objects.filter(workspace=workspace).count()


def events_by_channel(*, workspace: Workspace) -> list[tuple[str, int]]:
    rows = Event.objects.filter(workspace=workspace).values("channel").annotate(n=Count("pk"))
    return [(row["channel"], row["n"]) for row in rows.order_by("-n")]


def latest_event_id(*, workspace_id: int) -> int:
    """The highest event id stored for the workspace (0 when it has none): a scan cursor."""
    return Event.objects.filter(workspace_id=workspace_id).aggregate(m=Max("pk"))["m"] or 0


def events_after(
    *, workspace_id: int, name: str, after_id: int, up_to_id: int, limit: int
) -> list[Event]:
    """Events named ``name`` with an id in (after_id, up_to_id], oldest id first, at most
    ``limit`` (only the fields trigger scans read are loaded)."""
    return list(
        Event.objects.filter(
            workspace_id=workspace_id, name=name, pk__gt=after_id, pk__lte=up_to_id
        )
        .only("pk", "customer_id", "name", "channel", "properties", "occurred_at", "received_at")
        .order_by("pk")[:limit]
    )


def event_latest_at(*, workspace: Workspace) -> datetime | None:
    """When the workspace's latest event happened (None when it has none): the default "as of"
    for analyses of imported history."""
    return Event.objects.filter(workspace=workspace).aggregate(m=Max("occurred_at"))["m"]


REVENUE_KEYS = ("revenue", "total", "value")


def event_amount(properties: object) -> float:
    """The money an event carries: ``revenue``, else ``total``, else ``value`` (Segment's
    e-commerce spec); 0 when none is a number."""
    if not isinstance(properties, dict):
        return 0.0
    for key in REVENUE_KEYS:
        raw = properties.get(key)
        if raw is None or isinstance(raw, bool):
            continue
        try:
            amount = float(raw)
        except (TypeError, ValueError):
            continue
        if math.isfinite(amount):
            return amount
    return 0.0


def purchases_by_customer(
    *, workspace: Workspace, name: str, until: datetime
) -> list[tuple[int, datetime, float]]:
    """Every track event named ``name`` (a purchase) up to ``until``: (customer id, when,
    amount), ordered by customer and time."""
    rows = (
        Event.objects.filter(
            workspace=workspace, type=EventType.TRACK, name=name, occurred_at__lte=until
        )
        .order_by("customer_id", "occurred_at")
        .values_list("customer_id", "occurred_at", "properties")
    )
    return [
        (customer_id, occurred_at, event_amount(properties))
        for customer_id, occurred_at, properties in rows.iterator(chunk_size=5000)
    ]


def event_activity(*, workspace: Workspace, until: datetime) -> list[tuple[int, datetime, str]]:
    """Every event up to ``until`` as (customer id, when, name): what recency of activity and
    counts of support contacts are computed from."""
    rows = Event.objects.filter(workspace=workspace, occurred_at__lte=until).values_list(
        "customer_id", "occurred_at", "name"
    )
    return list(rows.iterator(chunk_size=5000))
