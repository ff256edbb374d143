"""What happens to a person's events when profiles merge, unmerge, are exported or erased.

Registered with ``customers.handlers`` in ``EventsConfig.ready()``; customers calls them.
"""

from __future__ import annotations

from django.db.models import Max, Min, Q

from cxloop.core.db import IN_CHUNK, chunked
from cxloop.customers import services as customer_services
from cxloop.customers.identifiers import ANONYMOUS_ID, USER_ID
from cxloop.events.models import Event
from cxloop.events.services import events_outbox_add

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
    if ids:
        _resync([survivor_id, merged_id])
    return moved, {"events": ids} if ids else {}


def _resync(customer_ids: list[int]) -> None:
    """Events of these customers moved: the analytics engine copies them again."""
    workspace_id = (
        Event.objects.filter(customer_id__in=customer_ids)
        .values_list("workspace_id", flat=True)
        .first()
    )
    if workspace_id is not None:
        events_outbox_add(workspace_id=workspace_id, customer_ids=customer_ids)


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
    if count:
        _resync([holder_id, restored_id])
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
    by_workspace = (
        Event.objects.filter(customer_id__in=customer_ids)
        .values_list("workspace_id", "customer_id")
        .distinct()
    )
    gone: dict[int, list[int]] = {}
    for workspace_id, customer_id in by_workspace:
        gone.setdefault(workspace_id, []).append(customer_id)
    for workspace_id, ids in gone.items():
        events_outbox_add(workspace_id=workspace_id, customer_ids=ids)
    deleted, _ = Event.objects.filter(customer_id__in=customer_ids).delete()
    return {"events": deleted}
