"""Writes for events: validating, resolving and storing batches of messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import orjson
from django.db import IntegrityError, transaction
from django.db.models import Max, Min
from django.utils import timezone

from cxloop.core.db import (
    datetime_adapter,
    insert_rows_ignoring_conflicts,
    one_writer,
    select_in,
)
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
    prepared, unidentified = events_prepare(
        messages=valid,
        received_at=received_at,
        workspace_id=workspace.pk,
        region=workspace.default_phone_region,
    )
    result = events_store(workspace=workspace, messages=prepared)
    result.rejected[:0] = sorted(rejected + unidentified, key=lambda r: r.position)
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


class PreparedMessage(NamedTuple):
    """A valid message in storage form: its profile update and its event row.

    ``row`` holds the values of the event's columns (``_COLUMNS``) in database form (JSON as text,
    datetimes as the backend stores them); ``events_store`` fills in the customer id. Plain
    tuples and lists, so worker processes can hand them over cheaply.
    """

    position: int
    message_id: str
    update: customer_services.ProfileUpdate
    row: list


def events_prepare(
    *,
    messages: Sequence[tuple[int, Message]],
    received_at: datetime,
    workspace_id: int,
    region: str,
    vendor: str | None = None,
) -> tuple[list[PreparedMessage], list[RejectedMessage]]:
    """Identity keys, profile update and event row of each valid message. No database.

    ``region`` reads local phone numbers (the workspace's default); ``vendor`` is the database the
    rows are for (default: the configured one). Messages without any identifier are rejected.
    """
    adapt = datetime_adapter(vendor)
    received = adapt(received_at)
    dumps = orjson.dumps
    identity_keys = customer_services.identity_keys
    prepared: list[PreparedMessage] = []
    rejected: list[RejectedMessage] = []
    for position, m in messages:
        keys = identity_keys(
            user_id=m.user_id,
            anonymous_id=m.anonymous_id,
            traits=m.id_traits,
            device_id=m.device_id,
            region=region,
        )
        if not keys:
            reason = "no identifier: send userId or anonymousId (or a valid email/phone trait)"
            rejected.append(RejectedMessage(position, reason, m.message_id))
            continue
        update = customer_services.ProfileUpdate(
            tuple(keys),
            m.occurred_at,
            m.traits,
            m.consents,
            (m.previous_id,) if m.previous_id else (),
            f"{m.type}:{m.channel}",
        )
        row = [
            workspace_id, None, m.type, m.name, m.channel, dumps(m.properties).decode(),
            dumps(m.context).decode(), adapt(m.occurred_at), received, m.message_id, m.user_id,
            m.anonymous_id,
        ]  # fmt: skip
        prepared.append(PreparedMessage(position, m.message_id, update, row))
    return prepared, rejected


def events_store(
    *,
    workspace: Workspace,
    messages: Sequence[PreparedMessage],
    session: customer_services.ResolutionSession | None = None,
    assume_new: bool = False,
) -> IngestResult:
    """Resolve prepared messages to profiles and store them in one transaction.

    Idempotent: a message whose messageId is stored already (or repeated earlier in the same
    batch) is counted as a duplicate and changes nothing. A bulk import passes one ``session``
    for all its batches (see ``customers.services.ResolutionSession``).

    ``assume_new`` skips the up-front lookup of stored messageIds (a bulk import of new data):
    if the insert then meets one, the batch is rolled back and redone with the lookup.
    """
    try:
        try:
            with one_writer(), transaction.atomic():
                result = _store(workspace, messages, session, look_up_stored=not assume_new)
        except (_StoredBefore, IntegrityError) as exc:
            # IntegrityError: a profile the session remembered was deleted meanwhile
            if isinstance(exc, IntegrityError) and not (session and session.owner_of):
                raise
            if session is not None:
                session.forget()
            with one_writer(), transaction.atomic():
                result = _store(workspace, messages, session, look_up_stored=True)
    except BaseException:
        if session is not None:
            session.forget()
        raise
    if session is not None:
        session.batch_committed()
    return result


class _StoredBefore(Exception):
    """A batch stored without looking up its messageIds first met stored ones: redo it."""


def _store(
    workspace: Workspace,
    messages: Sequence[PreparedMessage],
    session: customer_services.ResolutionSession | None,
    *,
    look_up_stored: bool,
) -> IngestResult:
    result = IngestResult()
    fresh, stored = _drop_duplicates(workspace, messages, result, look_up_stored=look_up_stored)
    if stored:  # resent: make sure their profiles' seen-times cover them (repairs a crashed import)
        customer_services.profiles_widen_seen(spans=_spans_of_stored(workspace, stored))
    customer_ids = customer_services.profiles_apply(
        workspace=workspace, updates=[m.update for m in fresh], session=session
    )
    rows = []
    for message, customer_id in zip(fresh, customer_ids, strict=True):
        message.row[1] = customer_id
        rows.append(message.row)
    inserted = insert_rows_ignoring_conflicts(
        Event, _COLUMNS, rows, conflict=("workspace_id", "message_id")
    )
    if inserted < len(rows) and not look_up_stored:
        raise _StoredBefore
    # a concurrent batch may have stored some of the same messages after the lookup
    result.accepted = inserted
    result.duplicates += len(rows) - inserted
    return result


def _drop_duplicates(
    workspace: Workspace,
    messages: Sequence[PreparedMessage],
    result: IngestResult,
    *,
    look_up_stored: bool,
) -> tuple[list[PreparedMessage], set[str]]:
    """Messages whose id is neither repeated earlier in this batch nor (when ``look_up_stored``)
    stored already; and the ids found stored."""
    stored: set[str] = set()
    if look_up_stored:
        stored = {
            row[0]
            for row in select_in(
                f"SELECT message_id FROM {Event._meta.db_table} WHERE workspace_id = %s "
                "AND message_id IN",
                {m.message_id for m in messages},
                [workspace.pk],
            )
        }
    seen = set(stored)
    fresh = []
    for message in messages:
        if message.message_id in seen:
            result.duplicates += 1
            continue
        seen.add(message.message_id)
        fresh.append(message)
    return fresh, stored


def _spans_of_stored(workspace: Workspace, message_ids: set[str]) -> dict[int, tuple]:
    """First and last time of the stored events with these ids, per profile."""
    rows = (
        Event.objects.filter(workspace=workspace, message_id__in=message_ids)
        .values("customer_id")
        .annotate(first=Min("occurred_at"), last=Max("occurred_at"))
    )
    return {row["customer_id"]: (row["first"], row["last"]) for row in rows}
