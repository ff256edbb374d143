"""Validated messages in storage form, before any database work.

Pure Python (no Django apps), so bulk-import worker processes use it without loading the
project; ``events.services`` re-exports what other apps need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import orjson

from cxloop.core.db import datetime_adapter
from cxloop.customers.identifiers import identity_keys
from cxloop.customers.resolution import ProfileUpdate
from cxloop.events.segment import MAX_MESSAGE_BYTES, Message, MessageError, read_message

# The columns of an event row, in the order of ``PreparedMessage.row``.
EVENT_COLUMNS = (
    "workspace_id", "customer_id", "type", "name", "channel", "properties", "context",
    "occurred_at", "received_at", "message_id", "user_id", "anonymous_id",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RejectedMessage:
    """A message that was not stored: where it was (index or file line) and why."""

    position: int
    reason: str
    message_id: str = ""


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

    ``row`` holds the values of the event's columns (``EVENT_COLUMNS``) in database form (JSON as text,
    datetimes as the backend stores them); ``events_store`` fills in the customer id. Plain
    tuples and lists, so worker processes can hand them over cheaply.
    """

    position: int
    message_id: str
    update: ProfileUpdate
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
        update = ProfileUpdate(
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
