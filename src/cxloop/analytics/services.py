"""Writes to the analytics engine: draining the event outbox into it, and rebuilding it from the
system of record. Only the store's owner (or a ClickHouse server install's worker) calls these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cxloop.analytics.engine import ClickHouseEngine
from cxloop.events import selectors as event_selectors
from cxloop.events import services as event_services

ENTRIES_PER_ROUND = 500
ROWS_PER_LOAD = 50_000
REBUILD_CHUNK = 100_000


@dataclass
class DrainResult:
    entries: int = 0
    copied: int = 0

    def __bool__(self) -> bool:
        return self.entries > 0


def engine_drain(*, engine: ClickHouseEngine, limit: int = ENTRIES_PER_ROUND) -> DrainResult:
    """Copy what the oldest ``limit`` outbox entries name into the engine, then delete them.

    At-least-once (an entry is deleted only after its rows are in) made exactly-once by event
    id (``ClickHouseEngine.load`` skips ids the engine holds). Consecutive id ranges of one
    workspace go in as one insert (ClickHouse wants few, large inserts); a customer entry
    (merge, unmerge, erasure) drops the engine's rows of those customers and copies their
    events again from the system of record, in outbox order.
    """
    entries = event_selectors.outbox_pending(limit=limit)
    result = DrainResult(entries=len(entries))
    pending_ids: list[int] = []
    rows: list[tuple] = []

    def flush() -> None:
        if rows:
            result.copied += engine.load(rows)
            rows.clear()
        if pending_ids:
            event_services.events_outbox_done(entry_ids=pending_ids)
            pending_ids.clear()

    for entry in entries:
        if entry.customer_ids:
            flush()
            engine.forget_customers(
                workspace_id=entry.workspace_id, customer_ids=entry.customer_ids
            )
            again = event_selectors.engine_rows(
                workspace_id=entry.workspace_id, customer_ids=entry.customer_ids
            )
            result.copied += engine.load(again, check=False)
            event_services.events_outbox_done(entry_ids=[entry.pk])
            continue
        rows.extend(
            event_selectors.engine_rows(
                workspace_id=entry.workspace_id,
                first_id=entry.first_event_id,
                last_id=entry.last_event_id,
            )
        )
        pending_ids.append(entry.pk)
        if len(rows) >= ROWS_PER_LOAD:
            flush()
    flush()
    return result


def engine_rebuild(
    *, engine: ClickHouseEngine, progress: Callable[[int], None] | None = None
) -> int:
    """Drop the engine's tables and copy every event again from the system of record.

    Outbox entries written meanwhile stay, and the next drain skips what the rebuild copied.
    Returns the number of events copied.
    """
    engine.drop()
    engine.setup()
    after, copied = 0, 0
    while True:
        chunk = event_selectors.engine_rows(after_id=after, limit=REBUILD_CHUNK)
        if not chunk:
            break
        copied += engine.load(chunk, check=False)
        after = chunk[-1][1]
        if progress:
            progress(copied)
    return copied
