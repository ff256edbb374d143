"""Bulk import of customers and events from CSV or JSONL files.

Each row becomes a Segment message (customers → identify, events → track/page/...) and goes through
the same validation, identity resolution and idempotent storage as the HTTP API. Rows without a
messageId get one derived from their content, so importing the same file twice stores nothing new.
"""

from __future__ import annotations

import contextlib
import csv
import multiprocessing
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import orjson
from django.db import connection
from django.utils import timezone

from cxloop.core.db import refresh_planner_statistics
from cxloop.core.memory import collector_paused
from cxloop.core.models import Workspace
from cxloop.core.workers import start_bulk_worker
from cxloop.customers import services as customer_services
from cxloop.events.segment import loads_without_nul, strip_nul
from cxloop.events.services import (
    IngestResult,
    PreparedMessage,
    RejectedMessage,
    events_prepare,
    events_store,
    events_validate,
)

CHUNK_ROWS = 5000
MAX_WORKERS = 4  # processes parsing ahead of the single database writer
MAX_AHEAD = 12  # prepared chunks held in memory at most, waiting for their turn
WORKERS_FROM_BYTES = 4_000_000  # smaller files are parsed inline: starting a process costs ~1 s
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
    workers: int | None = None,
) -> ImportReport:
    """Import ``kind`` ('customers' or 'events') rows from a .csv or .jsonl file.

    Rows are read in chunks of ``chunk_rows``; each chunk is parsed and validated (in ``workers``
    processes when given, or by default for large files on a multi-core machine) and then stored in
    its own transaction, in file order. ``on_progress`` is called with the number of bytes read so
    far (for a progress bar).
    """
    if kind not in ("customers", "events"):
        raise ImportFileError(f"unknown import kind {kind!r}; use 'customers' or 'events'")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        chunks = _csv_chunks(path, chunk_rows)
    elif suffix in (".jsonl", ".ndjson"):
        chunks = _jsonl_chunks(path, chunk_rows)
    else:
        raise ImportFileError(f"{path.name}: expected a .csv or .jsonl file")
    if workers is None:
        workers = _default_workers(path.stat().st_size)
    job = _Job(kind, workspace.pk, workspace.default_phone_region, connection.vendor)

    report = ImportReport()
    session = customer_services.ResolutionSession(workspace.pk)
    with collector_paused():
        try:
            for chunk in _prepared_chunks(job, chunks, workers):
                report.rows += chunk.rows
                report.rejected.extend(chunk.rejected)
                if chunk.messages:
                    stored = events_store(
                        workspace=workspace,
                        messages=chunk.messages,
                        session=session,
                        assume_new=not report.duplicates,  # until the file proves otherwise
                    )
                    report.add(stored)
                if on_progress:
                    on_progress(chunk.offset)
        except BaseException:
            # the batches stored so far still get their seen-times (if the database allows: a
            # failure here must not hide the error that stopped the import)
            with contextlib.suppress(Exception):
                customer_services.profiles_flush_seen(session)
            raise
        customer_services.profiles_flush_seen(session)
    report.rejected.sort(key=lambda r: r.position)
    if report.accepted >= ANALYZE_AFTER_ROWS:
        refresh_planner_statistics()
    return report


def _default_workers(size: int) -> int:
    """Parsing runs beside the database writes when the file is large and a spare core exists."""
    spare = (os.cpu_count() or 1) - 1
    return min(spare, MAX_WORKERS) if size >= WORKERS_FROM_BYTES else 0


@dataclass(frozen=True)
class _Job:
    """What a worker needs to prepare rows; plain values, so it pickles."""

    kind: str
    workspace_id: int
    region: str
    vendor: str


@dataclass
class _RawChunk:
    """Rows as read from the file: JSONL lines, or CSV records with their header."""

    # JSONL: the raw lines (bytes), blank ones included, the first being line ``first_line``.
    # CSV: (line number, size, cells or the reason the record is unusable).
    items: list
    offset: int  # bytes read up to the end of this chunk
    header: list[str] | None = None
    first_line: int = 1


@dataclass
class _PreparedChunk:
    messages: list[PreparedMessage]
    rejected: list[RejectedMessage]
    rows: int
    offset: int


