"""Reads for events: a customer's timeline and workspace-wide counts."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from cxloop.core.models import Workspace
from cxloop.events.models import Event


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
