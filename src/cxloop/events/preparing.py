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
from cxloop.events.segment import (
    MAX_MESSAGE_BYTES,
    Message,
    MessageError,
    needs_screening,
    read_message,
    screen_message,
)

# The columns of an event row, in the order of ``PreparedMessage.row``.
EVENT_COLUMNS = (
    "workspace_id", "customer_id", "type", "name", "channel", "properties", "context",
    "occurred_at", "received_at", "message_id", "user_id", "anonymous_id",
)  # fmt: skip


MAX_REPORTED_ID = 100  # a messageId quoted back in an error is cut to this


@dataclass(frozen=True, slots=True)
class RejectedMessage:
    """A message that was not stored, or (as a warning) stored with changed values: where it was
    (index or file line) and why."""

    position: int
    reason: str
    message_id: str = ""


def events_validate(
    *,
    messages: Sequence[object],
    positions: Sequence[int] | None = None,
    sizes: Sequence[int] | None = None,
    flagged: Sequence[bool] | None = None,
    expected_type: str | None = None,
    sent_at: object = None,
    received_at: datetime,
) -> tuple[list[tuple[int, Message]], list[RejectedMessage]]:
    """Split raw messages into valid ones (with their position) and rejections. No database.

    ``sizes`` (encoded sizes) and ``flagged`` (whether a message needs
    ``segment.screen_message``) come from callers that read the text themselves (an import's
    lines); without them each message is encoded once to learn both. A valid message whose
    values had to be changed to store it carries ``notes`` saying which.
    """
    positions = positions if positions is not None else range(len(messages))
    valid: list[tuple[int, Message]] = []
    rejected: list[RejectedMessage] = []
    for index, raw in enumerate(messages):
        position = positions[index]
        mid = raw.get("messageId") if isinstance(raw, dict) else ""
        mid = str(mid)[:MAX_REPORTED_ID] if isinstance(mid, str | int | float) and mid else ""
        size = sizes[index] if sizes is not None else None
        screen = bool(flagged[index]) if flagged is not None else False
        if sizes is None or flagged is None:
            try:
                encoded = orjson.dumps(raw)
                size = len(encoded) if size is None else size
                screen = needs_screening(encoded)
            except orjson.JSONEncodeError:  # NaN markers, integers beyond 64 bits, deep nesting
                screen = True
        notes: list[str] = []
        try:
            if screen:
                raw, notes = screen_message(raw)
                encoded_size = _encoded_size(raw)  # what the lenient parser let through
                size = encoded_size if size is None else size
            if size is not None and size > MAX_MESSAGE_BYTES:
                raise MessageError(f"message is larger than {MAX_MESSAGE_BYTES // 1024} KB")
            message = read_message(
                raw, received_at=received_at, expected_type=expected_type, sent_at=sent_at
            )
        except MessageError as exc:
            rejected.append(RejectedMessage(position, str(exc), mid))
            continue
        if notes:
            message.notes = tuple(notes)
        valid.append((position, message))
    return valid, rejected


def _encoded_size(raw: object) -> int:
    try:
        return len(orjson.dumps(raw))
    except orjson.JSONEncodeError as exc:  # a lone surrogate (\ud800), a Python-only value
        raise MessageError(f"message: cannot be stored as JSON ({exc})") from None


def notes_of(messages: Sequence[tuple[int, Message]]) -> list[RejectedMessage]:
    """A warning per valid message stored with changed values (position, what changed)."""
    return [
        RejectedMessage(position, "; ".join(m.notes), m.message_id)
        for position, m in messages
        if m.notes
    ]


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
    content_id: bool = False  # message_id derived from the content (see segment.read_message)


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
        prepared.append(PreparedMessage(position, m.message_id, update, row, m.content_id))
    return prepared, rejected
