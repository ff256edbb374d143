"""The engine's store in ClickHouse: its schema and the writes the drainer makes (copying
events exactly once by id, forgetting customers, repairing a load cut short, the meta keys).
Mixed into ``engine.ClickHouseEngine``; only the store's owner process (or a server install's
drainer) calls these.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from cxloop.analytics import clickhouse as ch
from cxloop.analytics import sampling
from cxloop.analytics.transports import EngineError

LOADING = "loading"  # engine_meta: the id range of a load in progress
log = logging.getLogger(__name__)
RELAYOUT = "events_relayout"  # the events copied into a new order, before the swap


class ClickHouseStore:
    """Schema and writes of ``engine.ClickHouseEngine`` (mixed in)."""

    transport: Any

    def setup(self) -> None:
        for statement in ch.SCHEMA:
            self.transport.command(statement)
        # a relayout cut short leaves its copy: the events table is whole either way
        self.transport.command(f"DROP TABLE IF EXISTS {RELAYOUT} SYNC")
        if self._events_order() != ch.EVENTS_ORDER.strip("()"):
            # the bucket first, computed on read in the old order (no copy): a sample's
            # questions answer even when the copy below cannot be made
            self.transport.command(
                "ALTER TABLE events ADD COLUMN IF NOT EXISTS bucket UInt16 "
                f"MATERIALIZED {sampling.BUCKET_SQL}"
            )
            log.warning("analytics engine: copying the events into the sample order (once)")
            try:
                self.relayout()
            except EngineError as exc:  # no room for a second copy, no atomic exchange...
                log.error(
                    "analytics engine: the events stay in their old order, samples read all "
                    "of them (%s); the copy is tried again at the next start",
                    exc,
                )
                self.transport.command(f"DROP TABLE IF EXISTS {RELAYOUT} SYNC")
                for statement in ch.SCHEMA:  # the view of customer days, if it was dropped
                    self.transport.command(statement)

    def _events_order(self) -> str:
        rows = self.transport.query(
            "SELECT sorting_key FROM system.tables "
            "WHERE database = currentDatabase() AND name = 'events'"
        )
        return str(rows[0][0]) if rows else ""

    def relayout(self) -> None:
        """Copy a store made before ``ch.EVENTS_ORDER`` into that order (the events sorted by
        customer only: a sample read every part of them). One copy of the events on the side,
        then swapped in; the materialized view of customer days is made again on the new table
        (a view follows the table it was made on, wherever it is renamed). 2 s at 10M events."""
        columns = ", ".join(ch.EVENT_COLUMNS)
        create = ch.SCHEMA[0].replace("IF NOT EXISTS events (", f"{RELAYOUT} (", 1)
        self.transport.command(create)
        self.transport.command(
            f"INSERT INTO {RELAYOUT} ({columns}) SELECT {columns} FROM events"  # noqa: S608
        )
        self.transport.command("DROP VIEW IF EXISTS customer_days_mv")
        self.transport.command(f"EXCHANGE TABLES events AND {RELAYOUT}")
        self.transport.command(f"DROP TABLE {RELAYOUT} SYNC")  # its files now, not in 8 min
        for statement in ch.SCHEMA:
            self.transport.command(statement)

    def drop(self) -> None:
        for table in ch.TABLES:
            self.transport.command(f"DROP TABLE IF EXISTS {table}")

    def held_ids(self, *, workspace_id: int, first: int, last: int) -> set[int]:
        sql = ch.bind(ch.KEYS_IN_RANGE, {"workspace": workspace_id, "first": first, "last": last})
        return {row[0] for row in self.transport.query(sql)}

    def load(self, rows: Sequence[Sequence], *, check: bool = True) -> int:
        """Insert ``events.selectors.engine_rows`` rows the engine does not hold yet (by event
        id); returns how many went in. ``check=False`` trusts the caller that none is held."""
        if not rows:
            return 0
        unique = {row[1]: row for row in rows}  # an id named twice in one call goes in once
        if len(unique) < len(rows):
            rows = list(unique.values())
        if check:
            held: set[int] = set()
            by_workspace: dict[int, list[int]] = {}
            for row in rows:
                by_workspace.setdefault(row[0], []).append(row[1])
            for workspace_id, ids in by_workspace.items():
                held |= self.held_ids(workspace_id=workspace_id, first=min(ids), last=max(ids))
            rows = [row for row in rows if row[1] not in held]
            if not rows:
                return 0
        prepared = [ch.event_row(row) for row in rows]
        # the keys go in after the events: a load cut short between the two leaves events
        # without keys, which ``repair`` drops at the owner's next start (the range in flight
        # is noted first), and the retry copies them again
        ids = [r[3] for r in prepared]
        self.meta_set(LOADING, f"{min(ids)}:{max(ids)}")
        self.transport.insert("events", ch.EVENT_COLUMNS, prepared)
        self.transport.insert(
            "event_keys",
            ("id", "workspace_id", "customer_id"),
            [(r[3], r[0], r[1]) for r in prepared],
        )
        self.meta_set(LOADING, "")
        return len(prepared)

    def forget_customers(self, *, workspace_id: int, customer_ids: Sequence[int]) -> None:
        """Drop every row of these customers (before their events are copied again)."""
        params = {"workspace": workspace_id, "ids": list(customer_ids)}
        for table in ("events", "event_keys", "customer_days"):
            self.transport.command(
                ch.bind(
                    f"DELETE FROM {table} WHERE workspace_id = {{workspace}} "  # noqa: S608
                    "AND customer_id IN {ids}",
                    params,
                )
            )

    def repair(self) -> bool:
        """After a load was cut short (the process killed between its two inserts), drop the
        events of its id range that have no key; True when there was one to repair."""
        loading = self.meta_get(LOADING)
        if not loading:
            return False
        first, last = (int(part) for part in loading.split(":"))
        self.transport.command(
            ch.bind(
                "DELETE FROM events WHERE id BETWEEN {first} AND {last} AND id NOT IN "
                "(SELECT id FROM event_keys WHERE id BETWEEN {first} AND {last})",
                {"first": first, "last": last},
            )
        )
        self.meta_set(LOADING, "")
        return True

    def meta_get(self, key: str) -> str | None:
        rows = self.transport.query(
            ch.bind("SELECT value FROM engine_meta FINAL WHERE key = {k}", {"k": key})
        )
        return rows[0][0] if rows and rows[0][0] else None

    def meta_set(self, key: str, value: str) -> None:
        self.transport.command(
            ch.bind("INSERT INTO engine_meta VALUES ({k}, {v})", {"k": key, "v": value})
        )

    def held_count(self) -> int:
        rows = self.transport.query("SELECT count() FROM event_keys")
        return int(rows[0][0]) if rows else 0
