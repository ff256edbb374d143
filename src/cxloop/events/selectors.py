"""Reads for events: a customer's timeline, workspace-wide counts, and the base queries other
apps compose (filters, subqueries) instead of importing the ``Event`` model."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from django.db import connection
from django.db.models import Count, Max, Min, QuerySet

from cxloop.core.models import Workspace
from cxloop.events.models import Event, EventOutbox, EventType


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


def event_max_id() -> int:
    """The highest event id in the whole table (0 when empty): a position in the event stream
    for jobs that read what arrived since (one index lookup; it tells nothing about anyone)."""
    return Event.objects.aggregate(m=Max("pk"))["m"] or 0


def customers_with_events_after(
    *, workspace_id: int, after_id: int, names: Sequence[str]
) -> set[int]:
    """Who has an event named one of ``names`` with an id above ``after_id`` in the workspace.
    Reads the id range (the primary key) and keeps the workspace's rows in Python, so the
    planner never trades the range for a scan of the workspace's whole index."""
    rows = Event.objects.filter(pk__gt=after_id, name__in=sorted(set(names))).values_list(
        "workspace_id", "customer_id"
    )
    return {customer for workspace, customer in rows.iterator(5000) if workspace == workspace_id}


def events_count_after(*, workspace_id: int, after_id: int, limit: int) -> tuple[int, bool]:
    """How many of the workspace's events have an id above ``after_id``, reading at most the
    next ``limit`` ids of all workspaces (the primary key's range, never the workspace's whole
    index): (count, complete), where complete is False when more ids lay beyond ``limit``."""
    rows = list(
        Event.objects.filter(pk__gt=after_id)
        .order_by("pk")
        .values_list("workspace_id", flat=True)[: limit + 1]
    )
    return sum(1 for w in rows[:limit] if w == workspace_id), len(rows) <= limit


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


# ------------------------------------------------------------------ the analytics engine's feed

ENGINE_COLUMNS = ("id", "customer_id", "occurred_at", "type", "name", "channel", "properties")


def outbox_pending(*, limit: int) -> list[EventOutbox]:
    """The oldest outbox entries the analytics engine has not copied yet, in the order written."""
    return list(EventOutbox.objects.order_by("pk")[:limit])


def outbox_backlog(*, workspace_id: int | None = None) -> tuple[int, datetime | None]:
    """How many outbox entries wait (of one workspace, or all), and when the oldest was written
    (None: nothing waits)."""
    entries = EventOutbox.objects.all()
    if workspace_id is not None:
        entries = entries.filter(workspace_id=workspace_id)
    row = entries.aggregate(n=Count("pk"), oldest=Min("created_at"))
    return row["n"], row["oldest"]


def engine_rows(
    *,
    workspace_id: int | None = None,
    first_id: int = 0,
    last_id: int | None = None,
    customer_ids: Sequence[int] = (),
    after_id: int | None = None,
    limit: int | None = None,
) -> list[tuple]:
    """Events as the analytics engine copies them: ``ENGINE_COLUMNS`` as plain cursor rows
    (``occurred_at`` a datetime on PostgreSQL, naive-UTC text on SQLite; ``properties`` JSON
    text or already decoded), oldest id first.

    Either an id range of one workspace, or every event of ``customer_ids``, or (a rebuild)
    the next ``limit`` events of every workspace after ``after_id``.
    """
    events = Event.objects.all()
    if workspace_id is not None:
        events = events.filter(workspace_id=workspace_id)
    if customer_ids:
        events = events.filter(customer_id__in=list(customer_ids))
    else:
        events = events.filter(pk__gte=first_id)
        if last_id is not None:
            events = events.filter(pk__lte=last_id)
    if after_id is not None:
        events = events.filter(pk__gt=after_id)
    events = events.order_by("pk")
    if limit is not None:
        events = events[:limit]
    sql, params = events.values_list("workspace_id", *ENGINE_COLUMNS).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
