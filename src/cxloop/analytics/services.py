"""Writes to the analytics engine: draining the event outbox into it, and rebuilding it from the
system of record. Only the store's owner (or a ClickHouse server install's worker) calls these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cxloop.analytics.engine import ClickHouseEngine
from cxloop.core.db import IN_CHUNK, chunked
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

    At-least-once (entries are deleted only after their rows are in) made exactly-once by event
    id (``ClickHouseEngine.load`` skips ids the engine holds). Every entry is read against the
    database as it is now, so a round may take them in any order: first the engine forgets the
    customers of every merge, unmerge and erasure in the round (one delete), then it copies
    their current events and every id range in a few large inserts (ClickHouse wants few, large
    inserts; a merge named in a later round fixes any row still under an absorbed profile).
    """
    entries = event_selectors.outbox_pending(limit=limit)
    result = DrainResult(entries=len(entries))
    again: dict[int, set[int]] = {}
    for entry in entries:
        if entry.customer_ids:
            again.setdefault(entry.workspace_id, set()).update(entry.customer_ids)
    for workspace_id, customers in again.items():
        for chunk in chunked(sorted(customers), IN_CHUNK):
            engine.forget_customers(workspace_id=workspace_id, customer_ids=chunk)
    rows: list[tuple] = []

    def load() -> None:
        result.copied += engine.load(rows)
        rows.clear()

    for workspace_id, customers in again.items():
        for chunk in chunked(sorted(customers), IN_CHUNK):
            rows.extend(event_selectors.engine_rows(workspace_id=workspace_id, customer_ids=chunk))
            if len(rows) >= ROWS_PER_LOAD:
                load()
    for entry in entries:
        if not entry.customer_ids:
            rows.extend(
                event_selectors.engine_rows(
                    workspace_id=entry.workspace_id,
                    first_id=entry.first_event_id,
                    last_id=entry.last_event_id,
                )
            )
            if len(rows) >= ROWS_PER_LOAD:
                load()
    load()
    event_services.events_outbox_done(entry_ids=[entry.pk for entry in entries])
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


def engine_refill_if_lost(*, engine: ClickHouseEngine) -> int | None:
    """Copy every event again when the engine's store holds none although the system of record
    does and no outbox entry waits: a store made anew beside old data (its directory deleted or
    moved, the database restored from a backup), which would otherwise answer every question
    with nothing. Returns the events copied, or None when the store was not lost (a store the
    outbox is still filling, as a new install's, is left to the drain)."""
    if engine.held_count() or event_selectors.outbox_pending(limit=1):
        return None
    if not event_selectors.engine_rows(after_id=0, limit=1):
        return None
    return engine_rebuild(engine=engine)
