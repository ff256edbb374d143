"""Rows of an import file turned into prepared messages: parsing, converting, validating.

Pure Python, no database and no Django apps: bulk-import worker processes run
:func:`prepare_chunk` without loading the project.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import orjson

from cxloop.events.preparing import (
    PreparedMessage,
    RejectedMessage,
    events_prepare,
    events_validate,
    notes_of,
)
from cxloop.events.segment import loads_lenient, needs_screening, strip_nul

_NUMBER = re.compile(r"-?(0|[1-9]\d{0,14})(\.\d+)?")
_TRUE = {"1", "true", "yes", "y", "granted", "opt-in", "opted_in"}
_FALSE = {"0", "false", "no", "n", "withdrawn", "opt-out", "opted_out"}
_FIELD_ALIASES = {
    "user_id": "userId", "userid": "userId", "anonymous_id": "anonymousId",
    "anonymousid": "anonymousId", "message_id": "messageId", "messageid": "messageId",
    "event_type": "type", "occurred_at": "timestamp", "time": "timestamp", "date": "timestamp",
    "previous_id": "previousId", "group_id": "groupId",
}  # fmt: skip
_ID_TRAITS = ("email", "phone")


@dataclass(frozen=True)
class Job:
    """What a worker needs to prepare rows; plain values, so it pickles."""

    kind: str
    workspace_id: int
    region: str
    vendor: str


@dataclass
class RawChunk:
    """Rows as read from the file: JSONL lines, or CSV records with their header."""

    # JSONL: the raw lines (bytes), blank ones included, the first being line ``first_line``.
    # CSV: (line number, size, cells or the reason the record is unusable).
    items: list
    offset: int  # bytes read up to the end of this chunk
    header: list[str] | None = None
    first_line: int = 1


@dataclass
class PreparedChunk:
    messages: list[PreparedMessage]
    rejected: list[RejectedMessage]
    rows: int
    offset: int
    warnings: list[RejectedMessage] = field(default_factory=list)  # stored with changed values


def prepare_chunk(job: Job, chunk: RawChunk) -> PreparedChunk:
    """Parse, convert and validate one chunk (no database; runs in a worker process or inline)."""
    received_at = datetime.now(UTC)
    to_message = _TO_MESSAGE[(job.kind, chunk.header is not None)]
    batch: list[object] = []
    lines: list[int] = []
    sizes: list[int] = []
    flagged: list[bool] = []
    rejected: list[RejectedMessage] = []
    for line, size, row in _numbered(chunk):
        if isinstance(row, str):  # unreadable row: the reason is in place of the data
            rejected.append(RejectedMessage(line, row))
            continue
        record: object
        odd = False  # CSV: events_validate encodes each message to learn it
        if chunk.header is not None:
            record = _csv_record(chunk.header, cast(list[str], row))
        else:
            try:
                parsed, odd = loads_lenient(cast(bytes, row))
            except orjson.JSONDecodeError as exc:
                rejected.append(RejectedMessage(line, f"not valid JSON: {exc}"))
                continue
            record, odd = parsed, odd or needs_screening(cast(bytes, row))
        try:
            batch.append(to_message(record))
        except ValueError as exc:
            rejected.append(RejectedMessage(line, str(exc)))
            continue
        lines.append(line)
        sizes.append(size)
        flagged.append(odd)
    valid, invalid = events_validate(
        messages=batch,
        positions=lines,
        sizes=sizes,
        flagged=None if chunk.header is not None else flagged,
        received_at=received_at,
    )
    prepared, unidentified = events_prepare(
        messages=valid,
        received_at=received_at,
        workspace_id=job.workspace_id,
        region=job.region,
        vendor=job.vendor,
    )
    rows = len(batch) + len(rejected)
    return PreparedChunk(
        prepared, rejected + invalid + unidentified, rows, chunk.offset, notes_of(valid)
    )


def _numbered(chunk: RawChunk) -> Iterator[tuple[int, int, object]]:
    """(line number, size, row) of each non-blank row of a chunk."""
    if chunk.header is not None:
        yield from chunk.items
        return
    for number, line in enumerate(chunk.items, start=chunk.first_line):
        if line.strip():
            yield number, len(line), line


def _csv_record(columns: list[str], row: list[str]) -> dict:
    record = {c: v for c, v in zip(columns, row, strict=True) if v != ""}
    if any("\x00" in cell for cell in row):
        record = cast(dict, strip_nul(record))
    return record


def _value(text: object) -> object:
    """CSV cells are text: numbers become numbers, everything else stays as written."""
    if isinstance(text, str) and _NUMBER.fullmatch(text):
        return float(text) if "." in text else int(text)
    return text


def _split_row(row: dict) -> tuple[dict, dict]:
    """Spec fields (userId, timestamp, ...) apart from the rest of a flat row."""
    spec, rest = {}, {}
    for column, value in row.items():
        name = _FIELD_ALIASES.get(column.lower(), column)
        if name in ("userId", "anonymousId", "messageId", "type", "timestamp", "event",
                    "previousId", "groupId", "channel", "name", "originalTimestamp"):  # fmt: skip
            spec[name] = value
        else:
            rest[column] = value
    return spec, rest


def _customer_message(row: object) -> dict:
    """A customers row (flat columns, or an identify message) as an identify message."""
    if not isinstance(row, dict):
        raise ValueError(f"expected an object, got {type(row).__name__}")
    if "type" in row or isinstance(row.get("traits"), dict):
        if row.get("type", "identify") != "identify":
            raise ValueError(f"type: a customers file holds identify messages, not {row['type']!r}")
        return row
    spec, rest = _split_row(row)
    traits: dict = {}
    consent: dict = {}
    for column, raw in rest.items():
        if column.lower().startswith("consent_"):
            channel = column[len("consent_") :].lower()
            text = str(raw).strip().lower()
            if text in _TRUE:
                consent[channel] = True
            elif text in _FALSE:
                consent[channel] = False
            else:
                raise ValueError(f"{column}: {raw!r} is not yes/no")
        else:
            traits[column] = raw if column in _ID_TRAITS else _value(raw)
    if "name" in spec:
        traits["name"] = spec.pop("name")
    message = {"type": "identify", "traits": traits, **spec}
    if consent:
        message["context"] = {"consent": {"categoryPreferences": consent}}
    return message


def _segment_message(row: object) -> object:
    """A JSONL events line is a Segment message as it stands (validated downstream)."""
    return row


def _event_message(row: dict) -> dict:
    """A flat events CSV row as a Segment message; unknown columns become properties."""
    spec, rest = _split_row(row)
    message: dict = {"type": spec.pop("type", "track"), **spec}
    properties: dict = {}
    id_traits: dict = {}
    for column, raw in rest.items():
        if column == "properties":
            try:
                extra = loads_lenient(raw)[0]  # NaN and long integers: screened downstream
            except orjson.JSONDecodeError:
                raise ValueError("properties: not valid JSON") from None
            if not isinstance(extra, dict):
                raise ValueError("properties: expected a JSON object")
            properties.update(extra)
        elif column in _ID_TRAITS:
            id_traits[column] = raw
        else:
            properties[column.removeprefix("properties.")] = _value(raw)
    if message["type"] in ("page", "screen") and "name" not in message and "event" in message:
        message["name"] = message.pop("event")
    message["properties"] = properties
    if id_traits:
        message["context"] = {"traits": id_traits}
    return message


_TO_MESSAGE: dict[tuple[str, bool], Callable[[Any], object]] = {  # (kind, is CSV) -> converter
    ("customers", True): _customer_message,
    ("customers", False): _customer_message,
    ("events", True): _event_message,
    ("events", False): _segment_message,
}
