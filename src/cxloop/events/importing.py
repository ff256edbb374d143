"""Bulk import of customers and events from CSV or JSONL files.

Each row becomes a Segment message (customers → identify, events → track/page/...) and goes through
the same validation, identity resolution and idempotent storage as the HTTP API. Rows without a
messageId get one derived from their content (and, for repeats of an identical events row, from
its occurrence number), so importing the same file twice stores nothing new.
"""

from __future__ import annotations

import contextlib
import csv
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from django.db import connection

from cxloop.core.db import refresh_planner_statistics
from cxloop.core.memory import collector_paused
from cxloop.core.models import Workspace
from cxloop.core.workers import start_bulk_worker
from cxloop.customers import services as customer_services
from cxloop.events.preparing import EVENT_COLUMNS, PreparedMessage
from cxloop.events.rows import Job, PreparedChunk, RawChunk, prepare_chunk
from cxloop.events.segment import repeat_message_id
from cxloop.events.services import IngestResult, events_store

CHUNK_ROWS = 5000
MAX_WORKERS = 4  # processes parsing ahead of the single database writer
MAX_AHEAD = 12  # prepared chunks held in memory at most, waiting for their turn
WORKERS_FROM_BYTES = 4_000_000  # smaller files are parsed inline: a worker takes ~0.5 s to start
ANALYZE_AFTER_ROWS = 10_000


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
    job = Job(kind, workspace.pk, workspace.default_phone_region, connection.vendor)

    report = ImportReport()
    session = customer_services.ResolutionSession(workspace.pk)
    occurrences: dict[str, int] | None = {} if kind == "events" else None
    with collector_paused():
        try:
            for chunk in _prepared_chunks(job, chunks, workers):
                report.rows += chunk.rows
                report.rejected.extend(chunk.rejected)
                report.warnings.extend(chunk.warnings)
                if occurrences is not None:
                    _number_repeats(chunk.messages, occurrences)
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


_MESSAGE_ID = EVENT_COLUMNS.index("message_id")


def _number_repeats(messages: list[PreparedMessage], occurrences: dict[str, int]) -> None:
    """Give each repeat of an identical id-less row its own id (in place, in file order).

    Identical lines of an events file are distinct events (two equal orders); the n-th one gets
    ``repeat_message_id(content id, n)``, so re-importing the file still adds nothing. One dict
    look-up per row. Customers files are not numbered: a repeated row there says nothing new.
    """
    for index, message in enumerate(messages):
        if not message.content_id:
            continue
        seen = occurrences.get(message.message_id, 0) + 1
        occurrences[message.message_id] = seen
        if seen > 1:
            new_id = repeat_message_id(message.message_id, seen)
            message.row[_MESSAGE_ID] = new_id
            messages[index] = message._replace(message_id=new_id)


def _default_workers(size: int) -> int:
    """Parsing runs beside the database writes when the file is large and a spare core exists."""
    spare = (os.cpu_count() or 1) - 1
    return min(spare, MAX_WORKERS) if size >= WORKERS_FROM_BYTES else 0


def _prepared_chunks(job: Job, chunks: Iterator[RawChunk], workers: int) -> Iterator[PreparedChunk]:
    """Prepared chunks in file order, prepared by worker processes a few chunks ahead.

    Whenever the next chunk in order is not ready yet (workers starting, or slower than the
    database writes), this process prepares a later chunk itself instead of waiting.
    """
    if workers <= 0:
        for raw in chunks:
            yield prepare_chunk(job, raw)
        return
    context = multiprocessing.get_context("spawn")  # a clean process; no threads or sockets copied
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=start_bulk_worker)
    pending: deque[Future] = deque()  # in file order; the writer's own chunks as done futures
    reading = True
    try:
        while True:
            busy = sum(1 for future in pending if not future.done())
            if reading and busy <= workers and len(pending) < MAX_AHEAD:
                # keep every worker busy with one chunk queued behind
                chunk, reading = _next_chunk(chunks, pending)
                if chunk is not None:
                    pending.append(pool.submit(prepare_chunk, job, chunk))
                    continue
            if not pending:
                return
            if reading and not pending[0].done() and len(pending) < MAX_AHEAD:
                chunk, reading = _next_chunk(chunks, pending)  # help instead of waiting
                if chunk is not None:
                    pending.append(_prepared_here(job, chunk))
                    continue
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _next_chunk(chunks: Iterator[RawChunk], pending: deque[Future]) -> tuple[RawChunk | None, bool]:
    """The next chunk and whether to read on. A file that cannot be read further (a CSV field
    over the size limit, bad UTF-8) fails in its place: the chunks before it are stored first."""
    try:
        chunk = next(chunks, None)
    except Exception as exc:  # noqa: BLE001 -- handed on in a Future; the writer re-raises it
        failed: Future = Future()
        failed.set_exception(exc)
        pending.append(failed)
        return None, False
    return chunk, chunk is not None


def _prepared_here(job: Job, chunk: RawChunk) -> Future:
    """Prepare a chunk in this process, as a done future: an error surfaces in file order."""
    future: Future = Future()
    try:
        future.set_result(prepare_chunk(job, chunk))
    except Exception as exc:  # noqa: BLE001 -- handed on in a Future; the writer re-raises it
        future.set_exception(exc)
    return future


def _jsonl_chunks(path: Path, chunk_rows: int) -> Iterator[RawChunk]:
    """The file's lines, ``chunk_rows`` at a time, as read: the worker splits and numbers them."""
    offset = 0
    first_line = 1
    with path.open("rb") as handle:
        while lines := list(islice(handle, chunk_rows)):
            offset += sum(map(len, lines))
            yield RawChunk(lines, offset, first_line=first_line)
            first_line += len(lines)


def _csv_chunks(path: Path, chunk_rows: int) -> Iterator[RawChunk]:
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
                yield RawChunk(items, offset, columns)
                items = []
        if items:
            yield RawChunk(items, offset, columns)
