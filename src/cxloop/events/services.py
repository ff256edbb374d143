"""Writes for events: validating, resolving and storing batches of messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from django.db import transaction
from django.utils import timezone

from cxloop.core.db import datetime_adapter, insert_rows_ignoring_conflicts, select_in
from cxloop.core.models import Workspace
from cxloop.customers import services as customer_services
from cxloop.events.models import Event
from cxloop.events.segment import MAX_MESSAGE_BYTES, Message, MessageError, read_message

_COLUMNS = (
    "workspace_id", "customer_id", "type", "name", "channel", "properties", "context",
    "occurred_at", "received_at", "message_id", "user_id", "anonymous_id",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RejectedMessage:
    """A message that was not stored: where it was (index or file line) and why."""

    position: int
    reason: str
    message_id: str = ""


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[RejectedMessage] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)


def events_ingest(
    *,
    workspace: Workspace,
    messages: Sequence[object],
    positions: Sequence[int] | None = None,
    sizes: Sequence[int] | None = None,
    expected_type: str | None = None,
    sent_at: object = None,
    received_at: datetime | None = None,
) -> IngestResult:
    """Validate and store raw Segment messages; bad ones are reported, good ones kept.

    ``positions`` label each message in errors (batch index or file line; default 0..n-1),
    ``sizes`` are their encoded sizes when known (over 32 KB is rejected, as Segment does).
    Idempotent: a message whose messageId is already stored is counted as a duplicate.
    """
    received_at = received_at or timezone.now()
    valid, rejected = events_validate(
        messages=messages,
        positions=positions,
        sizes=sizes,
        expected_type=expected_type,
        sent_at=sent_at,
        received_at=received_at,
    )
    result = events_store(workspace=workspace, messages=valid, received_at=received_at)
    result.rejected[:0] = rejected
    return result


def events_validate(
    *,
    messages: Sequence[object],
    positions: Sequence[int] | None = None,
    sizes: Sequence[int] | None = None,
    expected_type: str | None = None,
    sent_at: object = None,
    received_at: datetime,
) -> tuple[list[tuple[int, Message]], list[RejectedMessage]]:
    """Split raw messages into valid ones (with their position) and rejections. No database."""
    positions = positions if positions is not None else range(len(messages))
    valid: list[tuple[int, Message]] = []
    rejected: list[RejectedMessage] = []
    for index, raw in enumerate(messages):
        position = positions[index]
        if sizes is not None and sizes[index] > MAX_MESSAGE_BYTES:
            mid = raw.get("messageId") if isinstance(raw, dict) else ""
            reason = f"message is larger than {MAX_MESSAGE_BYTES // 1024} KB"
            rejected.append(RejectedMessage(position, reason, str(mid or "")))
            continue
        try:
            message = read_message(
                raw, received_at=received_at, expected_type=expected_type, sent_at=sent_at
            )
        except MessageError as exc:
            mid = raw.get("messageId") if isinstance(raw, dict) else ""
            rejected.append(RejectedMessage(position, str(exc), str(mid or "")))
            continue
        valid.append((position, message))
    return valid, rejected


@transaction.atomic
def events_store(
    *, workspace: Workspace, messages: Sequence[tuple[int, Message]], received_at: datetime
) -> IngestResult:
    """Resolve validated messages to profiles and store them in one transaction."""
    result = IngestResult()
    fresh = _drop_duplicates(workspace, messages, result)
    updates, kept = [], []
    region = workspace.default_phone_region
    for position, message in fresh:
        keys = customer_services.identity_keys(
            user_id=message.user_id,
            anonymous_id=message.anonymous_id,
            traits=message.id_traits,
            device_id=message.device_id,
            region=region,
        )
        if not keys:
            result.rejected.append(
                RejectedMessage(
                    position,
                    "no identifier: send userId or anonymousId (or a valid email/phone trait)",
                    message.message_id,
                )
            )
            continue
        updates.append(
            customer_services.ProfileUpdate(
                keys=tuple(keys),
                at=message.occurred_at,
                traits=message.traits,
                consents=message.consents,
                alias_of=(message.previous_id,) if message.previous_id else (),
                source=f"{message.type}:{message.channel}",
            )
        )
        kept.append(message)
    customer_ids = customer_services.profiles_apply(workspace=workspace, updates=updates)

    adapt = datetime_adapter()
    received = adapt(received_at)
    dumps = orjson.dumps
    rows = [
        (
            workspace.pk, customer_id, m.type, m.name, m.channel,
            dumps(m.properties).decode(), dumps(m.context).decode(),
            adapt(m.occurred_at), received, m.message_id, m.user_id, m.anonymous_id,
        )
        for m, customer_id in zip(kept, customer_ids, strict=True)
    ]  # fmt: skip
    insert_rows_ignoring_conflicts(Event, _COLUMNS, rows, conflict=("workspace_id", "message_id"))
    result.accepted = len(rows)
    return result


def _drop_duplicates(
    workspace: Workspace, messages: Sequence[tuple[int, Message]], result: IngestResult
) -> list[tuple[int, Message]]:
    """Messages whose id is neither stored already nor repeated earlier in this batch."""
    stored = {
        row[0]
        for row in select_in(
            f"SELECT message_id FROM {Event._meta.db_table} WHERE workspace_id = %s "
            "AND message_id IN",
            {m.message_id for _, m in messages},
            [workspace.pk],
        )
    }
    fresh = []
    for position, message in messages:
        if message.message_id in stored:
            result.duplicates += 1
            continue
        stored.add(message.message_id)
        fresh.append((position, message))
    return fresh
