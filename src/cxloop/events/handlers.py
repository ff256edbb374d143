"""What happens to a person's events when profiles merge, unmerge, are exported or erased.

Registered with ``customers.handlers`` in ``EventsConfig.ready()``; customers calls them.
"""

from __future__ import annotations

from django.db.models import Max, Min, Q

from cxloop.core.db import IN_CHUNK, chunked
from cxloop.customers import services as customer_services
from cxloop.customers.identifiers import ANONYMOUS_ID, USER_ID
from cxloop.events.models import Event

_EXPORTED = (
    "id", "customer_id", "type", "name", "channel", "properties", "context", "occurred_at",
    "received_at", "message_id", "user_id", "anonymous_id",
)  # fmt: skip


def events_customer_merge(*, survivor_id: int, merged_id: int) -> tuple[int, dict]:
    """Move the absorbed profile's events to the survivor; the moved ids go on the record."""
    ids = list(Event.objects.filter(customer_id=merged_id).values_list("pk", flat=True))
    moved = 0
    for chunk in chunked(ids, IN_CHUNK):
        moved += Event.objects.filter(pk__in=chunk).update(customer_id=survivor_id)
    return moved, {"events": ids} if ids else {}


def events_customer_unmerge(
    *, holder_id: int, restored_id: int, moved: dict, identities: set[tuple[str, str]]
) -> int:
    """Give back the events the merge moved, and those that arrived since under the restored
    profile's own user id (or, without a user id, its own anonymous id)."""
    count = 0
    for chunk in chunked(moved.get("events", []), IN_CHUNK):
        count += Event.objects.filter(pk__in=chunk).update(customer_id=restored_id)
    user_ids = [value for kind, value in identities if kind == USER_ID]
    anonymous_ids = [value for kind, value in identities if kind == ANONYMOUS_ID]
    if user_ids or anonymous_ids:
        count += (
            Event.objects.filter(customer_id=holder_id)
            .filter(Q(user_id__in=user_ids) | Q(user_id="", anonymous_id__in=anonymous_ids))
            .update(customer_id=restored_id)
        )
    span = Event.objects.filter(customer_id=restored_id).aggregate(
        first=Min("occurred_at"), last=Max("occurred_at")
    )
    if span["first"] is not None:
        customer_services.profiles_widen_seen(spans={restored_id: (span["first"], span["last"])})
    return count


def events_customer_export(*, customer_ids: list[int]) -> dict[str, list[dict]]:
    rows = Event.objects.filter(customer_id__in=customer_ids).order_by("occurred_at", "pk")
    return {"events": list(rows.values(*_EXPORTED))}


def events_customer_erase(*, customer_ids: list[int]) -> dict[str, int]:
    deleted, _ = Event.objects.filter(customer_id__in=customer_ids).delete()
    return {"events": deleted}
