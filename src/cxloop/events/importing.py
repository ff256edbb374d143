"""Bulk import of customers and events from CSV or JSONL files.

Each row becomes a Segment message (customers → identify, events → track/page/...) and goes through
the same validation, identity resolution and idempotent storage as the HTTP API. Rows without a
messageId get one derived from their content, so importing the same file twice stores nothing new.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
from django.utils import timezone

from cxloop.core.db import refresh_planner_statistics
from cxloop.core.models import Workspace
from cxloop.events.segment import loads_without_nul, strip_nul
from cxloop.events.services import IngestResult, RejectedMessage, events_store, events_validate

CHUNK_ROWS = 5000
ANALYZE_AFTER_ROWS = 10_000
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


@dataclass
class ImportReport(IngestResult):
    rows: int = 0


class ImportFileError(ValueError):
    """The file as a whole cannot be read (unknown format, missing columns)."""


def import_file(
    *,
    workspace: Workspace,
    path: Path,
    kind: str,
    on_progress: Callable[[int], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ImportReport:
    """Import ``kind`` ('customers' or 'events') rows from a .csv or .jsonl file.

    ``on_progress`` is called with the number of bytes read so far (for a progress bar).
    """
    if kind not in ("customers", "events"):
        raise ImportFileError(f"unknown import kind {kind!r}; use 'customers' or 'events'")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path)
        to_message = _customer_message if kind == "customers" else _event_message
    elif suffix in (".jsonl", ".ndjson"):
        rows = _jsonl_rows(path)
        to_message = _customer_message if kind == "customers" else _segment_message
    else:
        raise ImportFileError(f"{path.name}: expected a .csv or .jsonl file")

    report = ImportReport()
    chunks = _validated_chunks(rows, to_message, chunk_rows)
    for chunk in chunks:
        report.rows += chunk.rows
        report.rejected.extend(chunk.rejected)
        if chunk.valid:
            report.add(
                events_store(
                    workspace=workspace, messages=chunk.valid, received_at=chunk.received_at
                )
            )
        if on_progress:
            on_progress(chunk.offset)
    report.rejected.sort(key=lambda r: r.position)
    if report.accepted >= ANALYZE_AFTER_ROWS:
        refresh_planner_statistics()
    return report


@dataclass
class _Chunk:
    valid: list
    rejected: list
    rows: int
    offset: int
    received_at: datetime


def _validated_chunks(
    rows: Iterator[tuple[int, int, int, object]], to_message: Callable, chunk_rows: int
) -> Iterator[_Chunk]:
    """Rows turned into messages and validated, ``chunk_rows`` at a time (no database)."""
    batch: list[object] = []
    lines: list[int] = []
    sizes: list[int] = []
    rejected: list[RejectedMessage] = []
    count = offset = 0
    for line, size, offset, row in rows:
        count += 1
        if isinstance(row, str):  # unreadable row: the reason is in place of the data
            rejected.append(RejectedMessage(line, row))
        else:
            try:
                batch.append(to_message(row))
                lines.append(line)
                sizes.append(size)
            except ValueError as exc:
                rejected.append(RejectedMessage(line, str(exc)))
        if len(batch) >= chunk_rows:
            yield _validate(batch, lines, sizes, rejected, count, offset)
            batch, lines, sizes, rejected, count = [], [], [], [], 0
    if count:
        yield _validate(batch, lines, sizes, rejected, count, offset)


def _validate(batch, lines, sizes, rejected, count, offset) -> _Chunk:
    received_at = timezone.now()
    valid, invalid = events_validate(
        messages=batch, positions=lines, sizes=sizes, received_at=received_at
    )
    return _Chunk(valid, rejected + invalid, count, offset, received_at)


def _jsonl_rows(path: Path) -> Iterator[tuple[int, int, int, object]]:
    offset = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            offset += len(line)
            if not line.strip():
                continue
            try:
                yield number, len(line), offset, loads_without_nul(line)
            except orjson.JSONDecodeError as exc:
                yield number, len(line), offset, f"not valid JSON: {exc}"


def _csv_rows(path: Path) -> Iterator[tuple[int, int, int, object]]:
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise ImportFileError(
                f"{path.name}: the file is empty; the first line must be a header"
            )
        columns = [c.strip() for c in header]
        width = len(columns)
        offset = 0
        for row in reader:
            size = sum(len(cell) for cell in row) + len(row)
            offset += size
            if not any(row):
                continue
            if len(row) != width:
                yield (
                    reader.line_num,
                    size,
                    offset,
                    (f"has {len(row)} fields but the header has {width}"),
                )
                continue
            record = {c: v for c, v in zip(columns, row, strict=True) if v != ""}
            if any("\x00" in cell for cell in row):
                record = strip_nul(record)
            yield reader.line_num, size, offset, record


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
                extra = orjson.loads(raw)
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