def _prepared_chunks(
    job: _Job, chunks: Iterator[_RawChunk], workers: int
) -> Iterator[_PreparedChunk]:
    """Prepared chunks in file order, prepared by worker processes a few chunks ahead.

    Whenever the next chunk in order is not ready yet (workers starting, or slower than the
    database writes), this process prepares a later chunk itself instead of waiting.
    """
    if workers <= 0:
        for chunk in chunks:
            yield _prepare(job, chunk)
        return
    context = multiprocessing.get_context("spawn")  # a clean process; no threads or sockets copied
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=start_bulk_worker)
    pending: deque[Future] = deque()  # in file order; the writer's own chunks as done futures
    try:
        while True:
            busy = sum(1 for future in pending if not future.done())
            if busy <= workers and len(pending) < MAX_AHEAD:
                # keep every worker busy with one chunk queued behind
                chunk = next(chunks, None)
                if chunk is not None:
                    pending.append(pool.submit(_prepare, job, chunk))
                    continue
            if not pending:
                return
            if not pending[0].done() and len(pending) < MAX_AHEAD:
                chunk = next(chunks, None)  # help instead of waiting
                if chunk is not None:
                    pending.append(_prepared_here(job, chunk))
                    continue
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _prepared_here(job: _Job, chunk: _RawChunk) -> Future:
    """Prepare a chunk in this process, as a done future: an error surfaces in file order."""
    future: Future = Future()
    try:
        future.set_result(_prepare(job, chunk))
    except Exception as exc:
        future.set_exception(exc)
    return future


def _prepare(job: _Job, chunk: _RawChunk) -> _PreparedChunk:
    """Parse, convert and validate one chunk (no database; runs in a worker process or inline)."""
    received_at = timezone.now()
    to_message = _TO_MESSAGE[(job.kind, chunk.header is not None)]
    batch: list[object] = []
    lines: list[int] = []
    sizes: list[int] = []
    rejected: list[RejectedMessage] = []
    for line, size, row in _numbered(chunk):
        if isinstance(row, str):  # unreadable row: the reason is in place of the data
            rejected.append(RejectedMessage(line, row))
            continue
        if chunk.header is not None:
            row = _csv_record(chunk.header, row)
        else:
            try:
                row = loads_without_nul(row)
            except orjson.JSONDecodeError as exc:
                rejected.append(RejectedMessage(line, f"not valid JSON: {exc}"))
                continue
        try:
            batch.append(to_message(row))
        except ValueError as exc:
            rejected.append(RejectedMessage(line, str(exc)))
            continue
        lines.append(line)
        sizes.append(size)
    valid, invalid = events_validate(
        messages=batch, positions=lines, sizes=sizes, received_at=received_at
    )
    prepared, unidentified = events_prepare(
        messages=valid,
        received_at=received_at,
        workspace_id=job.workspace_id,
        region=job.region,
        vendor=job.vendor,
    )
    rows = len(batch) + len(rejected)
    return _PreparedChunk(prepared, rejected + invalid + unidentified, rows, chunk.offset)


def _numbered(chunk: _RawChunk) -> Iterator[tuple[int, int, object]]:
    """(line number, size, row) of each non-blank row of a chunk."""
    if chunk.header is not None:
        yield from chunk.items
        return
    for number, line in enumerate(chunk.items, start=chunk.first_line):
        if line.strip():
            yield number, len(line), line


def _jsonl_chunks(path: Path, chunk_rows: int) -> Iterator[_RawChunk]:
    """The file's lines, ``chunk_rows`` at a time, as read: the worker splits and numbers them."""
    offset = 0
    first_line = 1
    with path.open("rb") as handle:
        while lines := list(islice(handle, chunk_rows)):
            offset += sum(map(len, lines))
            yield _RawChunk(lines, offset, first_line=first_line)
            first_line += len(lines)


def _csv_chunks(path: Path, chunk_rows: int) -> Iterator[_RawChunk]:
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
        items: list = []
        for row in reader:
            size = sum(len(cell) for cell in row) + len(row)
            offset += size
            if not any(row):
                continue
            if len(row) != width:
                reason = f"has {len(row)} fields but the header has {width}"
                items.append((reader.line_num, size, reason))
            else:
                items.append((reader.line_num, size, row))
            if len(items) >= chunk_rows:
                yield _RawChunk(items, offset, columns)
                items = []
        if items:
            yield _RawChunk(items, offset, columns)


def _csv_record(columns: list[str], row: list[str]) -> dict:
    record = {c: v for c, v in zip(columns, row, strict=True) if v != ""}
    if any("\x00" in cell for cell in row):
        record = strip_nul(record)
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


_TO_MESSAGE = {  # (kind, is CSV) -> row converter
    ("customers", True): _customer_message,
    ("customers", False): _customer_message,
    ("events", True): _event_message,
    ("events", False): _segment_message,
}
